#include "discovery/bmh_controller.hpp"

#include "bmc/endpoint.hpp"
#include "common/base64.hpp"
#include "common/config.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "discovery/baremetalhost.hpp"
#include "discovery/cluster_access.hpp"
#include "kube/cluster_context.hpp"
#include "kube/json_ops.hpp"
#include "kube/objects.hpp"

#include <boost/asio/post.hpp>
#include <algorithm>
#include <boost/json.hpp>

namespace ironboot::discovery {

namespace json = boost::json;
using bmc::BmcStatus;
using bmc::PowerState;
using objects::object_at;
using objects::string_at;

struct BmhController::Host {
  std::string config;                  // spec.bmc as last configured: a change starts over
  std::string boot_mac;                // spec.bootMACAddress
  std::optional<bmc::BmcEndpoint> endpoint;
  std::string endpoint_error;          // spec.bmc.address invalid
  std::string lane;                    // the scheduler's key: the BMC, described
  std::optional<bmc::BmcCredentials> credentials;
  std::optional<std::string> credentials_error;
  bool reading_secret = false;
  std::shared_ptr<bmc::BmcClient> client;
  bmc::BmcCredentials client_credentials;
  bool busy = false;                   // a BMC sequence queued or running
  bool power_on_sent = false;
  bool power_off_sent = false;         // online false: powered off since the last refresh
  std::optional<bool> powered_on;
  std::optional<std::string> bmc_error;  // "Reason: message" of the last BMC sequence
  std::chrono::milliseconds backoff{0};
  std::shared_ptr<boost::asio::steady_timer> retry_timer, refresh_timer;
  bool retry_armed = false, refresh_armed = false;
  bool writing = false, write_again = false, linking = false;
  std::string linked;                  // the Server last linked ("" none)
  std::string state;                   // provisioning.state last written (for Events)
  unsigned epoch = 0;                  // bumped by a configuration change: older replies are dropped
};

BmhControllerOptions BmhControllerOptions::from(const Config& config) {
  BmhControllerOptions o;
  o.max_concurrent = config.bmc.max_concurrent;
  o.min_interval = std::chrono::milliseconds(config.bmc.min_interval_ms);
  o.power_refresh = std::chrono::seconds(config.bmc.power_refresh_seconds);
  return o;
}

namespace {

const std::string& host_key(const json::object& host, std::string& out) {
  const auto* md = object_at(host, "metadata");
  out = md ? std::string(string_at(*md, "namespace")) + "/" + std::string(string_at(*md, "name")) : std::string();
  return out;
}

std::string namespace_of(const json::object& host) {
  const auto* md = object_at(host, "metadata");
  return md ? std::string(string_at(*md, "namespace")) : std::string();
}

kube::ResourcePath hosts_in(const std::string& ns) { return {"metal3.io", "v1alpha1", "baremetalhosts", ns}; }

const json::object& bmc_block(const json::object& host) {
  static const json::object empty;
  const auto* spec = objects::spec_of(host);
  const auto* bmc = spec ? object_at(*spec, "bmc") : nullptr;
  return bmc ? *bmc : empty;
}

// The status as compared: what the controller writes, without its bookkeeping fields.
json::object comparable(json::object status) {
  status.erase("lastUpdated");
  status.erase("errorCount");
  return status;
}

std::string text_of(const BmcStatus& st) { return st.reason + ": " + st.message; }

}  // namespace

BmhController::BmhController(boost::asio::io_context& io, std::shared_ptr<bmc::BmcClientFactory> factory,
                             BmhControllerOptions options)
    : io_(io), factory_(std::move(factory)), options_(options), scheduler_(io, options.max_concurrent, options.min_interval) {}

BmhController::~BmhController() {
  alive_.reset();
  if (sweep_timer_) sweep_timer_->cancel();
  for (auto& [key, h] : hosts_) {
    if (h->retry_timer) h->retry_timer->cancel();
    if (h->refresh_timer) h->refresh_timer->cancel();
  }
}

void BmhController::start(kube::ClusterContext& cluster) {
  cluster_ = &cluster;
  events_ = discovery_events(cluster);
  std::weak_ptr<int> alive = alive_;
  cluster.baremetalhosts().add_handler([this, alive](const kube::ObjectPtr& old, const kube::ObjectPtr& now) {
    if (!alive.expired()) on_host(old, now);
  });
  cluster.servers().add_handler([this, alive](const kube::ObjectPtr& old, const kube::ObjectPtr& now) {
    if (!alive.expired()) on_server(old, now);
  });
  cluster.servers().for_each([this](const std::string& name, const kube::ObjectPtr& server) {
    index_server(name, server.get());
  });
  cluster.baremetalhosts().start();
  sweep_timer_ = std::make_shared<boost::asio::steady_timer>(io_);
  sweep_orphans();
}

void BmhController::sweep_orphans() {
  if (stopped_) return;
  if (!cluster_->servers().synced() || !cluster_->baremetalhosts().synced()) {
    sweep_timer_->expires_after(std::chrono::milliseconds(200));
    sweep_timer_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (!ec && !alive.expired()) sweep_orphans();
    });
    return;
  }
  // Once, at start: the whole Server cache is walked here and never again.
  std::vector<std::pair<std::string, std::string>> orphans;  // host key, Server
  cluster_->servers().for_each([&](const std::string& name, const kube::ObjectPtr& server) {
    const auto* annotations = objects::annotations_of(*server);
    const std::string key(annotations ? string_at(*annotations, kBmhAnnotation) : std::string_view{});
    if (!key.empty() && !cluster_->baremetalhosts().get(key)) orphans.emplace_back(key, name);
  });
  for (const auto& [key, server] : orphans) unlink(key, server);
}

