// The embedded API's request handling, without sockets: a parsed HTTP request plus the
// Store in, a response (or a watch plan) out. Implements the apiserver semantics listed in
// docs/cluster.md for the metal.sidero.dev resources and the built-in types (namespaces,
// secrets, configmaps, events, leases), discovery, /version and /openapi/v3. Requests are
// routed by their RequestInfo (request_info.hpp); per-type rules are in api_core_types.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "kube/resource_type.hpp"
#include "kube/selector.hpp"
#include "kube/store.hpp"

namespace ironboot::kube {

struct ApiRequest {
  std::string method;
  std::string target;  // origin-form: path?query
  std::string accept;
  std::string content_type;
  std::string body;
};

struct ApiResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct WatchPlan {
  const ResourceType* type = nullptr;
  std::string namespace_name;  // "" for all namespaces (and for cluster-scoped types)
  bool table = false;
  bool send_initial = false;  // resourceVersion unset or "0": every object as ADDED first
  // sendInitialEvents=true: a BOOKMARK annotated k8s.io/initial-events-end follows them.
  bool initial_events_end = false;
  std::uint64_t since = 0;
  LabelSelector labels;
  FieldSelector fields;
  bool bookmarks = false;
  std::chrono::seconds timeout{1800};
};

struct ApiResult {
  ApiResponse response;
  std::optional<WatchPlan> watch;  // set: stream events instead of sending `response`
  bool wrote = false;              // the store changed: answer only once it is durable
};

// Events are kept for `ttl` after they were last seen and at most `max_events` of them.
struct EventLimits {
  std::chrono::seconds ttl{3600};
  std::size_t max_events = 100000;
};

class ApiHandler {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using UidSource = std::function<std::string()>;

  ApiHandler(Store& store, Clock clock, UidSource uid);

  ApiResult handle(const ApiRequest& request);

  // Creates the namespaces that exist from the start (default, kube-system, kube-public,
  // ironboot-system) when the store lacks them. True when it wrote.
  bool ensure_initial_namespaces();
  void set_event_limits(EventLimits limits) { event_limits_ = limits; }
  // Deletes the events last seen more than the TTL ago; how many it deleted.
  std::size_t expire_events();

  // Events a new watch sends before live changes (ADDED for all, or the history since RV).
  std::vector<std::string> initial_events(const WatchPlan& plan) const;
  // One newline-terminated JSON event, or "" when the watcher does not see this change.
  std::string encode_change(const WatchPlan& plan, const Change& change) const;
  std::string encode_bookmark(const WatchPlan& plan) const;

 // One resource request (its RequestInfo, type and body), for the handler's own files
 // (api_handler_util.hpp).
  struct Call;

 private:
  ApiResult list(const Call& call);
  ApiResult get(const Call& call);
  ApiResult create(const Call& call, std::optional<boost::json::object> body_override = std::nullopt);
  ApiResult write(const Call& call);
  ApiResult remove(const Call& call);
  ApiResult remove_namespace(const Call& call, const StoredObject& current);
  ApiResult store_update(const Call& call, boost::json::object next, const StoredObject& current,
                         const boost::json::object& old, bool dry_run);
  std::optional<ApiResponse> check_namespace_accepts(const Call& call) const;
  bool cap_events();
  std::string served_json(const ResourceType& type, const StoredObject& stored) const;
  std::string encode_object(const WatchPlan& plan, const char* type, const StoredObject& stored) const;
  // Whether the watch selects this stored version.
  bool plan_sees(const WatchPlan& plan, const StoredObject& stored) const;

  Store& store_;
  Clock clock_;
  UidSource uid_;
  EventLimits event_limits_;
};

// A Status failure response.
ApiResponse status_error(unsigned code, const std::string& reason, const std::string& message,
                         const ResourceType* type = nullptr, const std::string& name = {},
                         const boost::json::array& causes = {});

// A random RFC 4122 version 4 UUID.
std::string random_uid();

}  // namespace ironboot::kube
