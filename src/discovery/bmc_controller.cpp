#include "discovery/bmc_controller.hpp"

#include "common/base64.hpp"
#include "common/config.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "kube/cluster_context.hpp"
#include "kube/objects.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

namespace ironboot::discovery {

namespace json = boost::json;
using bmc::BmcStatus;
using bmc::PowerAction;
using bmc::PowerState;
using objects::Condition;

struct BmcController::Managed {
  std::string bmc_json;                // spec.bmc as last configured ("" none)
  std::optional<bmc::BmcSpec> spec;    // valid spec.bmc
  std::string spec_error;              // invalid spec.bmc
  std::optional<bmc::BmcCredentials> credentials;
  std::shared_ptr<bmc::BmcClient> client;
  PowerState power = PowerState::Unknown;
  bool refreshing = false;
  std::shared_ptr<boost::asio::steady_timer> refresh_timer, grace_timer;
  unsigned actions = 0;                // BMC actions queued or running (online enforcement waits)
  bool reboot_pending = false;
  std::optional<ServerState> last_state;
  bool deprovision_started = false;
  std::optional<std::chrono::steady_clock::time_point> agent_wanted_since;
  unsigned agent_attempts = 0;
  // A lifecycle power step failed (or the agent never came): Error while the Server stays in
  // lifecycle_error_state; a failed step is tried again once the BMC answers a refresh.
  std::string lifecycle_error;
  ServerState lifecycle_error_state = ServerState::Error;
  bool retry_after_refresh = false;
  bool deprovision_annotation_handled = false;
  std::string manual_notice;           // the RebootRequired message last recorded
};

BmcControllerOptions BmcControllerOptions::from(const Config& config) {
  BmcControllerOptions o;
  o.power_refresh = std::chrono::seconds(config.bmc.power_refresh_seconds);
  o.max_concurrent = config.bmc.max_concurrent;
  o.min_interval = std::chrono::milliseconds(config.bmc.min_interval_ms);
  o.power_off_available = config.bmc.power_off_available;
  o.auto_setup = config.bmc.auto_setup;
  return o;
}

namespace {

const json::array* conditions_of(const json::object& server) {
  const auto* status = objects::status_of(server);
  return status ? objects::array_at(*status, "conditions") : nullptr;
}

std::optional<bool> online_of(const json::object& server) {
  const auto* spec = objects::spec_of(server);
  const auto* v = spec ? spec->if_contains("online") : nullptr;
  if (!v || !v->is_bool()) return std::nullopt;
  return v->get_bool();
}

bool has_annotation(const json::object& server, std::string_view key) {
  const auto* a = objects::annotations_of(server);
  return a && a->contains(key);
}

// The next boot as the agent saw the firmware (ironboot.dev/boot-mode), UEFI when unknown.
bmc::BootOverride pxe_once(const json::object& server) {
  bmc::BootOverride boot;
  const auto* a = objects::annotations_of(server);
  if (a && objects::string_at(*a, "ironboot.dev/boot-mode") == "BIOS") boot.mode = bmc::BootMode::Legacy;
  return boot;
}

std::string spec_bmc_text(const json::object& server) {
  const auto* spec = objects::spec_of(server);
  const auto* b = spec ? spec->if_contains("bmc") : nullptr;
  return b && !b->is_null() ? json::serialize(*b) : std::string{};
}

bool usable_address(const std::string& a) { return !a.empty() && a != "0.0.0.0" && a != "::"; }

}  // namespace

BmcController::BmcController(boost::asio::io_context& io, std::shared_ptr<bmc::BmcClientFactory> factory,
                             BmcControllerOptions options, const Clock& clock, EnvironmentOf environment_of)
    : io_(io),
      factory_(std::move(factory)),
      options_(options),
      clock_(clock),
      environment_of_(std::move(environment_of)),
      scheduler_(io, options.max_concurrent, options.min_interval) {
  if (!environment_of_)
    environment_of_ = [](const json::object& s) { return std::string(objects::environment_ref_name(s)); };
}

BmcController::~BmcController() {
  alive_.reset();
  for (auto& [name, m] : managed_) {
    if (m->refresh_timer) m->refresh_timer->cancel();
    if (m->grace_timer) m->grace_timer->cancel();
  }
}

void BmcController::start(kube::ClusterContext& cluster) {
  cluster_ = &cluster;
  events_ = discovery_events(cluster);
  cluster.servers().add_handler(
      [this, alive = std::weak_ptr<int>(alive_)](const kube::ObjectPtr& old, const kube::ObjectPtr& now_obj) {
        if (!alive.expired()) on_server(old, now_obj);
      });
  std::weak_ptr<int> alive = alive_;
  boost::asio::post(io_, [this, alive] {
    if (alive.expired() || stopped_ || !cluster_) return;
    cluster_->servers().for_each([this](const std::string&, const kube::ObjectPtr& obj) { on_server(nullptr, obj); });
  });
}

void BmcController::stop() {
  stopped_ = true;
  scheduler_.stop();
  for (auto& [name, m] : managed_) {
    if (m->refresh_timer) m->refresh_timer->cancel();
    if (m->grace_timer) m->grace_timer->cancel();
    if (m->client) m->client->close();
  }
}

const json::object* BmcController::server(const std::string& name) const {
  return cluster_ ? cached(cluster_->servers(), name) : nullptr;
}

std::string BmcController::now() const { return format_rfc3339(clock_.now()); }

void BmcController::on_server(const kube::ObjectPtr& old, const kube::ObjectPtr& now_obj) {
  if (stopped_) return;
  if (!now_obj) {
    if (old) forget(std::string(objects::name_of(*old)));
    return;
  }
  const std::string name(objects::name_of(*now_obj));
  auto& slot = managed_[name];
  if (!slot) slot = std::make_unique<Managed>();
  configure(*slot, *now_obj);
  if (!has_annotation(*now_obj, kDeprovisionAnnotation)) slot->deprovision_annotation_handled = false;
  if (auto why = deprovision_trigger(old.get(), *now_obj); !why.empty()) start_deprovision(name, why);
  handle_reboot_annotation(name);
  evaluate(name);
}

void BmcController::configure(Managed& m, const json::object& srv) {
  const std::string name(objects::name_of(srv));
  std::string text = spec_bmc_text(srv);
  if (text == m.bmc_json) return;
  m.bmc_json = std::move(text);
  m.spec.reset();
  m.spec_error.clear();
  m.credentials.reset();
  if (m.client) m.client->close();
  m.client.reset();
  m.power = PowerState::Unknown;
  m.refreshing = false;
  m.actions = 0;  // queued actions of the old BMC are dropped with it
  m.reboot_pending = false;
  scheduler_.forget(name);
  if (m.refresh_timer) m.refresh_timer->cancel();
  if (m.bmc_json.empty()) return;
  auto parsed = bmc::bmc_of_server(srv);
  if (!parsed) return;
  if (const auto* e = std::get_if<bmc::EndpointError>(&*parsed)) {
    m.spec_error = e->text();
    logger("bmc")->warn("server={} invalid spec.bmc: {}", name, m.spec_error);
    events_.warning(srv, "BMCError", m.spec_error);
    record_reachability(name, PowerState::Unknown, "InvalidSpec", m.spec_error);
    return;
  }
  m.spec = std::get<bmc::BmcSpec>(*parsed);
  if (m.spec->plain_text_password())
    events_.warning(srv, "PlainTextPassword",
                    "spec.bmc.pass is in clear text: store it in a Secret in ironboot-system and use spec.bmc.passFrom");
  arm_refresh(name, std::chrono::milliseconds(0));
}

void BmcController::forget(const std::string& name) {
  auto it = managed_.find(name);
  if (it == managed_.end()) return;
  if (it->second->refresh_timer) it->second->refresh_timer->cancel();
  if (it->second->grace_timer) it->second->grace_timer->cancel();
  if (it->second->client) it->second->client->close();
  scheduler_.forget(name);
  managed_.erase(it);
}

// ---- lifecycle

void BmcController::evaluate(const std::string& name) {
  const json::object* srv = server(name);
  auto it = managed_.find(name);
  if (!srv || it == managed_.end() || stopped_) return;
  Managed& m = *it->second;
  const std::string environment = environment_of_(*srv);
  ServerStateView view = server_state(*srv, environment, m.spec_error.empty() ? "" : "invalid spec.bmc: " + m.spec_error);
  if (!m.lifecycle_error.empty() && view.state != m.lifecycle_error_state) m.lifecycle_error.clear();

  // Deprovisioning that no agent picks up: cycle into PXE after the grace time, a few times.
  bool overdue = false;
  const auto steady_now = std::chrono::steady_clock::now();
  if (view.state == ServerState::Deprovisioning && !objects::condition_is_true(*srv, "Wiping")) {
    if (!m.agent_wanted_since) {
      m.agent_wanted_since = steady_now;
      arm_grace(name, options_.agent_grace);
    } else if (steady_now - *m.agent_wanted_since >= options_.agent_grace && m.lifecycle_error.empty()) {
      if (m.agent_attempts >= options_.max_agent_attempts) {
        m.lifecycle_error = "the discovery agent did not start after " + std::to_string(m.agent_attempts) +
                            " power cycles into PXE";
        m.lifecycle_error_state = ServerState::Deprovisioning;
        events_.warning(*srv, "BMCError", m.lifecycle_error);
      } else {
        overdue = true;
        ++m.agent_attempts;
        m.agent_wanted_since = steady_now;
        arm_grace(name, options_.agent_grace);
      }
    }
  } else {
    m.agent_wanted_since.reset();
    m.agent_attempts = 0;
  }
  if (!m.lifecycle_error.empty()) view = ServerStateView{ServerState::Error, m.lifecycle_error};

  const PowerStep step = lifecycle_power_step(PowerStepInputs{m.last_state, view, online_of(*srv),
                                                              options_.power_off_available, overdue,
                                                              m.deprovision_started});
  // Kept until the Server shows the deprovision (the status write may not be back yet).
  if (view.state == ServerState::Deprovisioning) m.deprovision_started = false;
  if (step == PowerStep::pxe_power_on && view.state == ServerState::Deprovisioning) {
    m.agent_wanted_since = steady_now;  // the agent gets the whole grace time after this cycle
    arm_grace(name, options_.agent_grace);
  }
  if (m.last_state != view.state)
    logger("discovery")->info("server state name={} state={} {}", name, to_string(view.state), view.message);
  if (view.state != ServerState::Error) m.last_state = view.state;
  if (status_for_state(*srv, view, now()))
    write_status(cluster_->writes(), "servers", name, [view, stamp = now()](const json::object& current) {
      return status_for_state(current, view, stamp);
    });
  lifecycle_step(name, step, view);
  enforce_online(name);
}

void BmcController::start_deprovision(const std::string& name, const std::string& why) {
  const json::object* srv = server(name);
  auto it = managed_.find(name);
  if (!srv || it == managed_.end()) return;
  if (why.rfind("annotation", 0) == 0) {
    if (it->second->deprovision_annotation_handled) return;  // until the removal comes back
    it->second->deprovision_annotation_handled = true;
  }
  logger("discovery")->info("deprovision server={} why=\"{}\"", name, why);
  events_.normal(*srv, "Deprovisioning", why + ": wiping, then Available");
  it->second->deprovision_started = true;
  write_status(cluster_->writes(), "servers", name, [why, stamp = now()](const json::object& current) {
    return std::optional<json::object>(status_for_deprovision(current, why, stamp));
  });
  if (has_annotation(*srv, kDeprovisionAnnotation)) remove_annotation(name, kDeprovisionAnnotation);
}

void BmcController::need_manual_reboot(const std::string& name, const std::string& why) {
  auto it = managed_.find(name);
  const json::object* srv = server(name);
  if (!srv || it == managed_.end() || it->second->manual_notice == why) return;
  it->second->manual_notice = why;
  events_.warning(*srv, "RebootRequired", why + ": the Server has no spec.bmc, a person must reboot it into PXE");
}

void BmcController::lifecycle_step(const std::string& name, PowerStep step, const ServerStateView& view) {
  if (step == PowerStep::none) return;
  Managed& m = *managed_.at(name);
  const std::string why = std::string(to_string(view.state)) + (view.message.empty() ? "" : " (" + view.message + ")");
  if (!m.spec) {
    if (step == PowerStep::pxe_power_on && m.spec_error.empty()) need_manual_reboot(name, why);
    return;
  }
  const json::object* srv = server(name);
  if (step == PowerStep::power_off) {
    ++m.actions;
    run(name, "power off", [](bmc::BmcClient& c, auto done) { c.power(PowerAction::Off, std::move(done)); },
        [this, name, alive = std::weak_ptr<int>(alive_)](BmcStatus st) {
          if (alive.expired()) return;
          record_action(name, "PowerOff", "powered off: Available (bmc.power_off_available)", st);
          if (auto it = managed_.find(name); it != managed_.end()) --it->second->actions;
          read_power(name);
        });
    return;
  }
  // Power state first (on: cycle, otherwise power on), then next boot PXE once, then the action.
  const bmc::BootOverride boot = srv ? pxe_once(*srv) : bmc::BootOverride{};
  const ServerState state = view.state;
  ++m.actions;
  std::weak_ptr<int> alive = alive_;
  auto fail = [this, name, why, state](const std::string& what, const BmcStatus& st) {
    record_action(name, "BMCError", what + ": " + why, st);
    auto i = managed_.find(name);
    if (i == managed_.end()) return;
    --i->second->actions;
    i->second->lifecycle_error = what + " failed: " + st.reason + ": " + st.message;
    i->second->lifecycle_error_state = state;
    i->second->retry_after_refresh = true;
    evaluate(name);
  };
  auto power_then_boot = [this, name, boot, why, alive, fail](BmcStatus st) {
    if (alive.expired()) return;
    if (!st.ok()) return fail("power status", st);
    run(name, "next boot PXE", [boot](bmc::BmcClient& c, auto done) { c.set_next_boot(boot, std::move(done)); },
        [this, name, why, alive, fail](BmcStatus st1) {
          if (alive.expired()) return;
          if (!st1.ok()) return fail("next boot PXE", st1);
          auto i = managed_.find(name);
          if (i == managed_.end()) return;
          const bool cycle = i->second->power == PowerState::On;
          const PowerAction action = cycle ? PowerAction::Cycle : PowerAction::On;
          run(name, bmc::to_string(action),
              [action](bmc::BmcClient& c, auto done) { c.power(action, std::move(done)); },
              [this, name, cycle, why, alive, fail](BmcStatus st2) {
                if (alive.expired()) return;
                if (!st2.ok()) return fail(cycle ? "power cycle" : "power on", st2);
                record_action(name, cycle ? "Reboot" : "PowerOn",
                              std::string(cycle ? "next boot PXE, power cycle: " : "next boot PXE, power on: ") + why,
                              st2);
                if (auto j = managed_.find(name); j != managed_.end()) --j->second->actions;
                read_power(name);
              });
        });
  };
  run(name, "power status",
      [this, name, alive](bmc::BmcClient& c, std::function<void(BmcStatus)> done) {
        c.power_status([this, name, alive, done = std::move(done)](BmcStatus st, PowerState power) {
          if (!alive.expired() && st.ok())
            if (auto i = managed_.find(name); i != managed_.end()) i->second->power = power;
          done(std::move(st));
        });
      },
      std::move(power_then_boot));
}

void BmcController::enforce_online(const std::string& name) {
  const json::object* srv = server(name);
  auto it = managed_.find(name);
  if (!srv || it == managed_.end()) return;
  Managed& m = *it->second;
  const auto online = online_of(*srv);
  if (!online || !m.spec || m.actions > 0 || m.power == PowerState::Unknown) return;
  if ((m.power == PowerState::On) == *online) return;
  const PowerAction action = *online ? PowerAction::On : PowerAction::Off;
  ++m.actions;
  run(name, bmc::to_string(action), [action](bmc::BmcClient& c, auto done) { c.power(action, std::move(done)); },
      [this, name, online, alive = std::weak_ptr<int>(alive_)](BmcStatus st) {
        if (alive.expired()) return;
        record_action(name, *online ? "PowerOn" : "PowerOff",
                      std::string("spec.online is ") + (*online ? "true" : "false"), st);
        if (auto i = managed_.find(name); i != managed_.end()) --i->second->actions;
        read_power(name);
      });
}

void BmcController::handle_reboot_annotation(const std::string& name) {
  const json::object* srv = server(name);
  auto it = managed_.find(name);
  if (!srv || it == managed_.end()) return;
  Managed& m = *it->second;
  if (!has_annotation(*srv, kRebootAnnotation)) {
    m.reboot_pending = false;  // the removal came back (or an operator took it off)
    return;
  }
  if (!m.spec) {
    if (m.spec_error.empty()) need_manual_reboot(name, std::string(kRebootAnnotation) + " annotation");
    return;
  }
  if (m.reboot_pending) return;
  m.reboot_pending = true;
  ++m.actions;
  // A Server that is off is powered on (Metal3: the reboot leaves it on), unless spec.online is false.
  const bool off = m.power == PowerState::Off;
  if (off && online_of(*srv) == false) {
    m.reboot_pending = false;
    --m.actions;
    remove_annotation(name, kRebootAnnotation);
    events_.normal(*srv, "Reboot", "not rebooted: the Server is off and spec.online is false");
    return;
  }
  const PowerAction action = off ? PowerAction::On : PowerAction::Cycle;
  run(name, bmc::to_string(action), [action](bmc::BmcClient& c, auto done) { c.power(action, std::move(done)); },
      [this, name, off, alive = std::weak_ptr<int>(alive_)](BmcStatus st) {
        if (alive.expired()) return;
        auto i = managed_.find(name);
        if (i == managed_.end()) return;
        --i->second->actions;
        record_action(name, "Reboot",
                      std::string(kRebootAnnotation) + (off ? ": was off, powered on" : ": power cycle"), st);
        if (st.ok()) {
          // Removed once, after the one reboot; the flag clears when the annotation is gone.
          remove_annotation(name, kRebootAnnotation);
        } else {
          i->second->reboot_pending = false;  // tried again on the next refresh
        }
        read_power(name);
      });
}

void BmcController::remove_annotation(const std::string& name, std::string_view key) {
  cluster_->writes().enqueue(
      "servers", name,
      [key = std::string(key)](const json::object* current) -> std::optional<json::object> {
        if (!current) return std::nullopt;
        const auto* md = objects::object_at(*current, "metadata");
        const auto* a = md ? objects::object_at(*md, "annotations") : nullptr;
        if (!a || !a->contains(key)) return std::nullopt;
        json::object next = *current;
        next["metadata"].as_object()["annotations"].as_object().erase(key);
        return next;
      });
}

// ---- BMC operations

void BmcController::record_action(const std::string& name, const char* reason, const std::string& message,
                                  const BmcStatus& st) {
  const json::object* srv = server(name);
  auto log = logger("bmc");
  if (st.ok()) {
    log->info("server={} {}: {}", name, reason, message);
    if (srv) events_.normal(*srv, reason, message);
    return;
  }
  log->warn("server={} {} failed: {}: {} ({})", name, reason, message, st.message, st.reason);
  if (srv) events_.warning(*srv, "BMCError", message + " failed: " + st.reason + ": " + st.message);
}

void BmcController::run(const std::string& name, const std::string& what, Op op,
                        std::function<void(BmcStatus)> done) {
  std::weak_ptr<int> alive = alive_;
  scheduler_.submit(name, [this, alive, name, what, op = std::move(op), done = std::move(done)](
                              std::function<void()> finished) mutable {
    if (alive.expired()) return finished();
    with_client(name, [this, alive, name, what, op = std::move(op), done = std::move(done),
                       finished = std::move(finished)](const std::string& error) mutable {
      if (alive.expired()) return finished();
      auto it = managed_.find(name);
      if (!error.empty() || it == managed_.end() || !it->second->client) {
        finished();
        return done(BmcStatus::failure("Credentials", error.empty() ? "no BMC client" : error));
      }
      logger("bmc")->debug("server={} {}", name, what);
      auto client = it->second->client;  // kept alive for the operation
      op(*client, [client, done = std::move(done), finished = std::move(finished)](BmcStatus st) mutable {
        finished();
        done(std::move(st));
      });
    });
  });
}

void BmcController::read_secret(const bmc::SecretKeyRef& ref, const std::string& field,
                                std::function<void(std::optional<std::string>, std::string)> done) {
  const std::string where = "Secret " + ref.namespace_ + "/" + ref.name;
  cluster_->client().get(kube::ResourcePath{"", "v1", "secrets", ref.namespace_}, ref.name,
                         [ref, field, where, done = std::move(done), alive = std::weak_ptr<int>(alive_)](
                             kube::ApiReply reply) {
                           if (alive.expired()) return;
                           if (reply.not_found()) return done(std::nullopt, where + " not found (" + field + ")");
                           if (!reply.ok() || !reply.object())
                             return done(std::nullopt, where + " unreadable (" + field + "): " + reply.message);
                           const auto* data = objects::object_at(*reply.object(), "data");
                           const auto* v = data ? data->if_contains(ref.key) : nullptr;
                           if (!v || !v->is_string())
                             return done(std::nullopt, where + " has no key " + ref.key + " (" + field + ")");
                           auto decoded = base64_decode(v->get_string());
                           if (!decoded)
                             return done(std::nullopt, where + " key " + ref.key + " is not base64 (" + field + ")");
                           done(std::move(decoded), {});
                         });
}

void BmcController::with_client(const std::string& name, std::function<void(const std::string&)> then) {
  auto it = managed_.find(name);
  if (it == managed_.end() || !it->second->spec) return then("no valid spec.bmc");
  const bmc::BmcSpec spec = *it->second->spec;
  // Both values, read from their Secrets when referenced (again each time: rotation takes effect).
  struct Pending {
    bmc::BmcCredentials credentials;
    std::string error;
    int waiting = 2;
  };
  auto pending = std::make_shared<Pending>();
  pending->credentials = {spec.user.value, spec.pass.value};
  std::weak_ptr<int> alive = alive_;
  auto finish = [this, alive, name, spec, pending, then = std::move(then)]() mutable {
    if (--pending->waiting > 0 || alive.expired()) return;
    auto i = managed_.find(name);
    if (i == managed_.end() || i->second->spec != spec) return then("spec.bmc changed");
    if (!pending->error.empty()) return then(pending->error);
    Managed& m = *i->second;
    if (!m.client || m.credentials != pending->credentials) {
      if (m.client) m.client->close();
      m.credentials = pending->credentials;
      m.client = factory_->make(spec.endpoint, *m.credentials);
    }
    then({});
  };
  auto resolve = [&](const bmc::CredentialSource& source, std::string bmc::BmcCredentials::*member,
                     const char* field) {
    if (!source.secret) return finish();
    read_secret(*source.secret, field, [pending, member, finish](std::optional<std::string> value, std::string error) mutable {
      if (value) pending->credentials.*member = std::move(*value);
      else if (pending->error.empty()) pending->error = std::move(error);
      finish();
    });
  };
  resolve(spec.user, &bmc::BmcCredentials::username, "spec.bmc.userFrom");
  resolve(spec.pass, &bmc::BmcCredentials::password, "spec.bmc.passFrom");
}

void BmcController::read_power(const std::string& name, std::function<void()> then) {
  run(name, "power status",
      [this, name, alive = std::weak_ptr<int>(alive_)](bmc::BmcClient& c, std::function<void(BmcStatus)> done) {
        c.power_status([this, name, alive, done = std::move(done)](BmcStatus st, PowerState power) {
          if (!alive.expired() && st.ok()) {
            if (auto it = managed_.find(name); it != managed_.end()) it->second->power = power;
          }
          done(std::move(st));
        });
      },
      [this, name, then = std::move(then), alive = std::weak_ptr<int>(alive_)](BmcStatus st) {
        if (alive.expired()) return;
        auto it = managed_.find(name);
        if (it == managed_.end()) return;
        if (st.ok()) {
          record_reachability(name, it->second->power, "", "");
        } else {
          it->second->power = PowerState::Unknown;
          record_reachability(name, PowerState::Unknown, st.reason, st.message);
        }
        if (then) then();
      });
}

void BmcController::record_reachability(const std::string& name, PowerState power, const std::string& reason,
                                        const std::string& message) {
  auto it = managed_.find(name);
  if (it == managed_.end() || !cluster_) return;
  const Managed& m = *it->second;
  Condition c{"BMCReachable", reason.empty(), reason.empty() ? "PowerRead" : reason, message};
  if (reason.empty()) {
    c.message = (m.spec ? bmc::describe(m.spec->endpoint) : std::string("BMC")) + ": power " + bmc::to_string(power);
    if (m.spec && m.spec->plain_text_password())
      c.message += "; spec.bmc.pass is in clear text: use spec.bmc.passFrom";
  }
  const json::object* srv = server(name);
  const auto* before = srv ? objects::find_condition(*srv, "BMCReachable") : nullptr;
  if (srv && !reason.empty() &&
      (!before || objects::string_at(*before, "status") == "True" || objects::string_at(*before, "reason") != reason))
    events_.warning(*srv, "BMCError", "BMC unreachable: " + reason + ": " + message);
  write_status(cluster_->writes(), "servers", name,
               [c, power, stamp = now()](const json::object& current) -> std::optional<json::object> {
                 return json::object{
                     {"status", json::object{{"power", bmc::to_string(power)},
                                             {"conditions", objects::with_condition(conditions_of(current), c, stamp)}}}};
               });
}

void BmcController::refresh(const std::string& name) {
  auto it = managed_.find(name);
  if (it == managed_.end() || stopped_ || !it->second->spec || it->second->refreshing) return;
  it->second->refreshing = true;
  read_power(name, [this, name] {
    auto i = managed_.find(name);
    if (i == managed_.end()) return;
    i->second->refreshing = false;
    if (i->second->retry_after_refresh && i->second->power != PowerState::Unknown) {
      // The BMC answers again: the failed lifecycle step is tried once more.
      i->second->retry_after_refresh = false;
      i->second->lifecycle_error.clear();
      i->second->last_state.reset();
    }
    handle_reboot_annotation(name);
    evaluate(name);  // spec.online is re-checked against the power just read
    const double f = std::uniform_real_distribution<double>(1.0 - options_.refresh_jitter,
                                                            1.0 + options_.refresh_jitter)(jitter_rng_);
    arm_refresh(name, std::chrono::milliseconds(static_cast<std::int64_t>(options_.power_refresh.count() * f)));
  });
}

void BmcController::arm_refresh(const std::string& name, std::chrono::milliseconds after) {
  auto it = managed_.find(name);
  if (it == managed_.end() || stopped_) return;
  auto& timer = it->second->refresh_timer;
  if (timer) timer->cancel();
  timer = std::make_shared<boost::asio::steady_timer>(io_, after);
  timer->async_wait([this, name, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) refresh(name);
  });
}

