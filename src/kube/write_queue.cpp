#include "kube/write_queue.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <algorithm>
#include <random>

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "kube/json_ops.hpp"
#include "kube/resource_type.hpp"

namespace ironboot::kube {

namespace json = boost::json;

WriteQueue::WriteQueue(boost::asio::io_context& io, KubeClient& client) : io_(io), client_(client) {}

WriteQueue::~WriteQueue() { alive_.reset(); }

namespace {

Gauge& pending_gauge() {
  return metrics().gauge("ironboot_kube_write_queue_pending",
                         "Writes to the cluster API waiting or in flight (at most one in flight and one pending "
                         "per object and kind)");
}

Counter& coalesced_counter() {
  return metrics().counter("ironboot_kube_write_queue_coalesced_total",
                           "Writes merged into a pending write of the same object instead of queued");
}

// Both callbacks, the earlier first, with the reply of the write that carried them.
WriteQueue::Done chain(WriteQueue::Done first, WriteQueue::Done second) {
  if (!first) return second;
  if (!second) return first;
  return [first = std::move(first), second = std::move(second)](const ApiReply& reply) {
    first(reply);
    second(reply);
  };
}

}  // namespace

std::size_t WriteQueue::pending() const { return pending_; }

void WriteQueue::update_gauge() { pending_gauge().set(static_cast<double>(pending_)); }

void WriteQueue::enqueue(const std::string& resource, const std::string& name, Mutation mutation, Done done, bool status) {
  push(resource + "/" + name, Item{resource, name, std::move(mutation), std::move(done), status, {}, 0, {}}, {});
}

void WriteQueue::enqueue_superseding(const std::string& resource, const std::string& name, std::string tag,
                                     Mutation mutation, Done done, bool status) {
  push(resource + "/" + name, Item{resource, name, std::move(mutation), std::move(done), status, {}, 0, {}},
       std::move(tag));
}

namespace {

// `second` applied to what `first` made of `current` (or to `current` when `first` had
// nothing to do); nullopt when neither changes anything.
WriteQueue::Mutation compose(WriteQueue::Mutation first, WriteQueue::Mutation second) {
  if (!first) return second;
  return [first = std::move(first), second = std::move(second)](
             const boost::json::object* current) -> std::optional<boost::json::object> {
    std::optional<boost::json::object> after_first = first(current);
    const boost::json::object* base = after_first ? &*after_first : current;
    std::optional<boost::json::object> after_second = second(base);
    return after_second ? std::move(after_second) : std::move(after_first);
  };
}

}  // namespace

std::optional<json::object> WriteQueue::apply(const Item& item, const json::object* current) {
  Mutation all = item.mutation;
  for (const auto& [tag, m] : item.tagged) all = compose(std::move(all), m);
  if (!all) return std::nullopt;
  return all(current);
}

void WriteQueue::push(const std::string& key, Item item, std::string tag) {
  if (!tag.empty()) {
    item.tagged.emplace_back(std::move(tag), std::move(item.mutation));
    item.mutation = nullptr;
  }
  auto& q = queues_[key];
  // The front item is in flight (or backing off); only the ones behind it may merge.
  for (std::size_t i = 1; i < q.size(); ++i) {
    Item& pending = q[i];
    if (pending.status != item.status) continue;
    if (item.mutation) pending.mutation = compose(std::move(pending.mutation), std::move(item.mutation));
    for (auto& write : item.tagged) {
      const std::string& tag = write.first;
      auto same = std::find_if(pending.tagged.begin(), pending.tagged.end(), [&](const auto& e) { return e.first == tag; });
      if (same != pending.tagged.end()) {
        same->second = std::move(write.second);
      } else {
        pending.tagged.push_back(std::move(write));
      }
    }
    pending.done = chain(std::move(pending.done), std::move(item.done));
    ++coalesced_;
    coalesced_counter().inc();
    return;
  }
  q.push_back(std::move(item));
  ++pending_;
  update_gauge();
  if (q.size() == 1) attempt(key);
}

void WriteQueue::merge(const std::string& resource, const std::string& name, const json::object& patch, bool status, Done done) {
  enqueue(
      resource, name,
      [patch, name, resource, status](const json::object* current) -> std::optional<json::object> {
        if (!current) {
          if (status) return std::nullopt;  // no object to set the status of
          json::value created = merge_patch(json::object{}, patch);
          auto& o = created.as_object();
          const ResourceType* t = find_resource_type(resource);
          o["apiVersion"] = kApiVersion;
          if (t) o["kind"] = t->kind;
          if (!o["metadata"].is_object()) o["metadata"] = json::object{};
          o["metadata"].as_object()["name"] = name;
          return o;
        }
        json::value next = merge_patch(*current, patch);
        if (next == json::value(*current)) return std::nullopt;
        return next.as_object();
      },
      std::move(done), status);
}

void WriteQueue::attempt(const std::string& key) {
  auto qit = queues_.find(key);
  if (qit == queues_.end() || qit->second.empty()) return;
  const Item& item = qit->second.front();
  std::weak_ptr<Alive> alive = alive_;
  client_.get(item.resource, item.name, [this, alive, key](ApiReply got) {
    if (alive.expired()) return;
    auto qit = queues_.find(key);
    if (qit == queues_.end() || qit->second.empty()) return;
    Item& item = qit->second.front();
    if (!got.ok() && !got.not_found()) {
      if (got.transient()) return backoff(key, got.retry_after);
      return finish(key, got);
    }
    const json::object* current = got.ok() ? got.object() : nullptr;
    std::optional<json::object> desired = apply(item, current);
    if (!desired) {
      ApiReply nothing = got;
      nothing.status = got.ok() ? 200 : 204;
      return finish(key, nothing);
    }
    auto after = [this, alive, key](ApiReply r) {
      if (alive.expired()) return;
      auto qit = queues_.find(key);
      if (qit == queues_.end() || qit->second.empty()) return;
      Item& item = qit->second.front();
      if (r.ok()) return finish(key, r);
      if (r.conflict() || (r.status == 404 && !item.status)) {
        // Someone else wrote (or deleted/created) first: re-read and re-apply.
        if (++item.conflicts > max_conflict_retries) return finish(key, r);
        ++retries_;
        return attempt(key);
      }
      if (r.transient()) return backoff(key, r.retry_after);
      logger("kube")->warn("write rejected key={} status={} reason={} message=\"{}\"", key, r.status, r.reason, r.message);
      finish(key, r);
    };
    if (!current) {
      client_.create(item.resource, *desired, after);
      return;
    }
    // Guard the update with the resourceVersion we read.
    auto& meta = (*desired)["metadata"];
    if (!meta.is_object()) meta = json::object{};
    meta.as_object()["resourceVersion"] = current->at("metadata").at("resourceVersion");
    meta.as_object()["name"] = item.name;
    client_.update(item.resource, *desired, after, item.status);
  });
}

void WriteQueue::finish(const std::string& key, const ApiReply& reply) {
  auto qit = queues_.find(key);
  if (qit == queues_.end() || qit->second.empty()) return;
  Done done = std::move(qit->second.front().done);
  qit->second.pop_front();
  --pending_;
  update_gauge();
  const bool more = !qit->second.empty();
  if (!more) queues_.erase(qit);
  if (done) done(reply);
  if (more) attempt(key);
}

void WriteQueue::backoff(const std::string& key, std::chrono::seconds retry_after) {
  static std::mt19937 rng{std::random_device{}()};
  auto qit = queues_.find(key);
  if (qit == queues_.end() || qit->second.empty()) return;
  Item& item = qit->second.front();
  ++retries_;
  item.backoff = item.backoff.count() == 0 ? min_backoff : std::min(max_backoff, item.backoff * 2);
  std::uniform_int_distribution<long> jitter(item.backoff.count() / 2, item.backoff.count());
  std::chrono::milliseconds wait(jitter(rng));
  if (retry_after.count() > 0) wait = std::max<std::chrono::milliseconds>(wait, retry_after);
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, wait);
  std::weak_ptr<Alive> alive = alive_;
  timer->async_wait([this, alive, key, timer](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) attempt(key);
  });
}

}  // namespace ironboot::kube
