#include "discovery/discovery_service.hpp"

#include "common/config.hpp"
#include "common/log.hpp"
#include "discovery/agent_api.hpp"
#include "discovery/agent_session.hpp"
#include "discovery/bmc_controller.hpp"
#include "discovery/bmh_controller.hpp"
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
  AgentTokenIssuer(const std::optional<discovery::AgentSessions>& sessions, discovery::MintRateLimiter& limiter)
      : sessions_(sessions), limiter_(limiter) {}
  // No key loaded yet: no token (the agent command line then has no ironboot.token=).
  BootTokenIssue issue(const BootQuery& query) override {
    if (!sessions_) return {};
    if (!query.probe && !limiter_.allow(query.peer_address)) return BootTokenIssue{{}, true};
    auto minted = sessions_->mint_boot(query.uuid, query.mac, query.peer_address);
    if (!minted) return {};
    return BootTokenIssue{std::move(minted->token), false};
  }
  std::string kernel_ticket(const BootQuery& query, const std::string& environment) override {
    return sessions_ ? sessions_->mint_ticket(query.uuid, query.mac, environment, query.peer_address) : std::string{};
  }

 private:
  const std::optional<discovery::AgentSessions>& sessions_;
  discovery::MintRateLimiter& limiter_;
};

class DiscoveryService final : public Service {
 public:
  DiscoveryService(boost::asio::io_context& io, const Config& config, HttpService& http, ClusterService& cluster,
                   std::shared_ptr<bmc::BmcClientFactory> bmc_factory)
      : config_(config),
        cluster_(cluster),
        limiter_(clock_, config.discovery.boot_tokens_per_minute),
        environments_(io, discovery::EnvironmentOptions::from(config), clock_, [this] { agent_.recheck_polls(); }),
        reconciler_(io, clock_, [this] { agent_.recheck_polls(); }),
        policy_(std::make_shared<discovery::ClusterBootPolicy>(config.discovery.boot_from_disk_method, clock_,
                                                               reconciler_, environments_)),
        agent_(io, discovery::AgentApiOptions::from(config), clock_,
               [policy = policy_.get()](const boost::json::object* server) {
                 return policy->decide_for_server(server).kind == BootDecision::Kind::agent;
               }) {
    if (bmc_factory) {
      auto bmc_factory_for_hosts = bmc_factory;
      // The lifecycle state as the boot policy sees it: the Environment it would boot now.
      bmc_.emplace(io, std::move(bmc_factory), discovery::BmcControllerOptions::from(config), clock_,
                   [policy = policy_.get()](const boost::json::object& server) {
                     const auto d = policy->decide_for_server(&server);
                     return d.kind == BootDecision::Kind::environment ? d.environment_name
                                                                      : std::string(objects::environment_ref_name(server));
                   });
      bmh_.emplace(io, bmc_factory_for_hosts, discovery::BmhControllerOptions::from(config));
      agent_.set_register_hook([this](const std::string& server, const discovery::RegisterReport& report) {
        return bmc_->on_register(server, report);
      });
    }
    agent_.register_routes(http.router());
    environments_.register_routes(http.router());
    environments_.on_kernel_fetched([this](const http::Request& request, const std::string& environment) {
      kernel_fetched(request, environment);
    });
    http.set_boot_policy(policy_);
    http.set_token_issuer(std::make_shared<AgentTokenIssuer>(sessions_, limiter_));
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
    discovery::SessionOptions options;
    options.boot_token_ttl = std::chrono::seconds(config_.discovery.boot_token_ttl_seconds);
    options.session_ttl = std::chrono::seconds(config_.discovery.session_ttl_seconds);
    sessions_.emplace(*loaded.key, clock_, discovery::openssl_random(), options);

    context_ = cluster_.context();
    if (!context_) return "discovery: the cluster layer is not running";
    policy_->start(*context_);
    environments_.start(*context_);
    reconciler_.start(*context_);
    agent_.start(*context_, *sessions_, discovery::openssl_random());
    if (bmc_) bmc_->start(*context_);
    if (bmh_) bmh_->start(*context_);
    logger("discovery")->info("discovery started auto_accept={} wipe={} boot_from_disk_method={}",
                              config_.discovery.auto_accept, to_string(config_.discovery.wipe),
                              to_string(config_.discovery.boot_from_disk_method));
    return {};
  }

  void stop() override {
    if (bmh_) bmh_->stop();
    if (bmc_) bmc_->stop();
    reconciler_.stop();
    environments_.stop();
    agent_.stop();
  }

  bool idle() const override { return agent_.idle(); }

 private:
  bool ready() const { return sessions_.has_value() && context_ != nullptr && context_->synced(); }

  // A kernel fetch with a valid ticket for this Environment from the address it was issued
  // to is the machine booting it; without one (a person, a cache, another machine) nothing
  // is recorded, and the file is served all the same.
  void kernel_fetched(const http::Request& request, const std::string& environment) {
    const std::string_view ticket = http::query_value(request.query, "ticket").value_or("");
    auto log = logger("discovery");
    if (ticket.empty() || !sessions_) {
      log->debug("environment kernel fetched without a ticket environment={} peer={}", environment, request.peer);
      return;
    }
    discovery::TokenError error{};
    const auto claims = sessions_->verify_ticket(ticket, request.peer_address(), error);
    if (!claims || claims->environment != environment) {
      log->info("environment kernel ticket refused reason={} environment={} peer={}",
                claims ? "wrong_environment" : discovery::to_string(error), environment, request.peer);
      return;
    }
    policy_->kernel_fetched(claims->uuid, claims->mac, environment, request.peer_address());
  }

  Config config_;
  ClusterService& cluster_;
  kube::ClusterContext* context_ = nullptr;
  discovery::SystemClock clock_;
  std::optional<discovery::AgentSessions> sessions_;
  discovery::MintRateLimiter limiter_;
  discovery::EnvironmentCache environments_;
  discovery::ReconcileRunner reconciler_;
  std::shared_ptr<discovery::ClusterBootPolicy> policy_;
  discovery::AgentApi agent_;
  std::optional<discovery::BmcController> bmc_;  // with a BMC client factory only
  std::optional<discovery::BmhController> bmh_;  // Metal3's BareMetalHosts, likewise
};

}  // namespace

std::unique_ptr<Service> make_discovery_service(boost::asio::io_context& io, const Config& config, HttpService& http,
                                                ClusterService& cluster,
                                                std::shared_ptr<bmc::BmcClientFactory> bmc_factory) {
  return std::make_unique<DiscoveryService>(io, config, http, cluster, std::move(bmc_factory));
}

}  // namespace ironboot
