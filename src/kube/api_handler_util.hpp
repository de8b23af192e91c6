// Internal to the API handler's translation units (api_handler.cpp, api_handler_write.cpp):
// the request a handler method works on and small JSON and Status helpers.
#pragma once

#include <boost/json.hpp>

#include <map>
#include <optional>
#include <string>

#include "kube/api_handler.hpp"
#include "kube/request_info.hpp"

namespace ironboot::kube {

struct ApiHandler::Call {
  const ApiRequest& req;
  const RequestInfo& info;
  const ResourceType& type;

  const std::string& ns() const { return info.namespace_name; }
  const std::string& name() const { return info.name; }
  std::string key() const { return store_key(info.namespace_name, info.name); }
  bool status() const { return info.subresource == "status"; }
  std::string q(const char* k) const {
    auto it = info.query.find(k);
    return it == info.query.end() ? std::string() : it->second;
  }
  bool has(const char* k) const { return info.query.count(k) != 0; }
};

namespace handler_detail {

namespace json = boost::json;

inline ApiResponse json_response(unsigned status, const json::value& body) {
  return ApiResponse{status, "application/json", json::serialize(body)};
}

inline ApiResult reply(ApiResponse r, bool wrote = false) { return ApiResult{std::move(r), std::nullopt, wrote}; }

inline std::string str_field(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

inline std::string meta_str(const json::object& o, const char* key) {
  const auto* m = o.if_contains("metadata");
  return m && m->is_object() ? str_field(m->as_object(), key) : std::string();
}

inline json::object& meta_of(json::object& o) {
  auto& m = o["metadata"];
  if (!m.is_object()) m = json::object{};
  return m.as_object();
}

// "Server.metal.sidero.dev", or "Secret" for the core group: how kube names a kind in messages.
inline std::string qualified_kind(const ResourceType& t) { return t.group.empty() ? t.kind : t.kind + "." + t.group; }

inline ApiResult not_found(const ResourceType& type, const std::string& name) {
  return reply(status_error(404, "NotFound", type.group_resource() + " \"" + name + "\" not found", &type, name));
}

inline ApiResult no_route() {
  return reply(status_error(404, "NotFound", "the server could not find the requested resource"));
}

// 422 for malformed request options (kube: Invalid on kind ListOptions/CreateOptions/... of
// group meta.k8s.io, name "").
ApiResult invalid_options(const char* kind, const std::string& field, const std::string& message);

// Reads query parameters as kube-apiserver does: booleans with Go's ParseBool, integers as
// base-10 int64. The first bad value is kept in `error`.
struct QueryReader {
  const ApiHandler::Call& call;
  std::string error;
  std::optional<bool> boolean(const char* key);
  std::optional<std::int64_t> integer(const char* key);
};

// dryRun (only "All") and fieldValidation ("", Ignore, Warn, Strict) of a write; an error
// response for other values. `kind` is CreateOptions, UpdateOptions, PatchOptions or DeleteOptions.
std::optional<ApiResult> check_write_options(const ApiHandler::Call& call, const char* kind);
bool dry_run(const ApiHandler::Call& call);
bool strict_fields(const ApiHandler::Call& call);

}  // namespace handler_detail
}  // namespace ironboot::kube
