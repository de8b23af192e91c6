// Discovery documents of the embedded API, generic over the served types and grouped by
// (group, version) as kube-apiserver does: /version, /api and /api/v1 (the core group),
// /apis, /apis/{group}, /apis/{group}/{version}, both legacy and aggregated
// (apidiscovery.k8s.io v2 and v2beta1), health endpoints, and the OpenAPI documents
// (api_openapi.hpp). Pure: the type list is a parameter.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

#include "kube/api_handler.hpp"

namespace ironboot::kube {

// The response for a discovery path, or nullopt when `path` is not one (resource paths,
// anything else). A discovery-shaped path naming an unknown group or version answers a
// 404 Status. `server_address` ("host:port"), when known, is what /api advertises.
std::optional<ApiResponse> discovery_response(const std::string& method, const std::string& path, const std::string& accept,
                                              const std::vector<ResourceType>& types = builtin_resource_types(),
                                              const std::string& server_address = {});

// The aggregated discovery version an Accept header asks for: "v2", "v2beta1", or "" for
// the legacy documents. The first acceptable entry wins (client-go lists v2 first).
std::string aggregated_discovery_version(const std::string& accept);

// The versions of `group` that `types` serve, the preferred (kube's version priority:
// GA, then beta, then alpha, higher numbers first) first.
std::vector<std::string> group_versions(const std::vector<ResourceType>& types, const std::string& group);
// The named groups (not core), in the order their first type appears.
std::vector<std::string> named_groups(const std::vector<ResourceType>& types);

// Legacy documents. The optional ones are nullopt when the group / version is not served.
boost::json::object api_versions(const std::vector<ResourceType>& types, const std::string& server_address = {});
boost::json::object api_group_list(const std::vector<ResourceType>& types);
std::optional<boost::json::object> api_group(const std::vector<ResourceType>& types, const std::string& group);
std::optional<boost::json::object> api_resource_list(const std::vector<ResourceType>& types, const std::string& group,
                                                     const std::string& version);

// APIGroupDiscoveryList of the core group (`core` true, for /api) or of every named group
// (/apis); `version` is "v2" or "v2beta1".
boost::json::object aggregated_discovery(const std::vector<ResourceType>& types, bool core, const std::string& version);

}  // namespace ironboot::kube