void BmhController::index_server(const std::string& name, const json::object* server) {
  if (auto it = macs_of_server_.find(name); it != macs_of_server_.end()) {
    for (const auto& mac : it->second) {
      auto s = servers_by_mac_.find(mac);
      if (s == servers_by_mac_.end()) continue;
      s->second.erase(name);
      if (s->second.empty()) servers_by_mac_.erase(s);
    }
    macs_of_server_.erase(it);
  }
  if (!server) return;
  auto keys = server_mac_keys(*server);
  if (keys.empty()) return;
  for (const auto& mac : keys) servers_by_mac_[mac].insert(name);
  macs_of_server_[name] = std::move(keys);
}

void BmhController::stop() {
  stopped_ = true;
  scheduler_.stop();
  if (sweep_timer_) sweep_timer_->cancel();
  for (auto& [key, h] : hosts_) {
    if (h->retry_timer) h->retry_timer->cancel();
    if (h->refresh_timer) h->refresh_timer->cancel();
    if (h->client) h->client->close();
  }
}

void BmhController::on_host(const kube::ObjectPtr& old, const kube::ObjectPtr& now) {
  std::string key;
  host_key(now ? *now : *old, key);
  if (!now) {
    auto it = hosts_.find(key);
    if (it == hosts_.end()) return;
    Host& h = *it->second;
    ++h.epoch;
    if (h.retry_timer) h.retry_timer->cancel();
    if (h.refresh_timer) h.refresh_timer->cancel();
    if (h.client) h.client->close();
    // The Server it was linked to (the recorded one after a restart of ironboot).
    std::string linked = h.linked;
    if (linked.empty())
      if (const auto* status = objects::status_of(*old))
        if (const auto* provisioning = object_at(*status, "provisioning")) linked = string_at(*provisioning, "ID");
    // Its queued sequence (if any) finds the host gone and ends at once; the lane is not
    // dropped, as another host may name the same BMC.
    hosts_.erase(it);
    logger("bmc")->info("baremetalhost={} deleted", key);
    if (!linked.empty()) unlink(key, linked);
    return;
  }
  reconcile(key);
}

