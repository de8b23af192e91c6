#include "discovery/discovery_service.hpp"

#include "common/log.hpp"
#include "common/time.hpp"
#include "discovery/discovery_core.hpp"
#include "discovery/server_object.hpp"
#include "ipxe/http_service.hpp"
#include "kube/cluster_context.hpp"
#include "kube/cluster_service.hpp"
#include "kube/json_ops.hpp"
#include "kube/objects.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <system_error>

namespace ironboot {
namespace discovery {

namespace json = boost::json;

DiscoveryCore::DiscoveryCore(boost::asio::io_context& io, const Config& config) : io_(io), config_(config) {
  lifecycle_.wipe_mode = config.discovery.wipe;
}

DiscoveryCore::~DiscoveryCore() {
  alive_.reset();
  *cancel_ = true;
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

std::string DiscoveryCore::start() {
  const std::string& dir = config_.cluster.embedded.data_dir;
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return "discovery: cannot create " + dir + ": " + ec.message();
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  }
  PosixFileSystem fs;
  auto loaded = load_or_create_key(fs, dir + "/agent-token.key", openssl_random());
  if (!loaded.key) return "discovery: agent token key: " + loaded.error;
  if (loaded.created) logger("discovery")->info("agent token key created path={}/agent-token.key", dir);
  tokens_.emplace(*loaded.key, clock_);

  cluster_ = cluster_context();
  if (!cluster_) return "discovery: the cluster layer is not running";
  cluster_->servers().add_handler(
      [this](const kube::ObjectPtr& old, const kube::ObjectPtr& now) { on_server_event(old, now); });
  // Class membership feeds every boot decision, so waiting agents are rechecked after each
  // reconcile (reconcile_classes), not on the event itself.
  cluster_->serverclasses().add_handler(
      [this](const kube::ObjectPtr&, const kube::ObjectPtr&) { schedule_reconcile(); });
  cluster_->environments().add_handler([this](const kube::ObjectPtr& old, const kube::ObjectPtr& now) {
    const auto& obj = now ? now : old;
    on_environment_event(now, std::string(objects::name_of(*obj)));
    schedule_poll_check();
  });
  // Objects already in the caches (the informers may have listed before we subscribed).
  for (const auto& [name, obj] : cluster_->environments().items()) on_environment_event(obj, name);
  schedule_reconcile();
  logger("discovery")->info("discovery started auto_accept={} wipe={} boot_from_disk_method={}",
                            config_.discovery.auto_accept, to_string(config_.discovery.wipe),
                            to_string(config_.discovery.boot_from_disk_method));
  return {};
}

void DiscoveryCore::stop() {
  stopped_ = true;
  *cancel_ = true;
  check_polls(true);
}

bool DiscoveryCore::ready() const { return tokens_.has_value() && cluster_ != nullptr && cluster_->synced(); }

const json::object* DiscoveryCore::server(std::string_view name) const {
  if (!cluster_) return nullptr;
  auto p = cluster_->servers().get(std::string(name));
  return p ? p.get() : nullptr;
}

ServerLookup DiscoveryCore::lookup() const {
  return [this](std::string_view name) { return server(name); };
}

std::string DiscoveryCore::now() const { return format_rfc3339(clock_.now()); }

void DiscoveryCore::write_status(const std::string& resource, const std::string& name,
                                 std::function<std::optional<json::object>(const json::object&)> patch) {
  if (!cluster_) return;
  cluster_->writes().enqueue(
      resource, name,
      [patch = std::move(patch)](const json::object* current) -> std::optional<json::object> {
        if (!current) return std::nullopt;
        auto p = patch(*current);
        if (!p) return std::nullopt;
        json::value next = kube::merge_patch(*current, *p);
        if (next == json::value(*current)) return std::nullopt;
        return next.as_object();
      },
      {}, true);
}

BootDecision DiscoveryCore::decide_for_server(const json::object* srv, std::vector<objects::Condition>* conditions) {
  BootInputs in;
  in.server = srv;
  if (cluster_) {
    for (const auto& [n, c] : cluster_->serverclasses().items()) in.classes.push_back(c.get());
    in.environment = [this](std::string_view name) -> const json::object* {
      auto p = cluster_->environments().get(std::string(name));
      return p ? p.get() : nullptr;
    };
  }
  in.default_disk_method = config_.discovery.boot_from_disk_method;
  if (have_memberships_) in.memberships = &memberships_;
  BootDecision decision = decide_boot(in, conditions);
  if (decision.kind != BootDecision::Kind::environment) return decision;
  // An Environment Ready in the API but not (yet) fetched by this process cannot be served.
  const std::string& name = decision.environment_name;
  std::string kernel = environment_asset_path(name, true);
  if (kernel.empty()) return BootDecision::agent("environment " + name + " not fetched yet");
  decision.environment.kernel_url = std::move(kernel);
  if (!decision.environment.initrd_url.empty()) decision.environment.initrd_url = environment_asset_path(name, false);
  return decision;
}

Instruction DiscoveryCore::instruction_for(const json::object* srv) {
  const bool next_boot_is_agent = decide_for_server(srv).kind == BootDecision::Kind::agent;
  return next_instruction(srv, lifecycle_, next_boot_is_agent);
}

BootDecision DiscoveryCore::decide(const std::string& uuid, const std::string& mac, bool record) {
  const std::string name = server_name_for_agent(uuid, mac, lookup());
  const json::object* srv = server(name);
  std::vector<objects::Condition> conditions;
  BootDecision decision = decide_for_server(srv, &conditions);
  auto log = logger("discovery");
  log->debug("boot decision={} reason=\"{}\" server={} uuid={} mac={}", to_string(decision.kind), decision.reason,
             name, uuid, mac);
  if (!record) return decision;
  if (srv && !conditions.empty()) {
    write_status("servers", name, [conditions, stamp = now()](const json::object& current) {
      return status_for_server_conditions(current, conditions, stamp);
    });
  }
  if (srv && decision.kind == BootDecision::Kind::environment) {
    const std::string env = decision.environment_name;
    log->info("environment served server={} environment={}", name, env);
    write_status("servers", name, [env, stamp = now()](const json::object& current) -> std::optional<json::object> {
      return status_for_pxe_booted(current, env, stamp);
    });
  }
  return decision;
}

std::string DiscoveryCore::issue_token(const std::string& uuid, const std::string& mac) const {
  return tokens_ ? tokens_->issue(uuid, mac) : std::string{};
}

void DiscoveryCore::on_server_event(const kube::ObjectPtr& old, const kube::ObjectPtr& now_obj) {
  if (now_obj) {
    const std::string name(objects::name_of(*now_obj));
    pending_creates_.erase(name);
    if (auto patch = status_after_spec_change(old.get(), *now_obj, lifecycle_, now())) {
      logger("discovery")->info("server lifecycle name={} accepted={} isClean={}", name,
                                objects::spec_bool(*now_obj, "accepted"),
                                patch->at("status").as_object().at("isClean").as_bool());
      write_status("servers", name, [old, lc = lifecycle_, stamp = now()](const json::object& current) {
        return status_after_spec_change(old.get(), current, lc, stamp);
      });
    }
  }
  schedule_reconcile();
}

// A reconcile walks every Server against every class, so in a boot storm (thousands of
// Server events) running one per event would be quadratic. Events arriving while one is
// pending share it, and the next starts no sooner than twice the last one's cost after it
// ended: the reconciler takes at most a third of the loop, and an idle appliance still
// reconciles at once.
void DiscoveryCore::schedule_reconcile() {
  if (reconcile_scheduled_ || stopped_) return;
  reconcile_scheduled_ = true;
  std::weak_ptr<int> alive = alive_;
  auto run = [this, alive] {
    if (alive.expired()) return;
    reconcile_scheduled_ = false;
    const auto started = std::chrono::steady_clock::now();
    reconcile_classes();
    last_reconcile_end_ = std::chrono::steady_clock::now();
    last_reconcile_cost_ = last_reconcile_end_ - started;
  };
  const auto earliest = last_reconcile_end_ + 2 * last_reconcile_cost_;
  const auto now_time = std::chrono::steady_clock::now();
  if (now_time >= earliest) {
    boost::asio::post(io_, std::move(run));
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, earliest - now_time);
  timer->async_wait([timer, run = std::move(run)](const boost::system::error_code& ec) {
    if (!ec) run();
  });
}

void DiscoveryCore::reconcile_classes() {
  if (!cluster_ || stopped_) return;
  if (!cluster_->servers().synced() || !cluster_->serverclasses().synced()) {
    // Not listed yet: look again shortly (an empty list fires no event).
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(200));
    std::weak_ptr<int> alive = alive_;
    timer->async_wait([this, alive, timer](const boost::system::error_code& ec) {
      if (!ec && !alive.expired()) schedule_reconcile();
    });
    return;
  }
  std::vector<const json::object*> servers, classes;
  std::vector<std::string> names;
  for (const auto& [n, s] : cluster_->servers().items()) servers.push_back(s.get());
  for (const auto& [n, c] : cluster_->serverclasses().items()) {
    classes.push_back(c.get());
    names.push_back(n);
  }
  memberships_ = serverclass::reconcile(servers, classes, matchers_);
  have_memberships_ = true;
  schedule_poll_check();  // decisions read the new memberships
  matchers_.retain_only(names);
  const std::string stamp = now();
  for (std::size_t i = 0; i < classes.size() && i < memberships_.size(); ++i) {
    if (auto patch = serverclass::status_patch(*classes[i], memberships_[i], stamp)) {
      const std::string name = memberships_[i].name;
      std::string text = json::serialize(*patch);
      auto [it, inserted] = class_writes_in_flight_.try_emplace(name, text);
      if (!inserted && it->second == text) continue;
      it->second = text;
      if (memberships_[i].error)
        logger("discovery")->warn("serverclass invalid name={} error=\"{}\"", name, memberships_[i].error->text());
      logger("discovery")->debug("serverclass status name={} available={} in_use={}", name,
                                 memberships_[i].servers_available.size(), memberships_[i].servers_in_use.size());
      std::weak_ptr<int> alive = alive_;
      cluster_->writes().merge("serverclasses", name, *patch, true, [this, alive, name, text](const kube::ApiReply&) {
        if (alive.expired()) return;
        auto found = class_writes_in_flight_.find(name);
        if (found != class_writes_in_flight_.end() && found->second == text) class_writes_in_flight_.erase(found);
      });
    }
  }
  if (!serverclass::has_any_class(classes) && !any_create_pending_) {
    any_create_pending_ = true;
    logger("discovery")->info("creating serverclass any");
    std::weak_ptr<int> alive = alive_;
    cluster_->writes().enqueue(
        "serverclasses", std::string(serverclass::kAnyClassName),
        [](const json::object* current) -> std::optional<json::object> {
          if (current) return std::nullopt;
          return serverclass::make_any_server_class();
        },
        [this, alive](const kube::ApiReply&) {
          if (!alive.expired()) any_create_pending_ = false;
        });
  }
}

}  // namespace discovery

