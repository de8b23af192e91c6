#include "discovery/reconcile_runner.hpp"

#include "common/log.hpp"
#include "common/time.hpp"
#include "kube/cluster_context.hpp"
#include "kube/objects.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <map>

namespace ironboot::discovery {

namespace json = boost::json;

ReconcileRunner::ReconcileRunner(boost::asio::io_context& io, const Clock& clock, std::function<void()> on_reconciled)
    : io_(io), clock_(clock), on_reconciled_(std::move(on_reconciled)) {}

ReconcileRunner::~ReconcileRunner() { alive_.reset(); }

void ReconcileRunner::start(kube::ClusterContext& cluster) {
  cluster_ = &cluster;
  auto on_event = [this, alive = std::weak_ptr<int>(alive_)](const kube::ObjectPtr&, const kube::ObjectPtr&) {
    if (!alive.expired()) schedule();
  };
  cluster.servers().add_handler(on_event);
  cluster.serverclasses().add_handler(on_event);
  schedule();
}

void ReconcileRunner::stop() { stopped_ = true; }

// A reconcile walks every Server against every class, so in a boot storm (thousands of
// Server events) running one per event would be quadratic. Events arriving while one is
// pending share it, and the next starts no sooner than twice the last one's cost after it
// ended: the reconciler takes at most a third of the loop, and an idle appliance still
// reconciles at once.
void ReconcileRunner::schedule() {
  if (scheduled_ || stopped_) return;
  scheduled_ = true;
  std::weak_ptr<int> alive = alive_;
  auto run = [this, alive] {
    if (alive.expired()) return;
    scheduled_ = false;
    const auto started = std::chrono::steady_clock::now();
    reconcile();
    last_end_ = std::chrono::steady_clock::now();
    last_cost_ = last_end_ - started;
  };
  const auto earliest = last_end_ + 2 * last_cost_;
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

void ReconcileRunner::reconcile() {
  if (!cluster_ || stopped_) return;
  if (!cluster_->servers().synced() || !cluster_->serverclasses().synced()) {
    // Not listed yet: look again shortly (an empty list fires no event).
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(200));
    std::weak_ptr<int> alive = alive_;
    timer->async_wait([this, alive, timer](const boost::system::error_code& ec) {
      if (!ec && !alive.expired()) schedule();
    });
    return;
  }
  std::vector<kube::ObjectPtr> class_objects = cluster_->serverclasses().objects();
  std::vector<const json::object*> classes;
  std::vector<std::string> names;
  for (const auto& c : class_objects) {
    classes.push_back(c.get());
    names.emplace_back(objects::name_of(*c));
  }
  // The Server cache keeps text (kube/informer.hpp): Servers are parsed a chunk at a time so
  // a walk never holds every tree. Chunks come in name order, so the merged lists stay sorted.
  constexpr std::size_t kChunk = 256;
  std::vector<kube::ObjectPtr> chunk;
  std::vector<serverclass::ClassStatus> merged;
  bool first = true;
  auto run_chunk = [&] {
    std::vector<const json::object*> servers;
    for (const auto& s : chunk) servers.push_back(s.get());
    auto part = serverclass::reconcile(servers, classes, matchers_);
    chunk.clear();
    if (first) {
      merged = std::move(part);
      first = false;
      return;
    }
    for (std::size_t i = 0; i < merged.size() && i < part.size(); ++i) {
      auto append = [](std::vector<std::string>& to, std::vector<std::string>& from) {
        to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
      };
      append(merged[i].servers_available, part[i].servers_available);
      append(merged[i].servers_in_use, part[i].servers_in_use);
    }
  };
  // Only eligible Servers are matched: one known not to be at its current resourceVersion is
  // not parsed again.
  std::map<std::string, std::pair<std::string, bool>> eligibility;
  cluster_->servers().for_each(
      [&](const std::string& name, const kube::ObjectPtr& s) {
        const bool eligible = serverclass::server_is_eligible(*s);
        const auto* md = objects::object_at(*s, "metadata");
        eligibility[name] = {std::string(md ? objects::string_at(*md, "resourceVersion") : std::string_view{}), eligible};
        if (!eligible) return;
        chunk.push_back(s);
        if (chunk.size() == kChunk) run_chunk();
      },
      [&](const std::string& name, const std::string& rv) {
        auto known = eligibility_.find(name);
        if (known != eligibility_.end() && known->second.first == rv && !known->second.second) {
          eligibility.emplace(name, known->second);
          return false;
        }
        return true;
      });
  eligibility_ = std::move(eligibility);
  if (first || !chunk.empty()) run_chunk();
  memberships_ = std::move(merged);
  have_memberships_ = true;
  if (on_reconciled_) on_reconciled_();  // decisions read the new memberships
  matchers_.retain_only(names);
  const std::string stamp = format_rfc3339(clock_.now());
  auto log = logger("discovery");
  for (std::size_t i = 0; i < classes.size() && i < memberships_.size(); ++i) {
    if (auto patch = serverclass::status_patch(*classes[i], memberships_[i], stamp)) {
      const std::string name = memberships_[i].name;
      std::string text = json::serialize(*patch);
      auto [it, inserted] = writes_in_flight_.try_emplace(name, text);
      if (!inserted && it->second == text) continue;
      it->second = text;
      if (memberships_[i].error)
        log->warn("serverclass invalid name={} error=\"{}\"", name, memberships_[i].error->text());
      log->debug("serverclass status name={} available={} in_use={}", name, memberships_[i].servers_available.size(),
                 memberships_[i].servers_in_use.size());
      std::weak_ptr<int> alive = alive_;
      cluster_->writes().merge("serverclasses", name, *patch, true, [this, alive, name, text](const kube::ApiReply&) {
        if (alive.expired()) return;
        auto found = writes_in_flight_.find(name);
        if (found != writes_in_flight_.end() && found->second == text) writes_in_flight_.erase(found);
      });
    }
  }
  if (!serverclass::has_any_class(classes) && !any_create_pending_) {
    any_create_pending_ = true;
    log->info("creating serverclass any");
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

}  // namespace ironboot::discovery
