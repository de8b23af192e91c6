#include "kube/write_queue.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <random>

#include "common/log.hpp"
#include "kube/json_ops.hpp"
#include "kube/resource_type.hpp"

namespace ironboot::kube {

namespace json = boost::json;

WriteQueue::WriteQueue(boost::asio::io_context& io, KubeClient& client) : io_(io), client_(client) {}

WriteQueue::~WriteQueue() { alive_.reset(); }

std::size_t WriteQueue::pending() const {
  std::size_t n = 0;
  for (const auto& [k, q] : queues_) n += q.size();
  return n;
}

void WriteQueue::enqueue(const std::string& resource, const std::string& name, Mutation mutation, Done done, bool status) {
  const std::string key = resource + "/" + name;
  auto& q = queues_[key];
  q.push_back(Item{resource, name, std::move(mutation), std::move(done), status, 0, {}});
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
    std::optional<json::object> desired = item.mutation(current);
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
