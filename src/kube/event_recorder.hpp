// core/v1 Events about objects, for any subsystem (docs/discovery.md "Events"). Recording is
// in-memory work only: the correlator (EventCorrelator, pure) turns a record into a create or
// a count bump of an Event written earlier, and the sink queues the write and sends it later
// on the io_context, so DHCP/TFTP/HTTP handlers may record. Events are best-effort: the queue
// is bounded (the oldest write goes first), a write is tried a bounded number of times, and a
// write the API refuses (e.g. 404 from an API without Events) is dropped with a debug line.
// Everything runs on the io_context thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "kube/client.hpp"

namespace ironboot {
class Counter;
}

namespace ironboot::kube {

// What an Event is about (core/v1 ObjectReference).
struct ObjectRef {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string namespace_;  // "" for cluster-scoped objects
  std::string uid;
  std::string resource_version;

  // From an object's apiVersion, kind and metadata.
  static ObjectRef of(const boost::json::object& object);
  boost::json::object to_json() const;
};

enum class EventType { Normal, Warning };
const char* to_string(EventType type);

// The namespace an Event about `object` lives in: its own, or "default" for cluster-scoped
// objects (as kube-apiserver and client-go do).
std::string event_namespace(const ObjectRef& object);
// "<object name>.<16 hex digits of Unix nanoseconds>", the name client-go gives an Event.
std::string event_name(std::string_view object_name, std::uint64_t unix_nanos);
// The message as recorded: URL userinfo ("http://user:secret@host") replaced by "redacted@",
// and at most 1024 bytes. Callers must still never pass tokens or secret values.
std::string sanitize_event_message(std::string_view message);

struct EventRecorderOptions {
  std::string component = "ironboot";  // source.component
  std::string host;                    // source.host and reportingInstance (the hostname)
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
  // The same event again within this time of the last one bumps count on the same Event.
  std::chrono::seconds aggregation_window{600};
  std::size_t cache_entries = 4096;  // LRU of recent events and of per-object token buckets
  // Per involved object (and source): a token bucket of `burst` tokens, one more every
  // `refill_interval` (client-go's spam filter: 25, 1 per 5 min).
  double burst = 25;
  std::chrono::seconds refill_interval{300};
  std::size_t max_queued = 1000;   // writes waiting for the API; beyond, the oldest is dropped
  unsigned max_attempts = 12;      // per write, on transient failures (client-go: 12)
  std::chrono::milliseconds retry_delay{10000};  // between attempts, with jitter (client-go: 10 s)
};

// What to do for one recorded event (pure; the clock is passed in).
class EventCorrelator {
 public:
  struct Result {
    bool skip = false;          // rate-limited: nothing to write
    bool patch = false;         // bump the existing Event `name` instead of creating it
    std::string name;           // the Event's name
    std::uint64_t count = 1;
    std::chrono::system_clock::time_point first, last;
  };
  explicit EventCorrelator(const EventRecorderOptions& options) : options_(options) {}
  // `key` identifies the event (source, involved object, type, reason, message); `object_key`
  // the involved object and source (the rate limit's bucket).
  Result correlate(const std::string& key, const std::string& object_key, std::string_view object_name,
                   std::chrono::system_clock::time_point now);
  std::size_t cached() const { return events_.size(); }

 private:
  struct Seen {
    std::string name;
    std::uint64_t count = 0;
    std::chrono::system_clock::time_point first, last;
  };
  struct Bucket {
    double tokens = 0;
    std::chrono::system_clock::time_point updated;
  };
  template <class V>
  struct Lru {
    std::list<std::string> order;  // most recent first
    std::unordered_map<std::string, std::pair<V, std::list<std::string>::iterator>> map;
    V* find(const std::string& key);
    V& insert(const std::string& key, V value, std::size_t capacity);
    std::size_t size() const { return map.size(); }
  };
  bool allow(const std::string& object_key, std::chrono::system_clock::time_point now);

  const EventRecorderOptions& options_;
  Lru<Seen> events_;
  Lru<Bucket> buckets_;
  std::uint64_t last_nanos_ = 0;  // Event names stay unique when the clock repeats
};

class EventRecorder {
 public:
  struct Stats {
    std::uint64_t recorded = 0, created = 0, patched = 0;
    std::uint64_t rate_limited = 0, queue_dropped = 0, rejected = 0, abandoned = 0;
  };

  EventRecorder(boost::asio::io_context& io, KubeClient& client, EventRecorderOptions options = {});
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Records `reason` / `message` about `object`; `controller` is the reportingComponent
  // ("ironboot.dev/discovery"). Never waits; the write happens later.
  void record(const ObjectRef& object, EventType type, std::string_view reason, std::string_view message,
              std::string_view controller);

  // Drops what is queued and records nothing more (shutdown; a waiting retry is cancelled).
  void stop();

  std::size_t queued() const { return queue_.size(); }
  const Stats& stats() const { return stats_; }

 private:
  struct Write {
    std::string namespace_, name;
    boost::json::object event;  // the whole Event (a patch whose Event is gone creates it)
    bool patch = false;
    unsigned attempts = 0;
  };
  void enqueue(Write write);
  void pump();
  void send_front();
  void finished(const ApiReply& reply);

  boost::asio::io_context& io_;
  KubeClient& client_;
  EventRecorderOptions options_;
  EventCorrelator correlator_;
  std::deque<Write> queue_;  // front is in flight while sending_
  bool sending_ = false;
  bool pump_posted_ = false;
  bool stopped_ = false;
  std::shared_ptr<boost::asio::steady_timer> retry_timer_;
  Stats stats_;
  Counter* dropped_rate_limited_;
  Counter* dropped_queue_full_;
  Counter* dropped_failed_;
  Counter* written_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted handlers and timers check it
};

// What a subsystem holds: the recorder and its reportingComponent. Default-constructed (before
// the cluster layer is there) it records nothing.
class EventReporter {
 public:
  EventReporter() = default;
  EventReporter(EventRecorder& recorder, std::string controller) : recorder_(&recorder), controller_(std::move(controller)) {}

  void normal(const boost::json::object& object, std::string_view reason, std::string_view message) const {
    record(object, EventType::Normal, reason, message);
  }
  void warning(const boost::json::object& object, std::string_view reason, std::string_view message) const {
    record(object, EventType::Warning, reason, message);
  }
  void record(const boost::json::object& object, EventType type, std::string_view reason,
              std::string_view message) const {
    if (recorder_) recorder_->record(ObjectRef::of(object), type, reason, message, controller_);
  }

 private:
  EventRecorder* recorder_ = nullptr;
  std::string controller_;
};

}  // namespace ironboot::kube
