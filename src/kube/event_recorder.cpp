#include "kube/event_recorder.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <cstdio>
#include <random>

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/time.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxMessageBytes = 1024;
constexpr std::size_t kMaxNameBytes = 253;

std::string_view string_member(const json::object* o, std::string_view key) {
  const auto* v = o ? o->if_contains(key) : nullptr;
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

// Joins the parts with a separator no Kubernetes name or reason contains.
template <class... Parts>
std::string join_key(const Parts&... parts) {
  std::string out;
  ((out.append(parts), out.push_back('\x1f')), ...);
  return out;
}

ResourcePath events_in(const std::string& ns) { return ResourcePath{"", "v1", "events", ns}; }

}  // namespace

ObjectRef ObjectRef::of(const json::object& object) {
  const auto* meta = object.if_contains("metadata");
  const json::object* m = meta && meta->is_object() ? &meta->get_object() : nullptr;
  ObjectRef r;
  r.api_version = std::string(string_member(&object, "apiVersion"));
  r.kind = std::string(string_member(&object, "kind"));
  r.name = std::string(string_member(m, "name"));
  r.namespace_ = std::string(string_member(m, "namespace"));
  r.uid = std::string(string_member(m, "uid"));
  r.resource_version = std::string(string_member(m, "resourceVersion"));
  return r;
}

json::object ObjectRef::to_json() const {
  json::object o{{"apiVersion", api_version}, {"kind", kind}, {"name", name}};
  if (!namespace_.empty()) o["namespace"] = namespace_;
  if (!uid.empty()) o["uid"] = uid;
  if (!resource_version.empty()) o["resourceVersion"] = resource_version;
  return o;
}

const char* to_string(EventType type) { return type == EventType::Warning ? "Warning" : "Normal"; }

std::string event_namespace(const ObjectRef& object) { return object.namespace_.empty() ? "default" : object.namespace_; }

std::string event_name(std::string_view object_name, std::uint64_t unix_nanos) {
  char suffix[24];
  std::snprintf(suffix, sizeof suffix, ".%016llx", static_cast<unsigned long long>(unix_nanos));
  const std::size_t keep = std::min(object_name.size(), kMaxNameBytes - std::string_view(suffix).size());
  return std::string(object_name.substr(0, keep)) + suffix;
}

std::string sanitize_event_message(std::string_view message) {
  std::string out;
  std::size_t pos = 0;
  while (true) {
    const auto scheme_end = message.find("://", pos);
    if (scheme_end == std::string_view::npos) break;
    const std::size_t start = scheme_end + 3;
    std::size_t end = message.find_first_of("/?# \t\r\n\"'<>", start);
    if (end == std::string_view::npos) end = message.size();
    const auto at = message.substr(start, end - start).rfind('@');
    out.append(message.substr(pos, start - pos));
    if (at != std::string_view::npos) {
      out.append("redacted");
      out.append(message.substr(start + at, end - start - at));
    } else {
      out.append(message.substr(start, end - start));
    }
    pos = end;
  }
  out.append(message.substr(pos));
  if (out.size() > kMaxMessageBytes) {
    std::size_t cut = kMaxMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // UTF-8 boundary
    out.resize(cut);
  }
  return out;
}

// ---- EventCorrelator ----

template <class V>
V* EventCorrelator::Lru<V>::find(const std::string& key) {
  auto it = map.find(key);
  if (it == map.end()) return nullptr;
  order.splice(order.begin(), order, it->second.second);
  return &it->second.first;
}

template <class V>
V& EventCorrelator::Lru<V>::insert(const std::string& key, V value, std::size_t capacity) {
  if (auto* v = find(key)) {
    *v = std::move(value);
    return *v;
  }
  while (!order.empty() && map.size() >= std::max<std::size_t>(capacity, 1)) {
    map.erase(order.back());
    order.pop_back();
  }
  order.push_front(key);
  auto [it, _] = map.emplace(key, std::make_pair(std::move(value), order.begin()));
  return it->second.first;
}