void BmhController::on_server(const kube::ObjectPtr& old, const kube::ObjectPtr& now) {
  const json::object& server = now ? *now : *old;
  const std::string name(objects::name_of(server));
  index_server(name, now.get());
  std::vector<std::string> affected;
  const auto macs = macs_of_server_.find(name);
  for (const auto& [key, h] : hosts_) {
    const bool carries = macs != macs_of_server_.end() &&
                         std::find(macs->second.begin(), macs->second.end(), mac_key(h->boot_mac)) != macs->second.end();
    if (h->linked == name || (h->linked.empty() && carries)) affected.push_back(key);
  }
  for (const auto& key : affected) reconcile(key);
}

void BmhController::configure(Host& h, const json::object& host) {
  const auto* spec = objects::spec_of(host);
  h.boot_mac = spec ? std::string(string_at(*spec, "bootMACAddress")) : std::string();
  const json::object& bmc = bmc_block(host);
  std::string config = json::serialize(bmc);
  if (config == h.config && (h.endpoint || !h.endpoint_error.empty())) return;
  ++h.epoch;
  if (h.client) h.client->close();
  if (h.retry_timer) h.retry_timer->cancel();
  h.client.reset();
  h.config = std::move(config);
  h.endpoint.reset();
  h.endpoint_error.clear();
  h.credentials.reset();
  h.credentials_error.reset();
  h.reading_secret = h.busy = h.power_on_sent = h.power_off_sent = h.retry_armed = false;
  h.powered_on.reset();
  h.bmc_error.reset();
  h.backoff = std::chrono::milliseconds(0);
  json::object endpoint{{"endpoint", string_at(bmc, "address")}};
  if (objects::bool_at(bmc, "disableCertificateVerification")) endpoint["insecureSkipVerify"] = true;
  auto parsed = bmc::parse_bmc_spec(endpoint);
  if (const auto* e = std::get_if<bmc::EndpointError>(&parsed)) {
    h.endpoint_error = "spec.bmc.address: " + e->message;
    return;
  }
  h.endpoint = std::get<bmc::BmcSpec>(parsed).endpoint;
  h.lane = bmc::describe(*h.endpoint);
}

void BmhController::read_credentials(const std::string& key, const json::object& host) {
  Host& h = *hosts_.at(key);
  const std::string ns = namespace_of(host);
  const std::string name(string_at(bmc_block(host), "credentialsName"));
  if (name.empty()) {
    h.credentials_error = "spec.bmc.credentialsName is empty";
    return;
  }
  h.reading_secret = true;
  const std::string where = "Secret " + ns + "/" + name;
  cluster_->client().get(
      kube::ResourcePath{"", "v1", "secrets", ns}, name,
      [this, key, where, epoch = h.epoch, alive = std::weak_ptr<int>(alive_)](kube::ApiReply reply) {
        if (alive.expired() || stopped_) return;
        auto it = hosts_.find(key);
        if (it == hosts_.end() || it->second->epoch != epoch) return;
        Host& h = *it->second;
        h.reading_secret = false;
        bmc::BmcCredentials creds;
        std::string error;
        const auto* data = reply.ok() && reply.object() ? object_at(*reply.object(), "data") : nullptr;
        auto value = [&](const char* k, std::string& out) {
          const auto* v = data ? data->if_contains(k) : nullptr;
          auto decoded = v && v->is_string() ? base64_decode(v->get_string()) : std::nullopt;
          if (decoded) out = std::move(*decoded);
          else if (error.empty()) error = where + " has no key " + k;
        };
        if (reply.not_found()) error = where + " not found";
        else if (!reply.ok() || !reply.object()) error = where + " unreadable: " + reply.message;
        else {
          value("username", creds.username);
          value("password", creds.password);
        }
        if (!error.empty()) {
          const bool changed = h.credentials_error != error;
          h.credentials.reset();
          h.credentials_error = error;
          if (changed)
            if (auto host = cluster_->baremetalhosts().get(key)) events_.warning(*host, "CredentialsError", error);
          logger("bmc")->warn("baremetalhost={} credentials: {}", key, error);
          arm_retry(key, h.backoff, true);
        } else {
          h.credentials = std::move(creds);
          h.credentials_error.reset();
        }
        reconcile(key);
      });
}

