#include "kube/api_discovery.hpp"

#include <boost/json.hpp>

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr const char* kAggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const json::array& verbs() {
  static const json::array v = {"create", "delete", "get", "list", "patch", "update", "watch"};
  return v;
}

json::object gvk(const ResourceType& t) { return json::object{{"group", kGroup}, {"version", kVersion}, {"kind", t.kind}}; }

json::array short_names(const ResourceType& t) {
  json::array a;
  for (const auto& s : t.short_names) a.push_back(json::string(s));
  return a;
}

json::object aggregated_apis() {
  json::array resources;
  for (const auto& t : builtin_resource_types()) {
    if (t.group != kGroup) continue;  // the built-in types are not in this group
    json::object r{{"resource", t.plural}, {"singularResource", t.singular}, {"scope", "Cluster"},
                   {"responseKind", gvk(t)}, {"verbs", verbs()}};
    if (!t.short_names.empty()) r["shortNames"] = short_names(t);
    if (t.status_subresource)
      r["subresources"] = json::array{json::object{{"subresource", "status"}, {"responseKind", gvk(t)},
                                                   {"verbs", json::array{"get", "patch", "update"}}}};
    resources.push_back(std::move(r));
  }
  json::object group{{"metadata", json::object{{"name", kGroup}}},
                     {"versions", json::array{json::object{{"version", kVersion}, {"freshness", "Current"},
                                                           {"resources", std::move(resources)}}}}};
  return json::object{{"kind", "APIGroupDiscoveryList"}, {"apiVersion", "apidiscovery.k8s.io/v2"},
                      {"metadata", json::object{}}, {"items", json::array{std::move(group)}}};
}

json::object group_version() {
  return json::object{{"groupVersion", kApiVersion}, {"version", kVersion}};
}

json::object api_group() {
  return json::object{{"name", kGroup}, {"versions", json::array{group_version()}}, {"preferredVersion", group_version()}};
}

json::object resource_list() {
  json::array resources;
  for (const auto& t : builtin_resource_types()) {
    if (t.group != kGroup) continue;  // the built-in types are not in this group
    json::object r{{"name", t.plural}, {"singularName", t.singular}, {"namespaced", false}, {"kind", t.kind}, {"verbs", verbs()}};
    if (!t.short_names.empty()) r["shortNames"] = short_names(t);
    resources.push_back(std::move(r));
    if (t.status_subresource)
      resources.push_back(json::object{{"name", t.plural + "/status"}, {"singularName", ""}, {"namespaced", false},
                                       {"kind", t.kind}, {"verbs", json::array{"get", "patch", "update"}}});
  }
  return json::object{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", kApiVersion},
                      {"resources", std::move(resources)}};
}

// The group's OpenAPI v3 document: enough for kubectl to see the kinds, that the server
// validates fields itself (fieldValidation), and to choose JSON merge patch; the schemas
// are the CRDs' own.
json::object openapi_group() {
  json::object paths;
  json::object schemas;
  for (const auto& t : builtin_resource_types()) {
    if (t.group != kGroup) continue;  // the built-in types are not in this group
    const std::string schema_name = std::string("dev.sidero.metal.") + kVersion + "." + t.kind;
    json::object ref_schema{{"$ref", "#/components/schemas/" + schema_name}};
    json::array params{json::object{{"name", "fieldValidation"}, {"in", "query"}, {"schema", json::object{{"type", "string"}}}},
                       json::object{{"name", "fieldManager"}, {"in", "query"}, {"schema", json::object{{"type", "string"}}}},
                       json::object{{"name", "dryRun"}, {"in", "query"}, {"schema", json::object{{"type", "string"}}}}};
    auto op = [&](const char* id) {
      return json::object{{"operationId", std::string(id) + t.kind},
                          {"parameters", params},
                          {"x-kubernetes-action", id},
                          {"x-kubernetes-group-version-kind", gvk(t)},
                          {"responses", json::object{{"200", json::object{{"description", "OK"},
                                                                          {"content", json::object{{"application/json", json::object{{"schema", ref_schema}}}}}}}}}};
    };
    paths[std::string("/apis/") + kApiVersion + "/" + t.plural + "/{name}"] =
        json::object{{"get", op("get")}, {"put", op("put")}, {"patch", op("patch")}, {"delete", op("delete")},
                     {"parameters", json::array{json::object{{"name", "name"}, {"in", "path"}, {"required", true},
                                                             {"schema", json::object{{"type", "string"}}}}}}};
    paths[std::string("/apis/") + kApiVersion + "/" + t.plural] = json::object{{"get", op("list")}, {"post", op("post")}};
    json::object schema = t.schema;
    schema["x-kubernetes-group-version-kind"] = json::array{gvk(t)};
    schemas[schema_name] = std::move(schema);
  }
  return json::object{{"openapi", "3.0.0"},
                      {"info", json::object{{"title", "ironboot"}, {"version", kVersion}}},
                      {"paths", std::move(paths)},
                      {"components", json::object{{"schemas", std::move(schemas)}}}};
}

ApiResponse ok(const json::value& v, const char* type = "application/json") { return ApiResponse{200, type, json::serialize(v)}; }

}  // namespace

std::optional<ApiResponse> discovery_response(const std::string& method, const std::string& path, const std::string& accept) {
  if (method != "GET" && method != "HEAD") return std::nullopt;
  const bool aggregated = accept.find("as=APIGroupDiscoveryList") != std::string::npos;
  if (path == "/version" || path == "/version/") {
    return ok(json::object{{"major", "1"}, {"minor", "32"}, {"gitVersion", "v1.32.0"}, {"gitCommit", ""},
                           {"gitTreeState", "clean"}, {"buildDate", "2026-01-01T00:00:00Z"}, {"goVersion", "go1.23"},
                           {"compiler", "gc"}, {"platform", "linux/amd64"}});
  }
  if (path == "/healthz" || path == "/readyz" || path == "/livez") return ApiResponse{200, "text/plain", "ok"};
  if (path == "/api" || path == "/api/") {
    if (aggregated)
      return ok(json::object{{"kind", "APIGroupDiscoveryList"}, {"apiVersion", "apidiscovery.k8s.io/v2"},
                             {"metadata", json::object{}}, {"items", json::array{}}},
                kAggregatedType);
    return ok(json::object{{"kind", "APIVersions"}, {"versions", json::array{}}, {"serverAddressByClientCIDRs", json::array{}}});
  }
  if (path == "/apis" || path == "/apis/") {
    if (aggregated) return ok(aggregated_apis(), kAggregatedType);
    return ok(json::object{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", json::array{api_group()}}});
  }
  if (path == std::string("/apis/") + kGroup) {
    json::object g = api_group();
    g["kind"] = "APIGroup";
    g["apiVersion"] = "v1";
    return ok(g);
  }
  if (path == std::string("/apis/") + kApiVersion) return ok(resource_list());
  if (path == "/openapi/v3" || path == "/openapi/v3/") {
    const std::string key = std::string("apis/") + kApiVersion;
    return ok(json::object{{"paths", json::object{{key, json::object{{"serverRelativeURL", "/openapi/v3/" + key}}}}}});
  }
  if (path == std::string("/openapi/v3/apis/") + kApiVersion) return ok(openapi_group());
  return std::nullopt;
}

}  // namespace ironboot::kube
