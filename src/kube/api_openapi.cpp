#include "kube/api_openapi.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "kube/api_discovery.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr const char* kPatchSchema = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
constexpr const char* kStatusSchema = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";

bool has_verb(const ResourceType& t, const char* verb) { return std::find(t.verbs.begin(), t.verbs.end(), verb) != t.verbs.end(); }

json::object gvk_of(const ResourceType& t, const std::string& kind) {
  return json::object{{"group", t.group}, {"version", t.version}, {"kind", kind}};
}

std::string capitalized(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// kube's operationId middle part: "CoreV1", "CoordinationV1", "MetalSideroDevV1alpha2".
std::string operation_group_version(const ResourceType& t) {
  std::string group = t.group;
  if (group.empty()) group = "core";
  if (is_kubernetes_group(group) && group.find('.') != std::string::npos) group.erase(group.find('.'));
  std::string out;
  std::size_t pos = 0;
  while (pos <= group.size()) {
    const auto dot = group.find('.', pos);
    out += capitalized(group.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return out + capitalized(t.version);
}

std::string sha512_upper_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha512(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

json::object str_schema(const char* description) { return json::object{{"type", "string"}, {"description", description}}; }

json::object string_map_schema(const char* description) {
  return json::object{{"type", "object"}, {"additionalProperties", json::object{{"type", "string"}, {"default", ""}}},
                      {"description", description}};
}

// The two document flavours differ in where schemas live, how parameters and bodies are
// written, and how responses carry their schema.
struct Flavor {
  bool v3;

  std::string ref(const std::string& name) const {
    return (v3 ? "#/components/schemas/" : "#/definitions/") + name;
  }
  json::object ref_schema(const std::string& name) const { return json::object{{"$ref", ref(name)}}; }

  json::object param(const char* name, const char* in, const char* type, const char* description) const {
    json::object p{{"name", name}, {"in", in}, {"description", description}};
    if (std::string_view(in) == "path") p["required"] = true;
    if (v3)
      p["schema"] = json::object{{"type", type}, {"uniqueItems", true}};
    else {
      p["type"] = type;
      p["uniqueItems"] = true;
    }
    return p;
  }

  json::object response(const std::string& schema) const {
    json::object r{{"description", "OK"}};
    if (v3)
      r["content"] = json::object{{"application/json", json::object{{"schema", ref_schema(schema)}}},
                                  {"application/yaml", json::object{{"schema", ref_schema(schema)}}}};
    else
      r["schema"] = ref_schema(schema);
    return r;
  }

  // `op` gets the request body: v3 a requestBody, v2 a body parameter plus consumes.
  void body(json::object& op, const std::string& schema, const std::vector<const char*>& content_types) const {
    if (v3) {
      json::object content;
      for (const char* ct : content_types) content[ct] = json::object{{"schema", ref_schema(schema)}};
      op["requestBody"] = json::object{{"content", std::move(content)}, {"required", true}};
    } else {
      op["parameters"].as_array().push_back(
          json::object{{"name", "body"}, {"in", "body"}, {"required", true}, {"schema", ref_schema(schema)}});
      json::array consumes;
      for (const char* ct : content_types) consumes.emplace_back(ct);
      op["consumes"] = std::move(consumes);
    }
  }
};

json::array write_params(const Flavor& f) {
  return json::array{
      f.param("dryRun", "query", "string", "When present, the change is validated but not persisted (only \"All\")."),
      f.param("fieldManager", "query", "string", "The name of the actor making the change."),
      f.param("fieldValidation", "query", "string",
              "What the server does with unknown or duplicate fields: Ignore, Warn (the default) or Strict."),
  };
}

json::array list_params(const Flavor& f) {
  return json::array{
      f.param("labelSelector", "query", "string", "Only objects whose labels match this selector."),
      f.param("fieldSelector", "query", "string", "Only objects whose fields match this selector."),
      f.param("limit", "query", "integer", "The maximum number of objects to return; continue with `continue`."),
      f.param("continue", "query", "string", "The continue token of the previous page."),
      f.param("resourceVersion", "query", "string", "The resource version the list or watch starts from."),
      f.param("watch", "query", "boolean", "Stream changes instead of returning a list."),
      f.param("timeoutSeconds", "query", "integer", "How long a list or watch call may last."),
  };
}

// The paths of one type: collection (create, list, deletecollection), item (get, replace,
// patch, delete), status, and the all-namespaces list of a namespaced type; only what its
// verbs allow. Every operation names its kind (x-kubernetes-group-version-kind): kubectl
// finds the patch operation of a kind by it.
void add_paths(const Flavor& f, const ResourceType& t, json::object& paths) {
  const std::string schema = openapi_schema_name(t);
  const std::string list_schema = schema + "List";
  const bool builtin = is_kubernetes_group(t.group);
  const std::string gv = operation_group_version(t);
  const std::string scope = t.namespaced ? "Namespaced" : "";
  const std::string prefix = "/" + openapi_group_version_key(t.group, t.version);
  const std::string collection = prefix + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural;

  // Every operation, list ones too, names the item kind, as kube-apiserver's do (kubectl
  // explain finds a resource's kind through its list path).
  auto op = [&](const char* action, const std::string& id, json::array params) {
    return json::object{{"operationId", id},
                        {"parameters", std::move(params)},
                        {"x-kubernetes-action", action},
                        {"x-kubernetes-group-version-kind", gvk_of(t, t.kind)},
                        {"tags", json::array{gv}}};
  };
  auto path_params = [&](bool item) {
    json::array p;
    if (item) p.push_back(f.param("name", "path", "string", ("name of the " + t.kind).c_str()));
    if (t.namespaced) p.push_back(f.param("namespace", "path", "string", "object name and auth scope, such as for teams and projects"));
    p.push_back(f.param("pretty", "query", "string", "If 'true', then the output is pretty printed."));
    return p;
  };
  std::vector<const char*> patch_types = {"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"};
  // kubectl apply computes a strategic merge patch from this schema only when the patch
  // operation accepts one, as kube-apiserver's built-in types do and its CRDs do not.
  if (builtin) patch_types.push_back("application/strategic-merge-patch+json");

  json::object coll;
  if (has_verb(t, "list")) {
    auto o = op("list", "list" + gv + scope + t.kind, list_params(f));
    o["responses"] = json::object{{"200", f.response(list_schema)}};
    coll["get"] = std::move(o);
  }
  if (has_verb(t, "create")) {
    auto o = op("post", "create" + gv + scope + t.kind, write_params(f));
    f.body(o, schema, {"application/json", "application/yaml"});
    o["responses"] = json::object{{"200", f.response(schema)}, {"201", f.response(schema)}};
    coll["post"] = std::move(o);
  }
  if (has_verb(t, "deletecollection")) {
    auto o = op("deletecollection", "deleteCollection" + gv + scope + t.kind, list_params(f));
    o["responses"] = json::object{{"200", f.response(kStatusSchema)}};
    coll["delete"] = std::move(o);
  }
  if (!coll.empty()) {
    coll["parameters"] = path_params(false);
    paths[collection] = std::move(coll);
  }

  auto item_ops = [&](const std::string& suffix, bool status) {
    json::object item;
    const std::string id_kind = scope + t.kind + (status ? "Status" : "");
    if (has_verb(t, "get")) {
      auto o = op("get", "read" + gv + id_kind, json::array{});
      o["responses"] = json::object{{"200", f.response(schema)}};
      item["get"] = std::move(o);
    }
    if (has_verb(t, "update")) {
      auto o = op("put", "replace" + gv + id_kind, write_params(f));
      f.body(o, schema, {"application/json", "application/yaml"});
      o["responses"] = json::object{{"200", f.response(schema)}, {"201", f.response(schema)}};
      item["put"] = std::move(o);
    }
    if (has_verb(t, "patch")) {
      auto params = write_params(f);
      params.push_back(f.param("force", "query", "boolean", "Take over fields other managers own (apply patches only)."));
      auto o = op("patch", "patch" + gv + id_kind, std::move(params));
      f.body(o, kPatchSchema, patch_types);
      o["responses"] = json::object{{"200", f.response(schema)}, {"201", f.response(schema)}};
      item["patch"] = std::move(o);
    }
    if (!status && has_verb(t, "delete")) {
      auto params = json::array{f.param("dryRun", "query", "string", "When present, the deletion is validated but not performed."),
                                f.param("propagationPolicy", "query", "string", "Orphan, Background or Foreground.")};
      auto o = op("delete", "delete" + gv + id_kind, std::move(params));
      o["responses"] = json::object{{"200", f.response(schema)}, {"202", f.response(schema)}};
      item["delete"] = std::move(o);
    }
    if (item.empty()) return;
    item["parameters"] = path_params(true);
    paths[collection + "/{name}" + suffix] = std::move(item);
  };
  item_ops("", false);
  if (t.status_subresource) item_ops("/status", true);

  if (t.namespaced && has_verb(t, "list")) {
    auto o = op("list", "list" + gv + t.kind + "ForAllNamespaces", list_params(f));
    o["responses"] = json::object{{"200", f.response(list_schema)}};
    json::array params{f.param("pretty", "query", "string", "If 'true', then the output is pretty printed.")};
    paths[prefix + "/" + t.plural] = json::object{{"get", std::move(o)}, {"parameters", std::move(params)}};
  }
}

// The type's schema as kube publishes it: its own openAPIV3Schema, metadata pointing at the
// shared ObjectMeta (v3 wraps the $ref in allOf so the description beside it counts).
json::object kind_schema(const Flavor& f, const ResourceType& t) {
  json::object schema = t.schema;
  auto& props = schema["properties"];
  if (!props.is_object()) props = json::object{};
  const char* meta_description = "Standard object's metadata.";
  if (f.v3)
    props.as_object()["metadata"] = json::object{{"allOf", json::array{f.ref_schema(kObjectMetaSchema)}},
                                                 {"default", json::object{}}, {"description", meta_description}};
  else
    props.as_object()["metadata"] = json::object{{"$ref", f.ref(kObjectMetaSchema)}, {"description", meta_description}};
  schema["x-kubernetes-group-version-kind"] = json::array{gvk_of(t, t.kind)};
  return schema;
}

json::object list_schema(const Flavor& f, const ResourceType& t) {
  return json::object{
      {"type", "object"},
      {"description", t.list_kind + " is a list of " + t.kind + "."},
      {"required", json::array{"items"}},
      {"properties", json::object{{"apiVersion", json::object{{"type", "string"}, {"description", "The list's apiVersion."}}},
                                  {"kind", json::object{{"type", "string"}, {"description", "The list's kind."}}},
                                  {"metadata", json::object{{"type", "object"}, {"description", "resourceVersion and continue."}}},
                                  {"items", json::object{{"type", "array"}, {"items", f.ref_schema(openapi_schema_name(t))}}}}},
      {"x-kubernetes-group-version-kind", json::array{gvk_of(t, t.list_kind)}}};
}

// The schemas of `types` plus the meta.k8s.io ones they refer to.
json::object schemas_of(const Flavor& f, const std::vector<const ResourceType*>& types) {
  json::object out;
  for (const auto* t : types) {
    out[openapi_schema_name(*t)] = kind_schema(f, *t);
    if (has_verb(*t, "list") && !t->list_kind.empty()) out[openapi_schema_name(*t) + "List"] = list_schema(f, *t);
  }
  out[kObjectMetaSchema] = object_meta_schema();
  out[kPatchSchema] = json::object{{"type", "object"},
                                   {"description", "The body of a PATCH request, in the format its Content-Type names."}};
  out[kStatusSchema] = json::object{
      {"type", "object"},
      {"description", "The result of an operation that returns no object."},
      {"properties", json::object{{"status", str_schema("Success or Failure.")},
                                  {"message", str_schema("A human-readable description of the result.")},
                                  {"reason", str_schema("A machine-readable reason, such as NotFound.")},
                                  {"code", json::object{{"type", "integer"}, {"description", "The HTTP status code."}}}}}};
  return out;
}

json::object info() { return json::object{{"title", "ironboot"}, {"version", "v1.32.0"}}; }

ApiResponse json_ok(const json::value& v) { return ApiResponse{200, "application/json", json::serialize(v)}; }

}  // namespace

bool is_kubernetes_group(const std::string& group) {
  constexpr std::string_view suffix = ".k8s.io";
  return group.empty() || group == "k8s.io" ||
         (group.size() > suffix.size() && group.compare(group.size() - suffix.size(), suffix.size(), suffix) == 0);
}

std::string openapi_schema_name(const ResourceType& type) {
  if (is_kubernetes_group(type.group)) {
    const std::string short_group = type.group.empty() ? "core" : type.group.substr(0, type.group.find('.'));
    return "io.k8s.api." + short_group + "." + type.version + "." + type.kind;
  }
  // Reversed DNS name, as kube-apiserver names CRD schemas.
  std::string reversed;
  std::string_view rest = type.group;
  while (!rest.empty()) {
    const auto dot = rest.rfind('.');
    const std::string_view label = dot == std::string_view::npos ? rest : rest.substr(dot + 1);
    reversed.append(label).append(".");
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(0, dot);
  }
  return reversed + type.version + "." + type.kind;
}

std::string openapi_group_version_key(const std::string& group, const std::string& version) {
  return group.empty() ? "api/" + version : "apis/" + group + "/" + version;
}

std::optional<json::object> openapi_v3_document(const std::vector<ResourceType>& types, const std::string& group,
                                                const std::string& version) {
  const Flavor f{true};
  std::vector<const ResourceType*> served;
  json::object paths;
  for (const auto& t : types) {
    if (t.group != group || t.version != version) continue;
    served.push_back(&t);
    add_paths(f, t, paths);
  }
  if (served.empty()) return std::nullopt;
  return json::object{{"openapi", "3.0.0"},
                      {"info", info()},
                      {"paths", std::move(paths)},
                      {"components", json::object{{"schemas", schemas_of(f, served)}}}};
}

json::object openapi_v3_index(const std::vector<ResourceType>& types) {
  json::object paths;
  std::vector<std::string> groups = named_groups(types);
  groups.insert(groups.begin(), "");
  for (const auto& g : groups) {
    for (const auto& v : group_versions(types, g)) {
      const std::string key = openapi_group_version_key(g, v);
      const auto doc = openapi_v3_document(types, g, v);
      paths[key] = json::object{{"serverRelativeURL", "/openapi/v3/" + key + "?hash=" + sha512_upper_hex(json::serialize(*doc))}};
    }
  }
  return json::object{{"paths", std::move(paths)}};
}

json::object openapi_v2_document(const std::vector<ResourceType>& types) {
  const Flavor f{false};
  std::vector<const ResourceType*> all;
  json::object paths;
  for (const auto& t : types) {
    all.push_back(&t);
    add_paths(f, t, paths);
  }
  return json::object{{"swagger", "2.0"}, {"info", info()}, {"paths", std::move(paths)}, {"definitions", schemas_of(f, all)}};
}

json::object object_meta_schema() {
  json::object owner_reference{
      {"type", "object"},
      {"description", "An object this one depends on; deleting the owner lets the garbage collector delete this one."},
      {"required", json::array{"apiVersion", "kind", "name", "uid"}},
      {"properties", json::object{{"apiVersion", str_schema("The owner's apiVersion.")},
                                  {"kind", str_schema("The owner's kind.")},
                                  {"name", str_schema("The owner's name.")},
                                  {"uid", str_schema("The owner's uid.")},
                                  {"controller", json::object{{"type", "boolean"}, {"description", "Whether the owner is the managing controller."}}},
                                  {"blockOwnerDeletion",
                                   json::object{{"type", "boolean"}, {"description", "Whether foreground deletion of the owner waits for this object."}}}}}};
  json::object managed_fields_entry{
      {"type", "object"},
      {"description", "The fields one manager set with one operation (server-side apply bookkeeping)."},
      {"properties", json::object{{"manager", str_schema("The manager's name (the fieldManager of its requests).")},
                                  {"operation", str_schema("Apply or Update.")},
                                  {"apiVersion", str_schema("The version of the object the fields are in.")},
                                  {"time", json::object{{"type", "string"}, {"format", "date-time"}, {"description", "When the manager last changed them."}}},
                                  {"fieldsType", str_schema("The format of fieldsV1: FieldsV1.")},
                                  {"fieldsV1", json::object{{"type", "object"}, {"description", "The set of fields, as a trie of field names."}}},
                                  {"subresource", str_schema("The subresource the change was made through, such as status.")}}}};
  // No x-kubernetes-patch-strategy on finalizers or ownerReferences: a strategic merge patch
  // kubectl computes from this schema then replaces those lists whole, which makes it a
  // valid JSON merge patch as well.
  auto date_time = [](const char* description) {
    return json::object{{"type", "string"}, {"format", "date-time"}, {"description", description}};
  };
  return json::object{
      {"type", "object"},
      {"description", "Metadata every persisted object has: its name, namespace, labels, annotations and bookkeeping."},
      {"properties",
       json::object{
           {"name", str_schema("Unique within a namespace (or the cluster, for cluster-scoped kinds); cannot be changed. "
                               "A DNS subdomain for most kinds.")},
           {"generateName", str_schema("A prefix from which the server generates a unique name when name is empty on create.")},
           {"namespace", str_schema("The namespace the object is in; empty for cluster-scoped kinds. Cannot be changed.")},
           {"labels", string_map_schema("String keys and values for organizing and selecting objects (label selectors).")},
           {"annotations", string_map_schema("String keys and values for arbitrary non-identifying data; not used for selection.")},
           {"uid", str_schema("Unique in time and space, set by the server on create; read-only.")},
           {"resourceVersion", str_schema("An opaque version the server sets on every change; used for optimistic concurrency "
                                          "and as the starting point of watches. Read-only.")},
           {"generation", json::object{{"type", "integer"}, {"format", "int64"},
                                       {"description", "A sequence number of changes to the desired state (spec), set by the server."}}},
           {"creationTimestamp", date_time("When the server created the object (RFC 3339, UTC); read-only.")},
           {"deletionTimestamp", date_time("When deletion was requested: set by the server while finalizers remain; read-only.")},
           {"deletionGracePeriodSeconds", json::object{{"type", "integer"}, {"format", "int64"},
                                                       {"description", "Seconds allowed for graceful termination; read-only."}}},
           {"finalizers", json::object{{"type", "array"}, {"items", json::object{{"type", "string"}, {"default", ""}}},
                                       {"description", "Must be empty before the object is removed from storage; each entry is "
                                                       "a controller's pending cleanup."}}},
           {"ownerReferences", json::object{{"type", "array"}, {"items", std::move(owner_reference)},
                                            {"description", "The objects this one depends on."}}},
           {"managedFields", json::object{{"type", "array"}, {"items", std::move(managed_fields_entry)},
                                          {"description", "Which manager set which fields; internal bookkeeping."}}}}}};
}

std::optional<ApiResponse> openapi_response(const std::string& path, const std::vector<ResourceType>& types) {
  if (path == "/openapi/v2" || path == "/openapi/v2/") return json_ok(openapi_v2_document(types));
  if (path == "/openapi/v3" || path == "/openapi/v3/") return json_ok(openapi_v3_index(types));
  constexpr std::string_view prefix = "/openapi/v3/";
  if (path.rfind(prefix, 0) != 0) return std::nullopt;
  std::string key = path.substr(prefix.size());
  if (!key.empty() && key.back() == '/') key.pop_back();
  std::optional<json::object> doc;
  if (key.rfind("api/", 0) == 0 && key.find('/', 4) == std::string::npos) {
    doc = openapi_v3_document(types, "", key.substr(4));
  } else if (key.rfind("apis/", 0) == 0) {
    const auto slash = key.find('/', 5);
    if (slash != std::string::npos && slash > 5 && key.find('/', slash + 1) == std::string::npos)
      doc = openapi_v3_document(types, key.substr(5, slash - 5), key.substr(slash + 1));
  }
  if (!doc) return status_error(404, "NotFound", "the server could not find the requested resource");
  return json_ok(*doc);
}

}  // namespace ironboot::kube
