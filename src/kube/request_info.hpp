// What a request to the Kubernetes API asks for, read from its method and target the way
// kube-apiserver's RequestInfoResolver does: resource requests under /api/v1 and
// /apis/{group}/{version} with verb, namespace, resource, name and subresource; everything
// else (discovery, /version, /openapi, health) is a non-resource request. Routing and
// authorization both use this one reading. Pure; never throws.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::kube {

struct RequestInfo {
  bool resource_request = false;
  std::string path;  // decoded path, without the query
  // Resource requests: get list watch create update patch delete deletecollection.
  // Non-resource requests: the lower-case method (get, post, ...).
  std::string verb;
  std::string group;  // "" for the core group (/api/v1)
  std::string version;
  std::string namespace_name;  // "" for cluster-scoped requests and all-namespace lists
  std::string resource;        // plural
  std::string name;
  std::string subresource;     // "status", ... ("" for the main resource)
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps its first value
};

// "/a//b/c/" -> {a, b, c}: the non-empty segments of a path.
std::vector<std::string> path_segments(std::string_view path);

// Nullopt with `error` set when the target is not a valid origin-form URL or a resource path
// has an empty segment where a name is required.
std::optional<RequestInfo> parse_request_info(std::string_view method, std::string_view target, std::string* error = nullptr);

}  // namespace ironboot::kube
