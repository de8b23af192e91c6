// The embedded API's request handling, without sockets: a parsed HTTP request plus the
// Store in, a response (or a watch plan) out. Implements the apiserver semantics listed in
// docs/cluster.md for the three metal.sidero.dev resources, discovery, /version and /openapi/v3.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <string>
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
  bool table = false;
  bool send_initial = false;  // resourceVersion unset or "0": every object as ADDED first
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

class ApiHandler {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;
  using UidSource = std::function<std::string()>;

  ApiHandler(Store& store, Clock clock, UidSource uid);

  ApiResult handle(const ApiRequest& request);

  // Events a new watch sends before live changes (ADDED for all, or the history since RV).
  std::vector<std::string> initial_events(const WatchPlan& plan) const;
  // One newline-terminated JSON event, or "" when the watcher does not see this change.
  std::string encode_change(const WatchPlan& plan, const Change& change) const;
  std::string encode_bookmark(const WatchPlan& plan) const;

 private:
  ApiResult handle_resource(const ApiRequest& req, const ResourceType& type, const std::string& name, bool status,
                            const std::map<std::string, std::string>& query);
  ApiResult list(const ApiRequest& req, const ResourceType& type, const std::map<std::string, std::string>& query);
  ApiResult get(const ApiRequest& req, const ResourceType& type, const std::string& name);
  ApiResult create(const ApiRequest& req, const ResourceType& type, const std::map<std::string, std::string>& query,
                   std::optional<boost::json::object> body_override = std::nullopt);
  ApiResult write(const ApiRequest& req, const ResourceType& type, const std::string& name, bool status,
                  const std::map<std::string, std::string>& query);
  ApiResult remove(const ResourceType& type, const std::string& name);
  ApiResult store_update(const ResourceType& type, const std::string& name, bool status, boost::json::object next,
                         const StoredObject& current, bool dry_run);
  std::string encode_object(const WatchPlan& plan, const char* type, const StoredObject& stored) const;

  Store& store_;
  Clock clock_;
  UidSource uid_;
};

// A Status failure response.
ApiResponse status_error(unsigned code, const std::string& reason, const std::string& message,
                         const ResourceType* type = nullptr, const std::string& name = {},
                         const boost::json::array& causes = {});

// A random RFC 4122 version 4 UUID.
std::string random_uid();

}  // namespace ironboot::kube
