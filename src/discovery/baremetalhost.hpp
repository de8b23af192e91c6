// Metal3's BareMetalHost as an operator's registration (docs/bmc.md "BareMetalHost"): the pure
// part of its controller. From the host, whether its credentials Secret was read, the Server
// its boot MAC matches and the outcome of the BMC's "PXE once + power on", `reconcile_bmh`
// says what to write and what to do: the host's status in Metal3's terms, the link to the
// Server, the Server's spec.bmc, and whether to power the host on into PXE. No I/O here.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace ironboot::discovery {

// What the shell knows about one host when it reconciles it.
struct BmhInput {
  boost::json::object host;                    // the BareMetalHost
  std::optional<std::string> credentials_error;  // the Secret could not be read or lacks a key
  const boost::json::object* server = nullptr; // the Server whose interfaces carry bootMACAddress
  bool power_on_sent = false;                  // PXE once + power on done for this host already
                                               // (also when its status is past registering)
  std::optional<std::string> bmc_error;        // that BMC operation failed: "Reason: message"
  // The power state the controller last read from the BMC itself (before a Server is linked;
  // after, the Server's status.power says it).
  std::optional<bool> bmc_powered_on;
};

struct BmhPlan {
  boost::json::object status;  // the host's whole status, as it should be
  bool power_on_pxe = false;   // set PXE once, then power on (registration; only when online)
  // online: false and the BMC says on (no Server linked yet; after, its BMC controller does
  // it): power off, as Metal3 keeps such a host off.
  bool power_off = false;
  // The Server the host is linked to (its name, also status.provisioning.ID); "" none yet.
  std::string link_server;
  // The Server's spec.bmc from the host's bmc block (endpoint, insecureSkipVerify, userFrom /
  // passFrom on the Secret); empty when there is no Server to give it.
  boost::json::object server_bmc;
};

// A Server whose spec.hardware.network.interfaces has `mac` (any case, ':' or '-').
bool server_has_mac(const boost::json::object& server, std::string_view mac);
// "52:54:00:AB:..", "52-54-00-ab-.." -> "525400ab...": the form MACs are compared in.
std::string mac_key(std::string_view mac);
// The mac_key of every interface of the Server's spec.hardware.network (12 hex digits only).
std::vector<std::string> server_mac_keys(const boost::json::object& server);

// Metal3's HardwareDetails from a Server's spec.hardware (docs/agent-api.md units: module
// sizes MB, device sizes bytes, speeds MHz).
boost::json::object hardware_details(const boost::json::object& hardware, std::string_view boot_mac);

// The install target the hints select among the Server's storage devices: the first device
// every given hint matches, or nullopt. No hints select the first device.
std::optional<std::string> select_install_target(const boost::json::object& hints, const boost::json::object& hardware);

BmhPlan reconcile_bmh(const BmhInput& in);

// Annotations on the linked Server: the host it belongs to ("namespace/name") and the install
// disk its rootDeviceHints chose.
inline constexpr const char* kBmhAnnotation = "ironboot.dev/baremetalhost";
inline constexpr const char* kInstallDiskAnnotation = "ironboot.dev/install-disk";

// The merge patch that makes the linked Server reflect the host, or an empty object when it
// already does: the host counts as the operator's registration (spec.accepted true), its
// `online` is the Server's spec.online, spec.bmc comes from the host unless the Server has
// one of its own (one without the link annotation), and the two annotations above.
boost::json::object server_link_patch(const boost::json::object& host, const boost::json::object& server,
                                      const BmhPlan& plan);

// The merge patch that removes the two annotations above from a Server linked to the host
// `host_key` ("namespace/name") once that host is deleted, or an empty object when the Server
// is not (or no longer) that host's. Nothing else of the Server changes: what the link set
// (accepted, online, spec.bmc) is the Server's own from then on.
boost::json::object server_unlink_patch(std::string_view host_key, const boost::json::object& server);

}  // namespace ironboot::discovery
