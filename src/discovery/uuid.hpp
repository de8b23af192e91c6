// Server naming: SMBIOS UUIDs in canonical lower-case form, and a UUIDv5 from the boot MAC
// when the firmware has no usable UUID.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ironboot::discovery {

// "4C4C4544-0042-3510-8051-B7C04F4E4D32" or 32 hex digits -> "4c4c4544-0042-3510-8051-b7c04f4e4d32".
std::optional<std::string> canonical_uuid(std::string_view text);
// "52:54:00:12:34:56" / "52-54-00-12-34-56" / "525400123456" (any case) -> "52:54:00:12:34:56".
std::optional<std::string> canonical_mac(std::string_view text);

// All zeros or all FF: firmware that did not fill in SMBIOS type 1.
bool is_placeholder_uuid(std::string_view canonical);

// RFC 4122 name-based UUID (version 5, SHA-1). `namespace_uuid` must be canonical.
std::string uuid_v5(std::string_view namespace_uuid, std::string_view name);
inline constexpr std::string_view kDnsNamespace = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";

struct ServerIdentity {
  std::string name;        // the Server object's name
  bool synthetic = false;  // derived from the MAC: condition SyntheticUUID
};
// `uuid` canonical or empty; `boot_mac` canonical.
ServerIdentity server_identity(std::string_view uuid, std::string_view boot_mac);
// The synthetic name alone: UUIDv5(DNS, "ironboot:<mac>").
std::string synthetic_server_name(std::string_view boot_mac);

}  // namespace ironboot::discovery