void BmcController::arm_grace(const std::string& name, std::chrono::milliseconds after) {
  auto it = managed_.find(name);
  if (it == managed_.end() || stopped_) return;
  auto& timer = it->second->grace_timer;
  if (timer) timer->cancel();
  timer = std::make_shared<boost::asio::steady_timer>(io_, after);
  timer->async_wait([this, name, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) evaluate(name);
  });
}

// ---- in-band BMC (the agent's register report)

json::object BmcController::on_register(const std::string& name, const RegisterReport& report) {
  json::object answer;
  if (!cluster_ || stopped_ || !report.bmc) return answer;
  const InbandBmc found = *report.bmc;
  json::object status_bmc{{"address", found.address}, {"netmask", found.netmask}, {"gateway", found.gateway},
                          {"mac", found.mac},         {"ipSource", found.ip_source}, {"channel", found.channel},
                          {"port", found.port}};
  write_status(cluster_->writes(), "servers", name, [status_bmc](const json::object&) -> std::optional<json::object> {
    return json::object{{"status", json::object{{"bmc", status_bmc}}}};
  });
  const json::object* srv = server(name);
  const bool operator_bmc = srv && !spec_bmc_text(*srv).empty();
  if (!options_.auto_setup || operator_bmc || !usable_address(found.address)) return answer;
  if (report.bmc_credentials) store_bmc_credentials(name, found, *report.bmc_credentials);
  else answer["bmcSetup"] = true;
  return answer;
}

