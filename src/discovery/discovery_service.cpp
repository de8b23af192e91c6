#include "discovery/discovery_service.hpp"

#include "common/config.hpp"
#include "common/log.hpp"
#include "discovery/agent_api.hpp"
#include "discovery/bmc_controller.hpp"
#include "discovery/cluster_boot_policy.hpp"
#include "discovery/environments.hpp"
#include "discovery/reconcile_runner.hpp"
#include "discovery/token.hpp"
#include "ipxe/http_service.hpp"
#include "kube/cluster_context.hpp"
#include "kube/cluster_service.hpp"
#include "kube/objects.hpp"

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <optional>
#include <system_error>

namespace ironboot {

namespace {

class AgentTokenIssuer final : public BootTokenIssuer {
 public:
  explicit AgentTokenIssuer(const std::optional<discovery::TokenAuthority>& tokens) : tokens_(tokens) {}
  // No key loaded yet: no token (the agent command line then has no ironboot.token=).
  std::string issue(const std::string& uuid, const std::string& mac) override {
    return tokens_ ? tokens_->issue(uuid, mac) : std::string{};
  }

 private:
  const std::optional<discovery::TokenAuthority>& tokens_;
};

class DiscoveryService final : public Service {
 public:
  DiscoveryService(boost::asio::io_context& io, const Config& config, HttpService& http, ClusterService& cluster,
                   std::shared_ptr<bmc::BmcClientFactory> bmc_factory)
      : config_(config),
        cluster_(cluster),
        environments_(io, discovery::EnvironmentOptions::from(config), clock_, [this] { agent_.recheck_polls(); }),
        reconciler_(io, clock_, [this] { agent_.recheck_polls(); }),
        policy_(std::make_shared<discovery::ClusterBootPolicy>(config.discovery.boot_from_disk_method, clock_,
                                                               reconciler_, environments_)),
        agent_(io, discovery::AgentApiOptions{config.discovery.auto_accept, {config.discovery.wipe}}, clock_,
               [policy = policy_.get()](const boost::json::object* server) {
                 return policy->decide_for_server(server).kind == BootDecision::Kind::agent;
               }) {
    if (bmc_factory) {
      // The lifecycle state as the boot policy sees it: the Environment it would boot now.
      bmc_.emplace(io, std::move(bmc_factory), discovery::BmcControllerOptions::from(config), clock_,
                   [policy = policy_.get()](const boost::json::object& server) {
                     const auto d = policy->decide_for_server(&server);
                     return d.kind == BootDecision::Kind::environment ? d.environment_name
                                                                      : std::string(objects::environment_ref_name(server));
                   });
      agent_.set_register_hook([this](const std::string& server, const discovery::RegisterReport& report) {
        return bmc_->on_register(server, report);
      });
    }
    agent_.register_routes(http.router());
    environments_.register_routes(http.router());
    http.set_boot_policy(policy_);
    http.set_token_issuer(std::make_shared<AgentTokenIssuer>(tokens_));
    http.readiness().add("discovery", [this] { return ready(); });
  }

  const char* name() const override { return "discovery"; }

  std::string start() override {
    const std::string& dir = config_.cluster.embedded.data_dir;
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      std::filesystem::create_directories(dir, ec);
      if (ec) return "discovery: cannot create " + dir + ": " + ec.message();
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    discovery::PosixFileSystem fs;
    auto loaded = discovery::load_or_create_key(fs, dir + "/agent-token.key", discovery::openssl_random());
    if (!loaded.key) return "discovery: agent token key: " + loaded.error;
    if (loaded.created) logger("discovery")->info("agent token key created path={}/agent-token.key", dir);
    tokens_.emplace(*loaded.key, clock_);

    context_ = cluster_.context();
    if (!context_) return "discovery: the cluster layer is not running";
    policy_->start(*context_);
    environments_.start(*context_);
    reconciler_.start(*context_);
    agent_.start(*context_, *tokens_);
    if (bmc_) bmc_->start(*context_);
    logger("discovery")->info("discovery started auto_accept={} wipe={} boot_from_disk_method={}",
                              config_.discovery.auto_accept, to_string(config_.discovery.wipe),
                              to_string(config_.discovery.boot_from_disk_method));
    return {};
  }

  void stop() override {
    if (bmc_) bmc_->stop();
    reconciler_.stop();
    environments_.stop();
    agent_.stop();
  }

  bool idle() const override { return agent_.idle(); }

 private:
  bool ready() const { return tokens_.has_value() && context_ != nullptr && context_->synced(); }

  Config config_;
  ClusterService& cluster_;
  kube::ClusterContext* context_ = nullptr;
  discovery::SystemClock clock_;
  std::optional<discovery::TokenAuthority> tokens_;
  discovery::EnvironmentCache environments_;
  discovery::ReconcileRunner reconciler_;
  std::shared_ptr<discovery::ClusterBootPolicy> policy_;
  discovery::AgentApi agent_;
  std::optional<discovery::BmcController> bmc_;  // with a BMC client factory only
};

}  // namespace

std::unique_ptr<Service> make_discovery_service(boost::asio::io_context& io, const Config& config, HttpService& http,
                                                ClusterService& cluster,
                                                std::shared_ptr<bmc::BmcClientFactory> bmc_factory) {
  return std::make_unique<DiscoveryService>(io, config, http, cluster, std::move(bmc_factory));
}

}  // namespace ironboot
