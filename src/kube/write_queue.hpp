// Writes that must not be lost while the API is unreachable. Each write is a function of
// the object's current state (null when it does not exist) returning the desired object
// (nullopt: nothing to do).
//
// The current state comes without a request when it can: from the previous write of the
// object in this queue (the API's answer), else from the caller's caches (set_cache: the
// informers). The queue applies the function and creates (POST) or updates (PUT with that
// resourceVersion). A stale cache costs a 409 (or a 404, or an AlreadyExists), after which
// the queue reads the object (GET) and applies the function again. A write that turns out
// to change nothing is confirmed against a read too: a lagging cache must not make the
// queue drop a write. Without a cache every write reads first.
//
// Coalescing: writes of one object and kind (main resource or status) that are not yet in
// flight merge into one pending write. A write tagged `supersede` replaces a pending one with
// the same tag (the latest boot's facts win); any other composes after it. So an object has
// at most one write in flight and one pending per kind, however long the API is away.
// A pending write applies its untagged writes in order, then the latest write of each tag
// (tags own fields no untagged write touches, like a Server's hardware facts).
//
// Order and backoff: writes go out oldest first (by the time their pending write was
// queued), at most max_in_flight at a time, one at a time per object. A transient failure
// (no answer, 429, 5xx, 401) pauses the whole queue with exponential backoff and jitter (at
// least Retry-After); after a pause one write probes the API alone, and the rest follow when
// it gets an answer. During an outage that is one request per backoff, not one per object.
//
// Memory: each pending write counts what it holds (the caller says how much its mutation
// captured; merge() counts its patch); above max_bytes new writes are refused (done gets
// 503 reason QueueFull) instead of growing without bound. Gauges
// ironboot_kube_write_queue_{pending,bytes,peak_bytes}, counters for retries, reads,
// coalesced and refused writes.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kube/client.hpp"
#include "kube/store.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::kube {

class WriteQueue {
 public:
  using Mutation = std::function<std::optional<boost::json::object>(const boost::json::object* current)>;
  using Done = std::function<void(const ApiReply&)>;
  // What the caller's caches know of resource/name: nullopt when they cannot tell (not
  // cached, not synced), a null pointer when the object does not exist.
  using Known = std::optional<ObjectPtr>;
  using Cache = std::function<Known(const std::string& resource, const std::string& name)>;

  WriteQueue(boost::asio::io_context& io, KubeClient& client);
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  void set_cache(Cache cache) { cache_ = std::move(cache); }

  // Creates or updates resource/name (the main resource; `status` = the status subresource).
  // `bytes`: what `mutation` holds (its captures), for the memory budget. False (and `done`
  // called with 503 QueueFull) when the budget is spent.
  bool enqueue(const std::string& resource, const std::string& name, Mutation mutation, Done done = {},
               bool status = false, std::size_t bytes = 0);
  // Like enqueue, replacing (not composing with) a pending write of this object that has the
  // same non-empty tag. The replaced write's `done` still runs, with the reply of the write
  // that replaced it.
  bool enqueue_superseding(const std::string& resource, const std::string& name, std::string tag, Mutation mutation,
                           Done done = {}, bool status = false, std::size_t bytes = 0);
  // Convenience: a JSON merge patch applied to the current object. A missing main object is
  // created from `patch` (apiVersion, kind and name filled in); a missing object's status
  // patch is dropped.
  bool merge(const std::string& resource, const std::string& name, const boost::json::object& patch, bool status = false,
             Done done = {});
  // Whether a new write holding `bytes` would be accepted now.
  bool has_room(std::size_t bytes) const;

  std::size_t pending() const { return pending_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t peak_bytes() const { return peak_bytes_; }
  std::uint64_t retries() const { return retries_; }
  std::uint64_t coalesced() const { return coalesced_; }
  std::uint64_t reads() const { return reads_; }
  std::uint64_t refused() const { return refused_; }

  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  std::size_t max_conflict_retries = 50;
  std::size_t max_in_flight = 16;
  std::size_t max_bytes = 64u << 20;

 private:
  struct Tagged {
    std::string tag;
    Mutation mutation;
    std::size_t bytes = 0;
  };
  struct Item {
    std::string resource, name;
    bool status = false;
    std::uint64_t seq = 0;  // when it was queued: the order writes go out in
    Mutation untagged;      // untagged writes, composed in order (may be empty)
    std::size_t untagged_bytes = 0;
    std::vector<Tagged> tagged;  // applied after `untagged`; a later one of a tag replaces the earlier
    Done done;
    std::size_t conflicts = 0;
    std::size_t bytes() const;
  };
  struct Key {
    std::deque<Item> items;
    bool busy = false;       // the front item is in flight
    bool have_fresh = false;  // `fresh` is the API's latest answer for the object
    ObjectPtr fresh;          // null: the object does not exist
  };
  struct Alive {};

  bool push(const std::string& resource, const std::string& name, bool status, std::string tag, Mutation mutation,
            std::size_t bytes, Done done);
  void dispatch();
  void attempt(const std::string& key);
  void read(const std::string& key);
  void send(const std::string& key, const ObjectPtr& base, bool fresh);
  void on_reply(const std::string& key, ApiReply reply, bool created);
  void finish(const std::string& key, const ApiReply& reply);
  void failed(const std::string& key, const ApiReply& reply);
  void reachable();
  void resume();
  void account(std::ptrdiff_t delta);
  static std::optional<boost::json::object> apply(const Item& item, const boost::json::object* current);

  boost::asio::io_context& io_;
  KubeClient& client_;
  Cache cache_;
  std::map<std::string, Key> keys_;                       // key = resource/name
  std::set<std::pair<std::uint64_t, std::string>> ready_;  // (front item's seq, key): waiting to go out
  std::uint64_t seq_ = 0;
  std::size_t in_flight_ = 0;
  bool paused_ = false;
  bool probing_ = false;  // after a pause: one write at a time until the API answers
  std::chrono::milliseconds backoff_{0};

  std::uint64_t retries_ = 0;
  std::uint64_t coalesced_ = 0;
  std::uint64_t reads_ = 0;
  std::uint64_t refused_ = 0;
  std::size_t pending_ = 0;
  std::size_t bytes_ = 0;
  std::size_t peak_bytes_ = 0;
  std::shared_ptr<Alive> alive_ = std::make_shared<Alive>();
};

}  // namespace ironboot::kube
