// What /ipxe boots for a machine, from cached objects only (pure); docs/discovery.md "Boot decision".
#pragma once

#include "ipxe/boot_policy.hpp"
#include "kube/objects.hpp"
#include "serverclass/reconciler.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::discovery {

using ObjectLookup = std::function<const boost::json::object*(std::string_view name)>;

struct BootInputs {
  const boost::json::object* server = nullptr;          // nullptr: no Server for this machine
  std::vector<const boost::json::object*> classes;      // every ServerClass, with its status lists
  ObjectLookup environment;                             // Environment by name (nullptr when absent)
  DiskBootMethod default_disk_method = DiskBootMethod::ipxe_exit;  // discovery.boot_from_disk_method
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
// An environment decision carries the Environment's name and its spec.kernel / spec.initrd
// URLs as written (http, https or file); the discovery service points them at its cached
// /assets/environments/ copy. `server_conditions`, when given, is set to the conditions to
// record on the Server (AmbiguousClass set or cleared), empty when the object already says so.
BootDecision decide_boot(const BootInputs& inputs, std::vector<objects::Condition>* server_conditions = nullptr);

// Status merge patch when the Environment's kernel was served to the Server: PXEBooted True,
// message = Environment name (how decide_boot knows it already booted from it).
boost::json::object status_for_pxe_booted(const boost::json::object& server, std::string_view environment,
                                          std::string_view now);

// The status merge patch recording `conditions` (from decide_boot), or nullopt when there are none.
std::optional<boost::json::object> status_for_server_conditions(const boost::json::object& server,
                                                                const std::vector<objects::Condition>& conditions,
                                                                std::string_view now);

}  // namespace ironboot::discovery