kube::ObjectPtr BmhController::linked_server(const json::object& host) const {
  // The Server already recorded (by its name, the SMBIOS UUID) stays linked whatever its NICs
  // say later; otherwise the one whose interfaces carry the boot MAC.
  const auto* status = objects::status_of(host);
  const auto* provisioning = status ? object_at(*status, "provisioning") : nullptr;
  const std::string id = provisioning ? std::string(string_at(*provisioning, "ID")) : std::string();
  if (!id.empty())
    if (auto server = cluster_->servers().get(id)) return server;
  const auto* spec = objects::spec_of(host);
  const std::string mac = spec ? std::string(string_at(*spec, "bootMACAddress")) : std::string();
  const auto names = servers_by_mac_.find(mac_key(mac));
  if (names == servers_by_mac_.end()) return nullptr;
  // Two Servers with one MAC (a NIC moved between machines): the first by name that has it now.
  for (const auto& name : names->second)
    if (auto server = cluster_->servers().get(name); server && server_has_mac(*server, mac)) return server;
  return nullptr;
}

void BmhController::reconcile(const std::string& key) {
  if (stopped_ || !cluster_) return;
  const kube::ObjectPtr host = cluster_->baremetalhosts().get(key);
  if (!host) return;
  auto& slot = hosts_[key];
  if (!slot) slot = std::make_unique<Host>();
  Host& h = *slot;
  configure(h, *host);
  if (h.endpoint && !h.credentials && !h.credentials_error && !h.reading_secret) read_credentials(key, *host);

  const kube::ObjectPtr server = linked_server(*host);
  BmhInput in{*host, h.credentials_error, server.get(), h.power_on_sent, h.bmc_error, h.powered_on};
  if (!h.endpoint_error.empty()) in.bmc_error = "InvalidSpec: " + h.endpoint_error;
  const BmhPlan plan = reconcile_bmh(in);
  // What to do is decided as if nothing had failed: a failed step is tried again after its
  // backoff while the status still shows the failure.
  BmhInput action = in;
  action.credentials_error.reset();
  action.bmc_error.reset();
  const BmhPlan wanted = reconcile_bmh(action);
  const bool want_power_on = wanted.power_on_pxe;
  const bool ready = h.endpoint && h.credentials && !h.busy && !h.retry_armed;
  if (ready && want_power_on) power_on_pxe(key);
  else if (ready && !server && ((wanted.power_off && !h.power_off_sent) || !h.powered_on))
    read_power(key, wanted.power_off && !h.power_off_sent);  // the power known, an offline host off
  else if (h.endpoint && h.credentials && !server && !want_power_on && !h.refresh_armed && !h.busy) {
    // Not linked yet: the controller itself keeps poweredOn current.
    h.refresh_armed = true;
    if (!h.refresh_timer) h.refresh_timer = std::make_shared<boost::asio::steady_timer>(io_);
    h.refresh_timer->expires_after(options_.power_refresh);
    h.refresh_timer->async_wait([this, key, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (ec || alive.expired() || stopped_) return;
      auto it = hosts_.find(key);
      if (it == hosts_.end()) return;
      it->second->refresh_armed = false;
      it->second->power_off_sent = false;
      read_power(key);
    });
  }

  const auto* provisioning = object_at(plan.status, "provisioning");
  const std::string state = provisioning ? std::string(string_at(*provisioning, "state")) : std::string();
  if (!h.state.empty() && state != h.state) events_.normal(*host, "StateChanged", h.state + " -> " + state);
  h.state = state;
  if (server) {
    if (h.linked != plan.link_server)
      events_.normal(*host, "Linked", "Server " + plan.link_server + " (boot MAC " + h.boot_mac + ")");
    h.linked = plan.link_server;
    link(key, *host, *server, plan);
  }
  write_status(key, *host, plan.status);
}

// ---- BMC sequences

namespace {

// One BMC sequence's completion: exactly once, whichever of the last step and the deadline
// comes first.
struct Sequence {
  std::function<void(BmcStatus)> complete;
  std::shared_ptr<boost::asio::steady_timer> deadline;
  std::function<bool()> wanted;  // the controller and the host (same configuration) still exist
  bool done = false;
  void finish(BmcStatus st) {
    if (done) return;
    done = true;
    deadline->cancel();
    complete(std::move(st));
  }
  // After a step: false (and finished) when it failed or the host went away meanwhile.
  bool next(const BmcStatus& st) {
    if (done) return false;
    if (!st.ok()) finish(st);
    else if (!wanted()) finish(BmcStatus::failure("Cancelled", "the host was deleted or its spec.bmc changed"));
    return !done;
  }
};

}  // namespace

