// Writes that must not be lost while the API is unreachable. Each write is a function of
// the object's current state (null when it does not exist) returning the desired object
// (nullopt: nothing to do). The queue reads the current object, applies the function and
// creates or updates with its resourceVersion; a 409 re-reads and re-applies; transient
// failures (no answer, 429 with Retry-After, 5xx, 401) back off with jitter and retry
// forever. Writes for one object run in order; different objects run concurrently.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

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
  // Convenience: a JSON merge patch applied to the current object; nothing is written when it
  // changes nothing. A missing object is created from `patch` (with apiVersion, kind and
  // metadata.name filled in), except for a status patch, which then does nothing.
  void merge(const std::string& resource, const std::string& name, const boost::json::object& patch, bool status = false,
             Done done = {});

  std::size_t pending() const;
  std::uint64_t retries() const { return retries_; }

  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  std::size_t max_conflict_retries = 50;

 private:
  struct Item {
    std::string resource, name;
    Mutation mutation;
    Done done;
    bool status = false;
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
  std::uint64_t retries_ = 0;
  std::shared_ptr<Alive> alive_ = std::make_shared<Alive>();
};

}  // namespace ironboot::kube
