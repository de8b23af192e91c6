// The embedded API's OpenAPI documents, generic over the served types: /openapi/v3 (the
// index), /openapi/v3/api/v1 and /openapi/v3/apis/{group}/{version} (one document per
// group-version), and /openapi/v2 (swagger 2.0, everything in one document). Schemas are
// the types' own openAPIV3Schema with kube's naming, x-kubernetes-group-version-kind, and
// metadata pointing at a shared ObjectMeta, so `kubectl explain` and `kubectl apply`'s
// patch-type choice work as against kube-apiserver. Pure.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

#include "kube/api_handler.hpp"

namespace ironboot::kube {

inline constexpr const char* kObjectMetaSchema = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

// A group Kubernetes itself defines ("" core, "k8s.io", "*.k8s.io"): its types are built
// into kubectl, which patches them with strategic merge patch, and kube names their schemas
// io.k8s.api.<group>.<version>.<Kind>.
bool is_kubernetes_group(const std::string& group);

// The component / definition name of a type's schema: "io.k8s.api.core.v1.Secret",
// "io.k8s.api.coordination.v1.Lease", "dev.sidero.metal.v1alpha2.Server".
std::string openapi_schema_name(const ResourceType& type);

// "api/v1" or "apis/{group}/{version}": the key in the /openapi/v3 index.
std::string openapi_group_version_key(const std::string& group, const std::string& version);

// The /openapi/v3 index: every served group-version with its serverRelativeURL, which
// carries ?hash= (uppercase hex SHA-512 of the document) as kube-apiserver's does, so
// clients may cache the document by URL.
boost::json::object openapi_v3_index(const std::vector<ResourceType>& types);
// One group-version's OpenAPI 3.0 document, or nullopt when it is not served.
std::optional<boost::json::object> openapi_v3_document(const std::vector<ResourceType>& types, const std::string& group,
                                                       const std::string& version);
// The swagger 2.0 document of everything served.
boost::json::object openapi_v2_document(const std::vector<ResourceType>& types);

// ObjectMeta with a description on every field the embedded API keeps.
boost::json::object object_meta_schema();

// The response for an /openapi/... path (query already stripped), or nullopt when `path`
// is not one; an unserved group-version answers a 404 Status. /openapi/v2 always answers
// JSON, whatever the Accept (a protobuf-only client then fails to parse it and goes on
// without it, as kubectl does for its v2 fallback).
std::optional<ApiResponse> openapi_response(const std::string& path, const std::vector<ResourceType>& types);

}  // namespace ironboot::kube