BmhController::Host* BmhController::live(const std::string& key, unsigned epoch) {
  if (stopped_) return nullptr;
  auto i = hosts_.find(key);
  return i != hosts_.end() && i->second->epoch == epoch ? i->second.get() : nullptr;
}

// One client per host, made again when its credentials changed (a corrected Secret).
void BmhController::ensure_client(Host& h) {
  if (h.client && h.client_credentials == *h.credentials) return;
  if (h.client) h.client->close();
  h.client = factory_->make(*h.endpoint, *h.credentials);
  h.client_credentials = *h.credentials;
}

void BmhController::power_on_pxe(const std::string& key) {
  Host& h = *hosts_.at(key);
  h.busy = true;
  ensure_client(h);
  std::weak_ptr<int> alive = alive_;
  scheduler_.submit(h.lane, [this, key, alive, epoch = h.epoch, client = h.client](std::function<void()> finished) {
    if (alive.expired() || stopped_) return finished();
    auto it = hosts_.find(key);
    if (it == hosts_.end() || it->second->epoch != epoch) return finished();
    auto seq = std::make_shared<Sequence>();
    seq->deadline = std::make_shared<boost::asio::steady_timer>(io_, options_.operation_timeout);
    seq->complete = [this, key, alive, epoch, finished = std::move(finished)](BmcStatus st) {
      finished();
      // Posted: a client that completes at once must not re-enter reconcile().
      boost::asio::post(io_, [this, key, alive, epoch, st = std::move(st)] {
        if (alive.expired()) return;
        auto i = hosts_.find(key);
        if (i == hosts_.end() || i->second->epoch != epoch) return;
        operation_done(key, st, Operation::PowerOnPxe);
      });
    };
    seq->deadline->async_wait([seq, client](const boost::system::error_code& ec) {
      if (ec) return;
      seq->finish(BmcStatus::failure("Timeout", "PXE once + power on did not end in time"));
      client->close();
    });
    // Registration as Metal3 does it: PXE once, then power on (a cycle when it is on already),
    // then the power state as the BMC reports it.
    seq->wanted = [this, key, alive, epoch] { return !alive.expired() && live(key, epoch); };
    client->power_status([this, key, seq, client](BmcStatus st, PowerState before) {
      if (!seq->next(st)) return;
      client->set_next_boot(bmc::BootOverride{}, [this, key, seq, client, before](BmcStatus st2) {
        if (!seq->next(st2)) return;
        const auto action = before == PowerState::On ? bmc::PowerAction::Cycle : bmc::PowerAction::On;
        client->power(action, [this, key, seq, client](BmcStatus st3) {
          if (!seq->next(st3)) return;
          client->power_status([this, key, seq](BmcStatus st4, PowerState after) {
            // Powered on: a failed read after it is only a missing reading.
            if (st4.ok() && !seq->done && seq->wanted()) hosts_.at(key)->powered_on = after == PowerState::On;
            seq->finish(BmcStatus::success());
          });
        });
      });
    });
  });
}

