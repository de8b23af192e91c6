// The boot policy /ipxe asks: decide_boot over the informer caches, with the class
// memberships of the last reconcile and the Environment URLs pointed at the copies this
// process serves (an Environment not fetched here boots the agent, which waits). A decision
// that is not a probe records AmbiguousClass when it changes and the Event BootFromDisk
// (queued only: /ipxe never waits on the API). PXEBooted and BootEnvironment are recorded by
// kernel_fetched, when the machine fetches the Environment's kernel with the script's
// ticket. Runs on the io_context thread.
#pragma once

#include "discovery/boot_decision.hpp"
#include "discovery/cluster_access.hpp"
#include "discovery/environment.hpp"
#include "ipxe/boot_policy.hpp"
#include "kube/objects.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

class EnvironmentCache;
class ReconcileRunner;

class ClusterBootPolicy final : public BootPolicy {
 public:
  ClusterBootPolicy(DiskBootMethod default_disk_method, const Clock& clock, const ReconcileRunner& reconciler,
                    const EnvironmentCache& environments);

  // Until start() every machine boots the agent.
  void start(kube::ClusterContext& cluster);

  BootDecision decide(const BootQuery& query) const override;
  // The Environment's kernel was fetched with a valid ticket for (uuid, mac, environment):
  // PXEBooted and BootEnvironment, when the Server still boots that Environment (true then).
  bool kernel_fetched(std::string_view uuid, std::string_view mac, const std::string& environment,
                      std::string_view peer) const;
  // What decide() answers for this Server (null: none), recording nothing.
  BootDecision decide_for_server(const boost::json::object* server,
                                 std::vector<objects::Condition>* server_conditions = nullptr) const;

 private:
  DiskBootMethod default_disk_method_;
  const Clock& clock_;
  const ReconcileRunner& reconciler_;
  const EnvironmentCache& environments_;
  kube::ClusterContext* cluster_ = nullptr;
  kube::EventReporter events_;
};

}  // namespace ironboot::discovery