void BmcController::store_bmc_credentials(const std::string& name, const InbandBmc& found,
                                          const InbandBmcCredentials& creds) {
  const std::string secret_name = name + "-bmc";
  const kube::ResourcePath secrets{"", "v1", "secrets", kBmcSecretNamespace};
  const json::object data{{"username", base64_encode(creds.username)}, {"password", base64_encode(creds.password)}};
  const json::object secret{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"metadata", json::object{{"name", secret_name},
                                {"namespace", kBmcSecretNamespace},
                                {"labels", json::object{{"ironboot.dev/server", name}}}}},
      {"type", "Opaque"},
      {"data", data}};
  const std::string host = found.address.find(':') != std::string::npos ? "[" + found.address + "]" : found.address;
  json::object spec_bmc{{"endpoint", host},
                   {"userFrom", json::object{{"secretKeyRef", json::object{{"namespace", kBmcSecretNamespace},
                                                                            {"name", secret_name},
                                                                            {"key", "username"}}}}},
                   {"passFrom", json::object{{"secretKeyRef", json::object{{"namespace", kBmcSecretNamespace},
                                                                            {"name", secret_name},
                                                                            {"key", "password"}}}}}};
  if (found.port != 623) spec_bmc["port"] = found.port;
  std::weak_ptr<int> alive = alive_;
  auto fill_spec = [this, alive, name, spec_bmc, secret_name, user = creds.username](const kube::ApiReply& reply) {
    if (alive.expired()) return;
    if (!reply.ok()) {
      logger("bmc")->warn("server={} storing the in-band BMC credentials in Secret {}/{} failed: {} {}", name,
                          kBmcSecretNamespace, secret_name, reply.status, reply.message);
      if (const auto* srv = server(name))
        events_.warning(*srv, "BMCError", "storing the in-band BMC credentials failed: " + reply.message);
      return;
    }
    cluster_->writes().enqueue(
        "servers", name,
        [spec_bmc](const json::object* current) -> std::optional<json::object> {
          if (!current || !spec_bmc_text(*current).empty()) return std::nullopt;  // the operator's wins
          json::object next = *current;
          next["spec"].as_object()["bmc"] = spec_bmc;
          return next;
        },
        [this, alive, name, secret_name, user, endpoint = std::string(spec_bmc.at("endpoint").as_string())](
            const kube::ApiReply& r) {
          if (alive.expired() || !r.ok() || !r.object()) return;
          events_.normal(*r.object(), "BMCCredentialsStored",
                         "in-band setup: user " + user + " in Secret " + kBmcSecretNamespace + "/" + secret_name +
                             ", spec.bmc.endpoint " + endpoint);
        });
  };
  cluster_->client().create(secrets, secret, [this, alive, secrets, secret_name, data, fill_spec](kube::ApiReply reply) {
    if (alive.expired()) return;
    if (reply.status != 409) return fill_spec(reply);
    // Already there (an earlier setup): the agent's new password replaces it.
    cluster_->client().patch(secrets, secret_name, kube::PatchType::Merge, json::object{{"data", data}},
                             [fill_spec](kube::ApiReply r) { fill_spec(r); });
  });
}

}  // namespace ironboot::discovery