void BmhController::read_power(const std::string& key, bool off) {
  Host& h = *hosts_.at(key);
  if (h.busy || !h.endpoint || !h.credentials) return;
  h.busy = true;
  ensure_client(h);
  std::weak_ptr<int> alive = alive_;
  scheduler_.submit(h.lane, [this, key, alive, off, epoch = h.epoch, client = h.client](std::function<void()> finished) {
    if (alive.expired() || stopped_) return finished();
    if (auto it = hosts_.find(key); it == hosts_.end() || it->second->epoch != epoch) return finished();
    auto seq = std::make_shared<Sequence>();
    seq->deadline = std::make_shared<boost::asio::steady_timer>(io_, options_.operation_timeout);
    seq->complete = [this, key, alive, off, epoch, finished = std::move(finished)](BmcStatus st) {
      finished();
      boost::asio::post(io_, [this, key, alive, off, epoch, st = std::move(st)] {
        if (alive.expired()) return;
        auto i = hosts_.find(key);
        if (i == hosts_.end() || i->second->epoch != epoch) return;
        operation_done(key, st, off ? Operation::PowerOff : Operation::Read);
      });
    };
    seq->deadline->async_wait([seq, client](const boost::system::error_code& ec) {
      if (ec) return;
      seq->finish(BmcStatus::failure("Timeout", "power off / status did not end in time"));
      client->close();
    });
    seq->wanted = [this, key, alive, epoch] { return !alive.expired() && live(key, epoch); };
    auto read = [this, key, seq, client] {
      client->power_status([this, key, seq](BmcStatus st, PowerState power) {
        if (seq->next(st)) hosts_.at(key)->powered_on = power == PowerState::On;
        seq->finish(st);
      });
    };
    if (!off) return read();
    client->power(bmc::PowerAction::Off, [seq, read](BmcStatus st) {
      if (seq->next(st)) read();
    });
  });
}

void BmhController::operation_done(const std::string& key, const BmcStatus& st, Operation op) {
  Host& h = *hosts_.at(key);
  h.busy = false;
  const auto host = cluster_->baremetalhosts().get(key);
  const std::string where = h.endpoint ? bmc::describe(*h.endpoint) : std::string();
  const char* what = op == Operation::PowerOnPxe ? "PXE once + power on" : op == Operation::PowerOff ? "power off" : "power status";
  if (st.ok()) {
    h.bmc_error.reset();
    h.backoff = std::chrono::milliseconds(0);
    if (op == Operation::PowerOnPxe) {
      h.power_on_sent = true;
      logger("bmc")->info("baremetalhost={} PXE once, powered on bmc={}", key, where);
      if (host) events_.normal(*host, "PowerOn", "PXE once, powered on through " + where + ": registering");
    } else if (op == Operation::PowerOff) {
      // Not again before the next refresh, whatever the BMC reports meanwhile.
      h.power_off_sent = true;
      logger("bmc")->info("baremetalhost={} powered off (online: false) bmc={}", key, where);
      if (host) events_.normal(*host, "PowerOff", "powered off through " + where + ": online is false");
    }
  } else {
    const std::string error = text_of(st);
    logger("bmc")->warn("baremetalhost={} bmc={} {} failed: {}", key, where, what, error);
    if (host && h.bmc_error != error)
      events_.warning(*host, "BMCError", std::string(what) + " through " + where + " failed: " + error);
    h.bmc_error = error;
    if (op != Operation::PowerOnPxe) h.powered_on.reset();
    arm_retry(key, h.backoff, true);
  }
  reconcile(key);
}

void BmhController::arm_retry(const std::string& key, std::chrono::milliseconds previous, bool reread_secret) {
  Host& h = *hosts_.at(key);
  if (h.retry_armed) return;
  h.backoff = previous.count() == 0 ? options_.min_backoff : std::min(options_.max_backoff, previous * 2);
  // Jitter in [backoff/2, backoff]: BMCs of one rack that failed together do not retry together.
  std::uniform_int_distribution<long> jitter(h.backoff.count() / 2, h.backoff.count());
  h.retry_armed = true;
  if (!h.retry_timer) h.retry_timer = std::make_shared<boost::asio::steady_timer>(io_);
  h.retry_timer->expires_after(std::chrono::milliseconds(jitter(jitter_rng_)));
  h.retry_timer->async_wait([this, key, reread_secret, epoch = h.epoch, alive = std::weak_ptr<int>(alive_)](
                                const boost::system::error_code& ec) {
    if (ec || alive.expired() || stopped_) return;
    auto it = hosts_.find(key);
    if (it == hosts_.end() || it->second->epoch != epoch) return;
    Host& h = *it->second;
    h.retry_armed = false;
    // The Secret is read again: a fixed password takes effect on the retry.
    if (reread_secret && !h.reading_secret) {
      h.credentials.reset();
      if (auto host = cluster_->baremetalhosts().get(key)) read_credentials(key, *host);
      return;
    }
    reconcile(key);
  });
}

