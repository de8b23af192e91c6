// Writes that must not be lost while the API is unreachable. Each write is a function of
// the object's current state (null when it does not exist) returning the desired object
// (nullopt: nothing to do). The queue reads the current object, applies the function and
// creates or updates with its resourceVersion; a 409 re-reads and re-applies; transient
// failures (no answer, 429 with Retry-After, 5xx, 401) back off with jitter and retry
// forever. Writes for one object run in order; different objects run concurrently.
// While one write of an object is in flight, later writes of the same kind (main resource or
// status) coalesce into one pending write: a write tagged `supersede` replaces a pending
// one with the same tag (the latest boot's facts win), any other is applied after it by
// one composed mutation. So an object has at most one write in flight and one pending per
// kind, however long the API is away; ironboot_kube_write_queue_pending counts them. A
// pending write applies its untagged writes in order, then the latest write of each tag
// (tags own fields no untagged write touches, like a Server's hardware facts).
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kube/client.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::kube {

class WriteQueue {
 public:
  using Mutation = std::function<std::optional<boost::json::object>(const boost::json::object* current)>;
  using Done = std::function<void(const ApiReply&)>;

  WriteQueue(boost::asio::io_context& io, KubeClient& client);
  ~WriteQueue();

  // Creates or updates resource/name (the main resource; `status` = the status subresource).
  void enqueue(const std::string& resource, const std::string& name, Mutation mutation, Done done = {}, bool status = false);
  // Like enqueue, replacing (not composing with) a pending write of this object that has the
  // same non-empty tag. The replaced write's `done` still runs, with the reply of the write
  // that replaced it.
  void enqueue_superseding(const std::string& resource, const std::string& name, std::string tag, Mutation mutation,
                           Done done = {}, bool status = false);
  // Convenience: a JSON merge patch applied to the current object. A missing main object is
  // created from `patch` (apiVersion, kind and name filled in); a missing object's status
  // patch is dropped.
  void merge(const std::string& resource, const std::string& name, const boost::json::object& patch, bool status = false,
             Done done = {});

  std::size_t pending() const;
  std::uint64_t retries() const { return retries_; }
  std::uint64_t coalesced() const { return coalesced_; }

  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  std::size_t max_conflict_retries = 50;

 private:
  struct Item {
    std::string resource, name;
    Mutation mutation;  // untagged writes, composed in order (may be empty)
    Done done;
    bool status = false;
    // enqueue_superseding's writes by tag, applied after `mutation`; a later one of a tag
    // replaces the earlier.
    std::vector<std::pair<std::string, Mutation>> tagged;
    std::size_t conflicts = 0;
    std::chrono::milliseconds backoff{0};
  };
  struct Alive {};
  void run(const std::string& key);
  void attempt(const std::string& key);
  void finish(const std::string& key, const ApiReply& reply);
  void backoff(const std::string& key, std::chrono::seconds retry_after);

  boost::asio::io_context& io_;
  KubeClient& client_;
  std::map<std::string, std::deque<Item>> queues_;  // key = resource/name
  void push(const std::string& key, Item item, std::string tag);
  static std::optional<boost::json::object> apply(const Item& item, const boost::json::object* current);
  void update_gauge();

  std::uint64_t retries_ = 0;
  std::uint64_t coalesced_ = 0;
  std::size_t pending_ = 0;
  std::shared_ptr<Alive> alive_ = std::make_shared<Alive>();
};

}  // namespace ironboot::kube
