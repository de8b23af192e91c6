// DESIGN.md §5 step 4: what /ipxe boots for a machine, from cached objects only (pure).
#pragma once

#include "kube/objects.hpp"
#include "serverclass/reconciler.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::discovery {

struct EnvironmentBoot {
  std::string name;
  std::string kernel_url;  // spec.kernel.url as written (http, https or file); the integrator
  std::string initrd_url;  // maps it to the cached /assets/... copy
  std::vector<std::string> args;
};

struct BootChoice {
  enum class Kind { agent, environment, disk };
  Kind kind = Kind::agent;
  std::string reason;  // for the debug log: "unknown server", "not clean", "environment talos", ...
  EnvironmentBoot environment;  // kind == environment
  std::string disk_method;      // kind == disk: ipxe-exit | http-404 | ipxe-sanboot
  // Conditions to record on the Server (AmbiguousClass set or cleared); empty when the
  // object already says so.
  std::vector<objects::Condition> server_conditions;
};
const char* to_string(BootChoice::Kind kind);

using ObjectLookup = std::function<const boost::json::object*(std::string_view name)>;

struct BootInputs {
  const boost::json::object* server = nullptr;          // nullptr: no Server for this machine
  std::vector<const boost::json::object*> classes;      // every ServerClass, with its status lists
  ObjectLookup environment;                             // Environment by name (nullptr when absent)
  std::string default_disk_method = "ipxe-exit";        // discovery.boot_from_disk_method
  // When set, class membership comes from these (fresh reconcile() results) instead of the
  // classes' status lists, which lag until the status write comes back through the cache.
  const std::vector<serverclass::ClassStatus>* memberships = nullptr;
};

// - no Server, not accepted, or not clean -> agent;
// - Environment = Server's environmentRef, else that of the one class (listing the Server in
//   serversAvailable/serversInUse) that has one; several such classes -> AmbiguousClass + agent;
// - an Environment that is missing or not Ready -> agent (it waits, no reboot loop);
// - pxeBootAlways, or not yet booted from it (PXEBooted True naming it) -> the Environment;
// - otherwise boot from disk: Server's bootFromDiskMethod, else the class's, else the default.
BootChoice decide_boot(const BootInputs& inputs);

// Status merge patch when the Environment's kernel was served to the Server: PXEBooted True,
// message = Environment name (how decide_boot knows it already booted from it).
boost::json::object status_for_pxe_booted(const boost::json::object& server, std::string_view environment,
                                          std::string_view now);

// The status merge patch recording `choice.server_conditions`, or nullopt when there are none.
std::optional<boost::json::object> status_for_boot_choice(const boost::json::object& server, const BootChoice& choice,
                                                          std::string_view now);

}  // namespace ironboot::discovery
