#include "kube/write_queue.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
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

namespace {

// What a queued write costs beyond what its mutation captured: the std::function, the
// composing closure around it, the item's strings.
constexpr std::size_t kWriteOverhead = 256;

Gauge& pending_gauge() {
  return metrics().gauge("ironboot_kube_write_queue_pending",
                         "Writes to the cluster API waiting or in flight (at most one in flight and one pending "
                         "per object and kind)");
}
Gauge& bytes_gauge() {
  return metrics().gauge("ironboot_kube_write_queue_bytes", "Memory held by the writes waiting for the cluster API");
}
Gauge& peak_bytes_gauge() {
  return metrics().gauge("ironboot_kube_write_queue_peak_bytes",
                         "The most memory the writes waiting for the cluster API held since start");
}
Counter& coalesced_counter() {
  return metrics().counter("ironboot_kube_write_queue_coalesced_total",
                           "Writes merged into a pending write of the same object instead of queued");
}
Counter& retries_counter() {
  return metrics().counter("ironboot_kube_write_queue_retries_total",
                           "Writes to the cluster API tried again (transient failure or conflict)");
}
Counter& reads_counter() {
  return metrics().counter("ironboot_kube_write_queue_reads_total",
                           "Objects read before a write because no cache knew them or a write met a conflict");
}
Counter& refused_counter() {
  return metrics().counter("ironboot_kube_write_queue_refused_total",
                           "Writes refused because the queue's memory budget was spent");
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

// `second` applied to what `first` made of `current` (or to `current` when `first` had
// nothing to do); nullopt when neither changes anything.
WriteQueue::Mutation compose(WriteQueue::Mutation first, WriteQueue::Mutation second) {
  if (!first) return second;
  if (!second) return first;
  return [first = std::move(first), second = std::move(second)](
             const boost::json::object* current) -> std::optional<boost::json::object> {
    std::optional<boost::json::object> after_first = first(current);
    const boost::json::object* base = after_first ? &*after_first : current;
    std::optional<boost::json::object> after_second = second(base);
    return after_second ? std::move(after_second) : std::move(after_first);
  };
}

}  // namespace

WriteQueue::WriteQueue(boost::asio::io_context& io, KubeClient& client) : io_(io), client_(client) {}

WriteQueue::~WriteQueue() { alive_.reset(); }

std::size_t WriteQueue::Item::bytes() const {
  std::size_t n = kWriteOverhead + resource.size() + 1 + name.size() + untagged_bytes;
  for (const auto& t : tagged) n += t.bytes + t.tag.size();
  return n;
}

std::optional<json::object> WriteQueue::apply(const Item& item, const json::object* current) {
  Mutation all = item.untagged;
  for (const auto& t : item.tagged) all = compose(std::move(all), t.mutation);
  if (!all) return std::nullopt;
  return all(current);
}

bool WriteQueue::has_room(std::size_t bytes) const { return bytes_ + bytes + kWriteOverhead <= max_bytes; }

void WriteQueue::account(std::ptrdiff_t delta) {
  bytes_ = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(bytes_) + delta);
  peak_bytes_ = std::max(peak_bytes_, bytes_);
  bytes_gauge().set(static_cast<double>(bytes_));
  peak_bytes_gauge().set(static_cast<double>(peak_bytes_));
  pending_gauge().set(static_cast<double>(pending_));
}

bool WriteQueue::enqueue(const std::string& resource, const std::string& name, Mutation mutation, Done done, bool status,
                         std::size_t bytes) {
  return push(resource, name, status, {}, std::move(mutation), bytes, std::move(done));
}

bool WriteQueue::enqueue_superseding(const std::string& resource, const std::string& name, std::string tag,
                                     Mutation mutation, Done done, bool status, std::size_t bytes) {
  return push(resource, name, status, std::move(tag), std::move(mutation), bytes, std::move(done));
}