// ---- writes

void BmhController::write_status(const std::string& key, const json::object& host, const json::object& desired) {
  Host& h = *hosts_.at(key);
  const auto* current_ptr = objects::status_of(host);
  const json::object current = current_ptr ? *current_ptr : json::object{};
  if (comparable(current) == comparable(desired)) return;
  if (h.writing) {
    h.write_again = true;
    return;
  }
  json::object next = desired;
  next["lastUpdated"] = format_rfc3339(std::chrono::system_clock::now());
  // errorCount: Metal3 counts consecutive failures, and clears it on success.
  std::int64_t count = 0;
  if (const auto* c = current.if_contains("errorCount"); c && c->is_int64()) count = c->get_int64();
  if (string_at(desired, "operationalStatus") != "error") count = 0;
  else if (string_at(desired, "errorMessage") != string_at(current, "errorMessage")) ++count;
  next["errorCount"] = count;
  const json::value patch = json::object{{"status", kube::merge_diff(current, next)}};
  const std::string name(objects::name_of(host));
  h.writing = true;
  cluster_->client().patch(
      hosts_in(namespace_of(host)), name, kube::PatchType::Merge, patch,
      [this, key, alive = std::weak_ptr<int>(alive_)](kube::ApiReply reply) {
        if (alive.expired()) return;
        auto it = hosts_.find(key);
        if (it == hosts_.end()) return;
        Host& h = *it->second;
        h.writing = false;
        if (!reply.ok()) logger("bmc")->warn("baremetalhost={} status write failed: {} {}", key, reply.status, reply.message);
        // The informer brings the written status back; a change made meanwhile (or a failed
        // write, after a pause) is written from the object as it is then.
        if (h.write_again || !reply.ok()) {
          h.write_again = false;
          if (reply.ok()) return reconcile(key);
          arm_retry(key, h.backoff, false);
        }
      },
      true);
}

void BmhController::unlink(const std::string& key, const std::string& server) {
  const auto current = cluster_->servers().get(server);
  if (!current || server_unlink_patch(key, *current).empty()) return;
  cluster_->writes().enqueue(
      "servers", server,
      [key](const json::object* current) -> std::optional<json::object> {
        if (!current) return std::nullopt;
        const json::object patch = server_unlink_patch(key, *current);
        if (patch.empty()) return std::nullopt;
        return kube::merge_patch(*current, patch).as_object();
      },
      [key, server, alive = std::weak_ptr<int>(alive_)](const kube::ApiReply& reply) {
        if (alive.expired()) return;
        if (!reply.ok()) logger("bmc")->warn("baremetalhost={} unlinking Server {} failed: {}", key, server, reply.message);
        else logger("bmc")->info("baremetalhost={} deleted: server={} unlinked", key, server);
      });
}

void BmhController::link(const std::string& key, const json::object& host, const json::object& server,
                         const BmhPlan& plan) {
  Host& h = *hosts_.at(key);
  if (h.linking || server_link_patch(host, server, plan).empty()) return;
  h.linking = true;
  cluster_->writes().enqueue(
      "servers", plan.link_server,
      [host_copy = host, plan](const json::object* current) -> std::optional<json::object> {
        if (!current) return std::nullopt;
        const json::object patch = server_link_patch(host_copy, *current, plan);
        if (patch.empty()) return std::nullopt;
        return kube::merge_patch(*current, patch).as_object();
      },
      [this, key, server = plan.link_server, alive = std::weak_ptr<int>(alive_)](const kube::ApiReply& reply) {
        if (alive.expired()) return;
        auto it = hosts_.find(key);
        if (it != hosts_.end()) it->second->linking = false;
        if (!reply.ok()) logger("bmc")->warn("baremetalhost={} linking Server {} failed: {}", key, server, reply.message);
        else logger("bmc")->info("baremetalhost={} linked server={}", key, server);
      });
}

}  // namespace ironboot::discovery