namespace {

class ClusterBootPolicy final : public BootPolicy {
 public:
  explicit ClusterBootPolicy(discovery::DiscoveryCore& core) : core_(core) {}
  BootDecision decide(const BootQuery& query) const override {
    return core_.decide(query.uuid, query.mac, !query.probe);
  }

 private:
  discovery::DiscoveryCore& core_;
};

class AgentTokenIssuer final : public BootTokenIssuer {
 public:
  explicit AgentTokenIssuer(discovery::DiscoveryCore& core) : core_(core) {}
  std::string issue(const std::string& uuid, const std::string& mac) override { return core_.issue_token(uuid, mac); }

 private:
  discovery::DiscoveryCore& core_;
};

class DiscoveryService final : public Service {
 public:
  DiscoveryService(boost::asio::io_context& io, const Config& config, HttpService& http) : core_(io, config) {
    core_.register_routes(http.router());
    http.set_boot_policy(std::make_shared<ClusterBootPolicy>(core_));
    http.set_token_issuer(std::make_shared<AgentTokenIssuer>(core_));
    http.readiness().add("discovery", [this] { return core_.ready(); });
  }
  const char* name() const override { return "discovery"; }
  std::string start() override { return core_.start(); }
  void stop() override { core_.stop(); }
  bool idle() const override { return core_.idle(); }

 private:
  discovery::DiscoveryCore core_;
};

}  // namespace

std::unique_ptr<Service> make_discovery_service(boost::asio::io_context& io, const Config& config, HttpService& http) {
  return std::make_unique<DiscoveryService>(io, config, http);
}

}  // namespace ironboot
