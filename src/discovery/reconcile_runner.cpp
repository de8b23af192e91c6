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
  // Each Server's place in every class is kept by its resourceVersion and recomputed only
  // when the Server or the classes changed: in a boot storm a walk used to parse every
  // accepted Server again (the cache keeps text) for each of the thousands of events.
  // The cache hands out the same compiled class until the class's spec changes
  // (generation), so the list of them says whether the places still hold.
  std::vector<std::shared_ptr<const serverclass::CompiledClass>> compiled;
  for (const auto* c : classes) compiled.push_back(matchers_.get(*c));
  if (compiled != places_classes_) {
    places_.clear();
    places_classes_ = compiled;
  }
  // places_ is updated in place, in step with the cache's name order: a walk over 10,000
  // unchanged Servers allocated and moved 10,000 map entries into a new map.
  auto cursor = places_.begin();
  cluster_->servers().for_each(
      [&](const std::string& name, const kube::ObjectPtr& s) {
        ++placements_;
        const auto* md = objects::object_at(*s, "metadata");
        Place place{std::string(md ? objects::string_at(*md, "resourceVersion") : std::string_view{}), {}};
        if (serverclass::server_is_eligible(*s) && !objects::name_of(*s).empty()) {
          const bool in_use = objects::status_bool(*s, "inUse");
          place.in_class.reserve(compiled.size());
          for (const auto& cls : compiled)
            place.in_class.push_back(cls->valid() && cls->matches(*s) ? (in_use ? Place::in_use : Place::available)
                                                                        : Place::none);
        }
        if (cursor != places_.end() && cursor->first == name) {
          cursor->second = std::move(place);
          ++cursor;
        } else {
          places_.emplace_hint(cursor, name, std::move(place));
        }
      },
      [&](const std::string& name, const std::string& rv) {
        // Places before `name` belong to Servers no longer cached.
        while (cursor != places_.end() && cursor->first < name) cursor = places_.erase(cursor);
        if (cursor == places_.end() || cursor->first != name || cursor->second.rv != rv) return true;
        ++cursor;
        return false;
      });
  places_.erase(cursor, places_.end());
  std::vector<serverclass::ClassStatus> merged(compiled.size());
  for (std::size_t i = 0; i < compiled.size(); ++i) {
    merged[i].name = compiled[i]->name();
    merged[i].error = compiled[i]->error();
  }
  // places_ is in name order, so the lists come out sorted.
  for (const auto& [name, place] : places_) {
    for (std::size_t i = 0; i < place.in_class.size() && i < merged.size(); ++i) {
      if (place.in_class[i] == Place::available) merged[i].servers_available.push_back(name);
      else if (place.in_class[i] == Place::in_use) merged[i].servers_in_use.push_back(name);
    }
  }
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
