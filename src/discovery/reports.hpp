// Validation of agent request bodies (docs/agent-api.md). Each parser takes the raw body and
// returns the typed report or a RequestError whose message names the JSON path; it never
// throws, whatever the input.
#pragma once

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ironboot::discovery {

inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
inline constexpr std::size_t kMaxStringLength = 1024;
inline constexpr std::size_t kMaxListLength = 4096;

struct RequestError {
  int status = 400;     // 400 (schema), 413 (too large)
  std::string message;  // "hardware.compute.processors[1].coreCount: must be an integer"
};

struct PciDevice {
  std::string address, vendor, device, device_class, description;
};

// The BMC the agent found in-band (IPMI LAN configuration over KCS); docs/bmc.md.
struct InbandBmc {
  std::int64_t channel = 0;
  std::string ip_source;  // static | dhcp | bios | other | unspecified
  std::string address, netmask, gateway, mac;
  std::int64_t port = 623;
};
// The BMC user the agent set up after a register answer with "bmcSetup": true.
struct InbandBmcCredentials {
  std::string username, password;
};

// The answer to a TPM credential challenge (docs/tpm-identity.md), "tpm" in a register.
struct TpmProof {
  std::string challenge;      // the challenge id
  std::vector<std::uint8_t> secret;  // what ActivateCredential recovered
};

// POST challenge: the machine's EK and a fresh AK, TPMT_PUBLIC bytes each.
struct ChallengeRequest {
  std::vector<std::uint8_t> ek_public, ak_public;
};

struct RegisterReport {
  std::string uuid;       // canonical lower case; "" when the agent sent none or an empty one
  std::string boot_mac;   // canonical lower case with colons
  std::string boot_mode;  // "BIOS" | "UEFI" | ""
  // spec.hardware with every known field present (missing strings "", numbers 0, lists []),
  // so writing it replaces the previous boot's facts completely.
  boost::json::object hardware;
  std::string firmware_vendor, firmware_version, firmware_date;
  std::vector<PciDevice> pci;
  std::optional<InbandBmc> bmc;                           // "bmc"
  std::optional<InbandBmcCredentials> bmc_credentials;    // "bmcCredentials"
  std::optional<TpmProof> tpm;                            // "tpm"

  std::string_view serial_number() const;
  std::vector<std::string> interface_macs() const;  // canonical
};

struct WipedReport {
  std::string mode;  // fast | full | secure
  std::vector<std::string> devices;
  std::vector<std::string> failed;   // "/dev/sdb: verification: non-zero data at offset 0"
  std::vector<std::string> skipped;  // "/dev/sda (usb)"
  std::string wipe_id;  // the wipe instruction's one-time "wipeId" ("" when absent)
};

struct ProgressReport {
  std::string device;
  std::uint64_t done = 0;
  std::uint64_t total = 0;
};

struct Address {
  std::string type;  // InternalIP, ExternalIP, Hostname, ...
  std::string address;
};
struct AddressesReport {
  std::vector<Address> addresses;
};

template <class T>
using Parsed = std::variant<T, RequestError>;

Parsed<RegisterReport> parse_register(std::string_view body, std::size_t max_bytes = kMaxBodyBytes);
Parsed<ChallengeRequest> parse_challenge_request(std::string_view body, std::size_t max_bytes = kMaxBodyBytes);
Parsed<WipedReport> parse_wiped(std::string_view body, std::size_t max_bytes = kMaxBodyBytes);
Parsed<ProgressReport> parse_progress(std::string_view body, std::size_t max_bytes = kMaxBodyBytes);
Parsed<AddressesReport> parse_addresses(std::string_view body, std::size_t max_bytes = kMaxBodyBytes);

}  // namespace ironboot::discovery
