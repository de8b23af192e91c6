#include "discovery/cluster_boot_policy.hpp"

#include "common/log.hpp"
#include "common/time.hpp"
#include "discovery/cluster_access.hpp"
#include "discovery/environments.hpp"
#include "discovery/reconcile_runner.hpp"
#include "discovery/server_object.hpp"
#include "kube/cluster_context.hpp"

namespace ironboot::discovery {

namespace json = boost::json;

ClusterBootPolicy::ClusterBootPolicy(DiskBootMethod default_disk_method, const Clock& clock,
                                     const ReconcileRunner& reconciler, const EnvironmentCache& environments)
    : default_disk_method_(default_disk_method), clock_(clock), reconciler_(reconciler), environments_(environments) {}

void ClusterBootPolicy::start(kube::ClusterContext& cluster) {
  cluster_ = &cluster;
  events_ = discovery_events(cluster);
}

BootDecision ClusterBootPolicy::decide_for_server(const json::object* srv,
                                                 std::vector<objects::Condition>* conditions) const {
  BootInputs in;
  in.server = srv;
  if (cluster_) {
    for (const auto& c : cluster_->serverclasses().objects()) in.classes.push_back(c.get());  // held by the cache
    in.environment = [cluster = cluster_](std::string_view name) { return cached(cluster->environments(), name); };
  }
  in.default_disk_method = default_disk_method_;
  in.memberships = reconciler_.memberships();
  BootDecision decision = decide_boot(in, conditions);
  if (decision.kind != BootDecision::Kind::environment) return decision;
  // An Environment Ready in the API but not (yet) fetched by this process cannot be served.
  const std::string& name = decision.environment_name;
  std::string kernel = environments_.asset_path(name, true);
  if (kernel.empty()) return BootDecision::agent("environment " + name + " not fetched yet");
  decision.environment.kernel_url = std::move(kernel);
  if (!decision.environment.initrd_url.empty()) decision.environment.initrd_url = environments_.asset_path(name, false);
  return decision;
}

BootDecision ClusterBootPolicy::decide(const BootQuery& query) const {
  const auto lookup = [this](std::string_view name) { return cluster_ ? cached(cluster_->servers(), name) : nullptr; };
  const std::string name = server_name_for_agent(query.uuid, query.mac, lookup);
  const json::object* srv = lookup(name);
  std::vector<objects::Condition> conditions;
  BootDecision decision = decide_for_server(srv, &conditions);
  auto log = logger("discovery");
  log->debug("boot decision={} reason=\"{}\" server={} uuid={} mac={}", to_string(decision.kind), decision.reason,
             name, query.uuid, query.mac);
  if (query.probe || !srv) return decision;  // a HEAD probe records nothing
  const std::string stamp = format_rfc3339(clock_.now());
  if (!conditions.empty()) {
    write_status(cluster_->writes(), "servers", name, [conditions, stamp](const json::object& current) {
      return status_for_server_conditions(current, conditions, stamp);
    });
  }
  // An Environment decision records nothing here: anyone may ask /ipxe. The boot counts when
  // the machine fetches the kernel with the script's ticket (kernel_fetched).
  if (decision.kind == BootDecision::Kind::disk)
    events_.normal(*srv, "BootFromDisk", std::string("boot from disk, method ") + to_string(decision.disk_method));
  return decision;
}

}  // namespace ironboot::discovery

namespace ironboot::discovery {

bool ClusterBootPolicy::kernel_fetched(std::string_view uuid, std::string_view mac, const std::string& environment,
                                       std::string_view peer) const {
  if (!cluster_) return false;
  const auto lookup = [this](std::string_view name) { return cached(cluster_->servers(), name); };
  const std::string name = server_name_for_agent(uuid, mac, lookup);
  const json::object* srv = lookup(name);
  auto log = logger("discovery");
  if (!srv) return false;
  // A ticket from before the operator changed the Server's Environment boots nothing new.
  const BootDecision decision = decide_for_server(srv);
  if (decision.kind != BootDecision::Kind::environment || decision.environment_name != environment) {
    log->info("environment kernel fetched, not recorded server={} environment={} reason=\"{}\" peer={}", name,
              environment, "the Server no longer boots it", peer);
    return false;
  }
  log->info("environment booted server={} environment={} peer={}", name, environment, peer);
  events_.normal(*srv, "BootEnvironment", "environment " + environment + " kernel fetched from " + std::string(peer));
  const std::string stamp = format_rfc3339(clock_.now());
  write_status(cluster_->writes(), "servers", name, [environment, stamp](const json::object& current) {
    return std::optional<json::object>(status_for_pxe_booted(current, environment, stamp));
  });
  return true;
}

}  // namespace ironboot::discovery
