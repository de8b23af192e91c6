// Parsing and validation of the /ipxe query string (pure; fuzzed).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ipxe/boot_policy.hpp"

namespace ironboot {

struct BootQueryResult {
  std::optional<BootQuery> query;
  std::string error;  // why it was refused, when query is empty; safe to log (no raw input)
};

// Longest query string accepted; iPXE's own URLs stay far below it.
constexpr std::size_t kMaxBootQueryBytes = 2048;
// Longest SMBIOS free-text value kept (serial, manufacturer, product).
constexpr std::size_t kMaxSmbiosValueBytes = 128;

// `raw` is the part after '?', still percent-encoded. Required: uuid (canonical 8-4-4-4-12
// hex), mac (6 octets, '-' or ':' separated), arch (iPXE ${buildarch}). Optional: platform
// (pcbios, efi), serial, manufacturer, product. A key given twice is an error; unknown keys
// are ignored so newer scripts keep working.
BootQueryResult parse_boot_query(std::string_view raw);

// Canonical lower-case forms, or nullopt.
std::optional<std::string> canonical_uuid(std::string_view text);
std::optional<std::string> canonical_mac(std::string_view text);

}  // namespace ironboot