bool WriteQueue::push(const std::string& resource, const std::string& name, bool status, std::string tag,
                      Mutation mutation, std::size_t bytes, Done done) {
  const std::string key = resource + "/" + name;
  auto kit = keys_.find(key);
  // A pending write of the same kind that is not in flight takes this one.
  Item* into = nullptr;
  if (kit != keys_.end()) {
    auto& items = kit->second.items;
    for (std::size_t i = kit->second.busy ? 1 : 0; i < items.size() && !into; ++i)
      if (items[i].status == status) into = &items[i];
  }
  // What the write adds (a replaced tagged write frees what it held).
  std::size_t adds = bytes + tag.size() + (into ? 0 : kWriteOverhead + key.size());
  std::vector<Tagged>::iterator same;
  if (into && !tag.empty()) {
    same = std::find_if(into->tagged.begin(), into->tagged.end(), [&](const Tagged& t) { return t.tag == tag; });
    if (same != into->tagged.end()) adds -= std::min(adds, same->bytes + same->tag.size());
  }
  if (adds > 0 && bytes_ + adds > max_bytes) {
    ++refused_;
    refused_counter().inc();
    logger("kube")->warn("write refused key={} reason=queue_full bytes={} max_bytes={}", key, bytes_, max_bytes);
    if (done) {
      ApiReply full{503, "QueueFull", "the write queue's memory budget is spent", {}, {}};
      boost::asio::post(io_, [done = std::move(done), full] { done(full); });
    }
    return false;
  }
  if (into) {
    const std::size_t before = into->bytes();
    if (tag.empty()) {
      into->untagged = compose(std::move(into->untagged), std::move(mutation));
      into->untagged_bytes += bytes;
    } else if (same != into->tagged.end()) {
      same->mutation = std::move(mutation);
      same->bytes = bytes;
    } else {
      into->tagged.push_back(Tagged{std::move(tag), std::move(mutation), bytes});
    }
    into->done = chain(std::move(into->done), std::move(done));
    ++coalesced_;
    coalesced_counter().inc();
    account(static_cast<std::ptrdiff_t>(into->bytes()) - static_cast<std::ptrdiff_t>(before));
    return true;
  }
  Item item{resource, name, status, ++seq_, {}, 0, {}, std::move(done), 0};
  if (tag.empty()) {
    item.untagged = std::move(mutation);
    item.untagged_bytes = bytes;
  } else {
    item.tagged.push_back(Tagged{std::move(tag), std::move(mutation), bytes});
  }
  const auto holds = static_cast<std::ptrdiff_t>(item.bytes());
  Key& k = keys_[key];
  k.items.push_back(std::move(item));
  ++pending_;
  account(holds);
  if (k.items.size() == 1) {
    ready_.emplace(k.items.front().seq, key);
    dispatch();
  }
  return true;
}

bool WriteQueue::merge(const std::string& resource, const std::string& name, const json::object& patch, bool status,
                       Done done) {
  return enqueue(
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
      std::move(done), status, json_heap_bytes(patch));
}

void WriteQueue::dispatch() {
  while (!paused_ && !ready_.empty() && in_flight_ < (probing_ ? 1 : max_in_flight)) {
    const std::string key = ready_.begin()->second;
    ready_.erase(ready_.begin());
    auto kit = keys_.find(key);
    if (kit == keys_.end() || kit->second.items.empty()) continue;
    kit->second.busy = true;
    ++in_flight_;
    attempt(key);
  }
}

void WriteQueue::attempt(const std::string& key) {
  Key& k = keys_.at(key);
  if (k.have_fresh) return send(key, k.fresh, true);
  const Item& item = k.items.front();
  if (cache_) {
    if (Known known = cache_(item.resource, item.name)) return send(key, *known, false);
  }
  read(key);
}

void WriteQueue::read(const std::string& key) {
  const Item& item = keys_.at(key).items.front();
  ++reads_;
  reads_counter().inc();
  std::weak_ptr<Alive> alive = alive_;
  client_.get(item.resource, item.name, [this, alive, key](ApiReply got) {
    if (alive.expired()) return;
    if (!got.ok() && !got.not_found()) {
      if (got.transient()) return failed(key, got);
      reachable();
      return finish(key, got);
    }
    reachable();
    Key& k = keys_.at(key);
    k.have_fresh = true;
    k.fresh = got.ok() && got.object() ? std::make_shared<const json::object>(std::move(got.body.as_object())) : nullptr;
    send(key, k.fresh, true);
  });
}

