// What every BMC protocol client offers the rest of ironboot: power state, power actions and
// the next boot device, over IPMI 2.0 (RMCP+, UDP 623) or Redfish (HTTPS), with the same
// callbacks. Clients run on the io_context thread; every operation completes exactly once,
// with a timeout, and never throws. docs/bmc.md describes both protocols.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace ironboot::bmc {

enum class Protocol { Ipmi, Redfish };
enum class PowerState { On, Off, Unknown };
// Off is a hard power-off; SoftOff asks the OS (ACPI) to shut down.
enum class PowerAction { On, Off, SoftOff, Cycle, HardReset };
enum class BootDevice { Pxe, Disk };
enum class BootMode { Uefi, Legacy };

struct BootOverride {
  BootDevice device = BootDevice::Pxe;
  BootMode mode = BootMode::Uefi;
  bool persistent = false;  // false: the next boot only
};

// Where a BMC is and how to talk to it, from the Server's spec.bmc (endpoint.hpp parses it).
struct BmcEndpoint {
  Protocol protocol = Protocol::Ipmi;
  std::string host;                 // IP literal or DNS name (no brackets)
  std::uint16_t port = 623;         // 623 for IPMI; 443 (https) or 80 (http) for Redfish
  bool tls = true;                  // Redfish: https (redfish://) or http (redfish+http://)
  std::string system_path;          // Redfish: e.g. /redfish/v1/Systems/1; "" = the first member
  bool insecure_skip_verify = false;  // Redfish: do not verify the BMC's certificate
  std::optional<int> cipher_suite;  // IPMI: 3 or 17; nullopt = auto (17, then 3)
  std::string ca_file;              // Redfish: extra CA bundle ("" = system store only)

  bool operator==(const BmcEndpoint&) const = default;
};

struct BmcCredentials {
  std::string username;
  std::string password;
  bool operator==(const BmcCredentials&) const = default;
};

// The outcome of one operation. `reason` is one word for conditions and metrics:
// Timeout, Unreachable, AuthFailed, Unsupported, Rejected (the BMC answered with an error),
// Protocol (malformed answer), Busy (session limit), TLS.
struct BmcStatus {
  std::string reason;   // "" on success
  std::string message;  // human text, e.g. "Chassis Control: completion code 0xcc"
  bool ok() const { return reason.empty(); }
  static BmcStatus success() { return {}; }
  static BmcStatus failure(std::string reason, std::string message) { return {std::move(reason), std::move(message)}; }
};

using StatusHandler = std::function<void(BmcStatus)>;
using PowerHandler = std::function<void(BmcStatus, PowerState)>;

class BmcClient {
 public:
  virtual ~BmcClient() = default;
  virtual void power_status(PowerHandler done) = 0;
  virtual void power(PowerAction action, StatusHandler done) = 0;
  virtual void set_next_boot(BootOverride boot, StatusHandler done) = 0;
  // Ends the session (IPMI Close Session, Redfish logout); later calls open a new one.
  // Pending operations complete with reason "Cancelled".
  virtual void close() = 0;
};

// Makes the client for one BMC (a real one, or a fake in tests).
class BmcClientFactory {
 public:
  virtual ~BmcClientFactory() = default;
  virtual std::shared_ptr<BmcClient> make(const BmcEndpoint& endpoint, const BmcCredentials& credentials) = 0;
};

const char* to_string(PowerState state);    // "on" | "off" | "unknown" (status.power)
const char* to_string(PowerAction action);  // "on" | "off" | "soft-off" | "cycle" | "hard-reset"

}  // namespace ironboot::bmc