bool EventCorrelator::allow(const std::string& object_key, std::chrono::system_clock::time_point now) {
  Bucket* b = buckets_.find(object_key);
  if (!b) b = &buckets_.insert(object_key, Bucket{options_.burst, now}, options_.cache_entries);
  if (now > b->updated) {
    const double refill = std::chrono::duration<double>(now - b->updated).count() /
                          std::chrono::duration<double>(options_.refill_interval).count();
    b->tokens = std::min(options_.burst, b->tokens + refill);
  }
  b->updated = std::max(b->updated, now);
  if (b->tokens < 1) return false;
  b->tokens -= 1;
  return true;
}

EventCorrelator::Result EventCorrelator::correlate(const std::string& key, const std::string& object_key,
                                                   std::string_view object_name,
                                                   std::chrono::system_clock::time_point now) {
  Result r;
  Seen* seen = events_.find(key);
  if (seen && now - seen->last < options_.aggregation_window) {
    // The same event again: one more on the Event written before (as client-go's EventLogger).
    seen->count += 1;
    seen->last = std::max(seen->last, now);
    r.patch = true;
  } else {
    const auto nanos = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
    last_nanos_ = std::max(nanos, last_nanos_ + 1);
    seen = &events_.insert(key, Seen{event_name(object_name, last_nanos_), 1, now, now}, options_.cache_entries);
  }
  r.name = seen->name;
  r.count = seen->count;
  r.first = seen->first;
  r.last = seen->last;
  // Counted above even when dropped here, so the next Event written carries every occurrence.
  r.skip = !allow(object_key, now);
  return r;
}

// ---- EventRecorder ----

EventRecorder::EventRecorder(boost::asio::io_context& io, KubeClient& client, EventRecorderOptions options)
    : io_(io), client_(client), options_(std::move(options)), correlator_(options_) {
  const std::string dropped = "ironboot_kube_events_dropped_total";
  const std::string help = "Events not written: rate-limited per object, oldest dropped from the full queue, or failed";
  dropped_rate_limited_ = &metrics().counter(dropped, help, {{"reason", "rate_limited"}});
  dropped_queue_full_ = &metrics().counter(dropped, help, {{"reason", "queue_full"}});
  dropped_failed_ = &metrics().counter(dropped, help, {{"reason", "failed"}});
  written_ = &metrics().counter("ironboot_kube_events_written_total", "Event creates and count updates the API accepted");
}

EventRecorder::~EventRecorder() { alive_.reset(); }

void EventRecorder::stop() {
  stopped_ = true;
  if (retry_timer_) retry_timer_->cancel();
  retry_timer_.reset();
  queue_.clear();  // an answer still in flight finds the queue empty
}

void EventRecorder::record(const ObjectRef& object, EventType type, std::string_view reason, std::string_view message,
                           std::string_view controller) {
  if (stopped_) return;
  ++stats_.recorded;
  const auto now = options_.now();
  const std::string text = sanitize_event_message(message);
  const std::string object_key = join_key(options_.component, options_.host, object.api_version, object.kind,
                                          object.namespace_, object.name, object.uid);
  const std::string key = join_key(object_key, std::string_view(to_string(type)), reason, text);
  const auto r = correlator_.correlate(key, object_key, object.name, now);
  if (r.skip) {
    ++stats_.rate_limited;
    dropped_rate_limited_->inc();
    logger("kube")->debug("event rate-limited object={}/{} reason={} count={}", object.kind, object.name, reason,
                          r.count);
    return;
  }
  const std::string ns = event_namespace(object);
  json::object source{{"component", options_.component}};
  if (!options_.host.empty()) source["host"] = options_.host;
  json::object event{{"apiVersion", "v1"},
                     {"kind", "Event"},
                     {"metadata", json::object{{"name", r.name}, {"namespace", ns}}},
                     {"involvedObject", object.to_json()},
                     {"reason", reason},
                     {"message", text},
                     {"type", to_string(type)},
                     {"source", std::move(source)},
                     {"firstTimestamp", format_rfc3339(r.first)},
                     {"lastTimestamp", format_rfc3339(r.last)},
                     {"count", r.count},
                     {"eventTime", nullptr},
                     {"reportingComponent", controller},
                     {"reportingInstance", options_.host}};
  enqueue(Write{ns, r.name, std::move(event), r.patch, 0});
}