void WriteQueue::send(const std::string& key, const ObjectPtr& base, bool fresh) {
  Key& k = keys_.at(key);
  const Item& item = k.items.front();
  std::optional<json::object> desired = apply(item, base.get());
  if (!desired) {
    // Nothing to do by a cache's word: make sure on the object itself.
    if (!fresh) return read(key);
    ApiReply nothing;
    nothing.status = base ? 200 : 204;
    if (base) nothing.body = *base;
    return finish(key, nothing);
  }
  std::weak_ptr<Alive> alive = alive_;
  const bool create = !base;
  auto after = [this, alive, key, create](ApiReply r) {
    if (!alive.expired()) on_reply(key, std::move(r), create);
  };
  if (create) return client_.create(item.resource, *desired, after);
  // Guard the update with the resourceVersion of the state the mutation saw.
  auto& meta = (*desired)["metadata"];
  if (!meta.is_object()) meta = json::object{};
  const auto* base_meta = base->if_contains("metadata");
  const auto* rv = base_meta && base_meta->is_object() ? base_meta->as_object().if_contains("resourceVersion") : nullptr;
  meta.as_object()["resourceVersion"] = rv ? *rv : json::value("");
  meta.as_object()["name"] = item.name;
  client_.update(item.resource, *desired, after, item.status);
}

void WriteQueue::on_reply(const std::string& key, ApiReply r, bool created) {
  Key& k = keys_.at(key);
  Item& item = k.items.front();
  if (r.transient()) return failed(key, r);
  reachable();
  if (r.ok()) {
    // The API's answer is the object's latest state: the base of this object's next write.
    k.have_fresh = r.object() != nullptr;
    k.fresh = r.object() ? std::make_shared<const json::object>(*r.object()) : nullptr;
    return finish(key, r);
  }
  const bool gone = r.not_found() && !created && !item.status;
  if (r.conflict() || gone) {
    // Someone else wrote (or deleted, or created) first: read and apply again; a main object
    // that is gone is created.
    if (++item.conflicts > max_conflict_retries) return finish(key, r);
    ++retries_;
    retries_counter().inc();
    k.have_fresh = gone;
    k.fresh = nullptr;
    if (gone) return send(key, nullptr, true);
    return read(key);
  }
  logger("kube")->warn("write rejected key={} status={} reason={} message=\"{}\"", key, r.status, r.reason, r.message);
  finish(key, r);
}

void WriteQueue::finish(const std::string& key, const ApiReply& reply) {
  auto kit = keys_.find(key);
  Key& k = kit->second;
  Item item = std::move(k.items.front());
  k.items.pop_front();
  k.busy = false;
  --in_flight_;
  --pending_;
  account(-static_cast<std::ptrdiff_t>(item.bytes()));
  if (k.items.empty()) {
    keys_.erase(kit);  // and with it the object's state: the caches know it from here on
  } else {
    ready_.emplace(k.items.front().seq, key);
  }
  if (item.done) item.done(reply);
  dispatch();
}

void WriteQueue::failed(const std::string& key, const ApiReply& reply) {
  Key& k = keys_.at(key);
  k.busy = false;
  --in_flight_;
  ready_.emplace(k.items.front().seq, key);  // keeps its place: the oldest goes first again
  ++retries_;
  retries_counter().inc();
  if (paused_) return;
  static std::mt19937 rng{std::random_device{}()};
  backoff_ = backoff_.count() == 0 ? min_backoff : std::min(max_backoff, backoff_ * 2);
  std::uniform_int_distribution<long> jitter(backoff_.count() / 2, backoff_.count());
  std::chrono::milliseconds wait(jitter(rng));
  wait = std::max<std::chrono::milliseconds>(wait, reply.retry_after);
  logger("kube")->debug("write queue paused key={} status={} reason={} wait_ms={} pending={}", key, reply.status,
                        reply.reason, wait.count(), pending_);
  paused_ = true;
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, wait);
  std::weak_ptr<Alive> alive = alive_;
  timer->async_wait([this, alive, timer](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) resume();
  });
}

void WriteQueue::resume() {
  paused_ = false;
  probing_ = true;
  dispatch();
}

void WriteQueue::reachable() {
  if (backoff_.count() == 0 && !probing_) return;
  if (probing_) logger("kube")->info("write queue resumed pending={}", pending_);
  backoff_ = std::chrono::milliseconds(0);
  probing_ = false;
  // dispatch() follows when the write that got the answer finishes.
}

}  // namespace ironboot::kube