void EventRecorder::enqueue(Write write) {
  const std::size_t first_waiting = sending_ ? 1 : 0;
  if (write.patch) {
    // A newer count for an Event whose write is still waiting replaces that write's content.
    for (std::size_t i = first_waiting; i < queue_.size(); ++i) {
      if (queue_[i].name == write.name && queue_[i].namespace_ == write.namespace_) {
        queue_[i].event = std::move(write.event);
        return;
      }
    }
  }
  if (queue_.size() - first_waiting >= std::max<std::size_t>(options_.max_queued, 1)) {
    const Write& oldest = queue_[first_waiting];
    logger("kube")->debug("event dropped (queue full) name={}/{}", oldest.namespace_, oldest.name);
    queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(first_waiting));
    ++stats_.queue_dropped;
    dropped_queue_full_->inc();
  }
  queue_.push_back(std::move(write));
  pump();
}

void EventRecorder::pump() {
  if (sending_ || pump_posted_ || queue_.empty() || stopped_) return;
  // Posted: whoever recorded returns before any I/O starts.
  pump_posted_ = true;
  boost::asio::post(io_, [this, alive = std::weak_ptr<int>(alive_)] {
    if (alive.expired()) return;
    pump_posted_ = false;
    if (!sending_ && !queue_.empty() && !stopped_) send_front();
  });
}

void EventRecorder::send_front() {
  sending_ = true;
  Write& w = queue_.front();
  ++w.attempts;
  auto done = [this, alive = std::weak_ptr<int>(alive_)](ApiReply reply) {
    if (!alive.expired()) finished(reply);
  };
  if (w.patch) {
    const json::object patch{{"count", w.event.at("count")},
                             {"lastTimestamp", w.event.at("lastTimestamp")},
                             {"message", w.event.at("message")}};
    client_.patch(events_in(w.namespace_), w.name, PatchType::Merge, patch, std::move(done));
  } else {
    client_.create(events_in(w.namespace_), w.event, std::move(done));
  }
}

void EventRecorder::finished(const ApiReply& reply) {
  if (queue_.empty()) {
    sending_ = false;
    return;
  }
  Write& w = queue_.front();
  auto drop = [this](Counter* counter, std::uint64_t& stat) {
    if (counter) counter->inc();
    ++stat;
    queue_.pop_front();
    sending_ = false;
    if (stopped_) queue_.clear();
    pump();
  };
  if (reply.ok()) {
    written_->inc();
    return drop(nullptr, w.patch ? stats_.patched : stats_.created);
  }
  if (w.patch && reply.not_found() && !stopped_) {
    // The Event expired (or its create was dropped): write it whole, as client-go does.
    w.patch = false;
    return send_front();
  }
  auto log = logger("kube");
  if (reply.transient() && !stopped_) {
    if (w.attempts >= options_.max_attempts) {
      log->debug("event dropped after {} attempts name={}/{} status={} message=\"{}\"", w.attempts, w.namespace_,
                 w.name, reply.status, reply.message);
      return drop(dropped_failed_, stats_.abandoned);
    }
    static std::mt19937 rng{std::random_device{}()};
    const auto base = options_.retry_delay.count();
    std::uniform_int_distribution<long long> jitter(base, base + base / 4);
    std::chrono::milliseconds wait(jitter(rng));
    wait = std::max<std::chrono::milliseconds>(wait, reply.retry_after);
    retry_timer_ = std::make_shared<boost::asio::steady_timer>(io_, wait);
    retry_timer_->async_wait([this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
      if (ec || alive.expired()) return;
      retry_timer_.reset();
      if (!queue_.empty()) send_front();
    });
    return;
  }
  // Refused (400, 403, 404 from an API without Events, 409 already exists): not retried.
  log->debug("event not written name={}/{} reason={} status={} message=\"{}\"", w.namespace_, w.name,
             std::string(w.event.at("reason").as_string()), reply.status, reply.message);
  drop(dropped_failed_, stats_.rejected);
}

}  // namespace ironboot::kube
