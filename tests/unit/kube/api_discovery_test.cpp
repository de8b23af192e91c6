#include "kube/api_discovery.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <set>

#include "common/time.hpp"
#include "kube/api_openapi.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

constexpr const char* kAggregatedV2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
constexpr const char* kAggregatedV2beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
// What client-go 1.32 sends for discovery.
constexpr const char* kClientGoAccept =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

// A CRD-shaped definition like the ones under src/kube/types/ (group "" is the core group).
std::string crd(const std::string& group, const std::string& version, const std::string& kind, const std::string& plural,
                const std::string& scope, const std::string& short_names, bool status, const std::string& verbs = "") {
  std::string singular = kind;
  for (auto& c : singular) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string y = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: " + plural + "\n";
  if (!verbs.empty()) y += "  annotations:\n    ironboot.sidero.dev/verbs: \"" + verbs + "\"\n";
  y += "spec:\n  group: \"" + group + "\"\n  scope: " + scope + "\n  names:\n    kind: " + kind + "\n    listKind: " + kind +
       "List\n    plural: " + plural + "\n    singular: " + singular + "\n";
  if (!short_names.empty()) y += "    shortNames: [" + short_names + "]\n";
  y += "  versions:\n  - name: " + version + "\n    served: true\n    storage: true\n";
  if (status) y += "    subresources:\n      status: {}\n";
  y += "    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n"
       "          apiVersion: {type: string}\n          kind: {type: string}\n          metadata: {type: object}\n"
       "          data:\n            type: object\n            description: The stored values.\n"
       "            additionalProperties: {type: string}\n";
  return y;
}

// The shipped types plus core, coordination and authorization types shaped like the
// built-in ones, so the core-group and namespaced shapes are tested whatever is shipped.
const std::vector<ResourceType>& lab_types() {
  static const std::vector<ResourceType> types = [] {
    std::vector<ResourceType> out;
    for (const auto& t : builtin_resource_types())
      if (t.group == kGroup) out.push_back(t);
    out.push_back(parse_crd(crd("", "v1", "Namespace", "namespaces", "Cluster", "ns", true)));
    out.push_back(parse_crd(crd("", "v1", "ConfigMap", "configmaps", "Namespaced", "cm", false)));
    out.push_back(parse_crd(crd("coordination.k8s.io", "v1", "Lease", "leases", "Namespaced", "", false)));
    out.push_back(parse_crd(crd("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
                                "Cluster", "", false, "create")));
    return out;
  }();
  return types;
}

json::object get(const std::string& path, const std::string& accept = "application/json",
                 const std::vector<ResourceType>& types = lab_types(), const std::string& content_type = "application/json") {
  auto r = discovery_response("GET", path, accept, types);
  EXPECT_TRUE(r) << path;
  if (!r) return {};
  EXPECT_EQ(r->status, 200u) << path << ": " << r->body;
  EXPECT_EQ(r->content_type, content_type) << path;
  return json::parse(r->body).as_object();
}

unsigned status_of(const std::string& path, const std::vector<ResourceType>& types = lab_types()) {
  auto r = discovery_response("GET", path, "application/json", types);
  return r ? r->status : 0;
}

const json::object* find_by(const json::array& a, const char* key, const std::string& value) {
  for (const auto& v : a)
    if (v.as_object().at(key) == json::value(value)) return &v.as_object();
  return nullptr;
}

json::array strings(std::initializer_list<const char*> v) {
  json::array a;
  for (const char* s : v) a.emplace_back(s);
  return a;
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

const json::object& prop(const json::object& schema, const char* name) {
  return schema.at("properties").at(name).as_object();
}

TEST(Discovery, AcceptChoosesAggregatedVersion) {
  EXPECT_EQ(aggregated_discovery_version(kClientGoAccept), "v2");
  EXPECT_EQ(aggregated_discovery_version(std::string(kAggregatedV2beta1) + ",application/json"), "v2beta1");
  EXPECT_EQ(aggregated_discovery_version("application/json; g=apidiscovery.k8s.io; as=APIGroupDiscoveryList; v=v2"), "v2");
  EXPECT_EQ(aggregated_discovery_version("application/json"), "");
  EXPECT_EQ(aggregated_discovery_version(""), "");
  EXPECT_EQ(aggregated_discovery_version("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"), "");
  EXPECT_EQ(aggregated_discovery_version("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"), "");
}

TEST(Discovery, VersionsByKubePriority) {
  std::vector<ResourceType> types;
  for (const char* v : {"v1alpha1", "v2beta1", "v1", "v1beta2", "foo", "v2"}) {
    ResourceType t;
    t.group = "example.com";
    t.version = v;
    types.push_back(t);
  }
  EXPECT_EQ(group_versions(types, "example.com"), (std::vector<std::string>{"v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"}));
  EXPECT_TRUE(group_versions(types, "other.com").empty());
}

TEST(Discovery, LegacyCoreGroup) {
  auto versions = get("/api");
  EXPECT_EQ(versions.at("kind"), "APIVersions");
  EXPECT_EQ(versions.at("versions"), strings({"v1"}));
  EXPECT_EQ(versions.at("serverAddressByClientCIDRs").at(0).at("clientCIDR"), "0.0.0.0/0");
  auto with_address = api_versions(lab_types(), "10.0.0.1:6443");
  EXPECT_EQ(with_address.at("serverAddressByClientCIDRs").at(0).at("serverAddress"), "10.0.0.1:6443");

  auto list = get("/api/v1");
  EXPECT_EQ(list.at("kind"), "APIResourceList");
  EXPECT_EQ(list.at("groupVersion"), "v1");
  const auto& resources = list.at("resources").as_array();
  ASSERT_EQ(resources.size(), 3u);  // namespaces, namespaces/status, configmaps
  const auto* ns = find_by(resources, "name", "namespaces");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->at("namespaced"), false);
  EXPECT_EQ(ns->at("kind"), "Namespace");
  EXPECT_EQ(ns->at("singularName"), "namespace");
  EXPECT_EQ(ns->at("shortNames"), strings({"ns"}));
  EXPECT_EQ(ns->at("verbs"), strings({"create", "delete", "get", "list", "patch", "update", "watch"}));
  const auto* ns_status = find_by(resources, "name", "namespaces/status");
  ASSERT_NE(ns_status, nullptr);
  EXPECT_EQ(ns_status->at("verbs"), strings({"get", "patch", "update"}));
  const auto* cm = find_by(resources, "name", "configmaps");
  ASSERT_NE(cm, nullptr);
  EXPECT_EQ(cm->at("namespaced"), true);
  EXPECT_EQ(cm->at("shortNames"), strings({"cm"}));
  EXPECT_EQ(find_by(resources, "name", "configmaps/status"), nullptr);
}

TEST(Discovery, LegacyNamedGroups) {
  auto groups = get("/apis");
  EXPECT_EQ(groups.at("kind"), "APIGroupList");
  std::vector<std::string> names;
  for (const auto& g : groups.at("groups").as_array()) names.emplace_back(g.at("name").as_string());
  EXPECT_EQ(names, (std::vector<std::string>{"metal.sidero.dev", "coordination.k8s.io", "authorization.k8s.io"}));
  const auto& lease_group = groups.at("groups").at(1);
  EXPECT_EQ(lease_group.at("versions"), (json::array{json::object{{"groupVersion", "coordination.k8s.io/v1"}, {"version", "v1"}}}));
  EXPECT_EQ(lease_group.at("preferredVersion").at("groupVersion"), "coordination.k8s.io/v1");

  auto group = get("/apis/metal.sidero.dev");
  EXPECT_EQ(group.at("kind"), "APIGroup");
  EXPECT_EQ(group.at("preferredVersion").at("groupVersion"), "metal.sidero.dev/v1alpha2");

  auto leases = get("/apis/coordination.k8s.io/v1");
  EXPECT_EQ(leases.at("groupVersion"), "coordination.k8s.io/v1");
  ASSERT_EQ(leases.at("resources").as_array().size(), 1u);
  EXPECT_EQ(leases.at("resources").at(0).at("namespaced"), true);
  EXPECT_FALSE(leases.at("resources").at(0).as_object().contains("shortNames"));

  auto reviews = get("/apis/authorization.k8s.io/v1/");
  EXPECT_EQ(reviews.at("resources").at(0).at("verbs"), strings({"create"}));
  EXPECT_EQ(reviews.at("resources").at(0).at("namespaced"), false);
}

TEST(Discovery, UnknownGroupOrVersionIsNotFound) {
  for (const char* p : {"/apis/example.com", "/apis/example.com/v1", "/apis/metal.sidero.dev/v9", "/api/v2",
                        "/apis/coordination.k8s.io/v2/"}) {
    auto r = discovery_response("GET", p, "application/json", lab_types());
    ASSERT_TRUE(r) << p;
    EXPECT_EQ(r->status, 404u) << p;
    EXPECT_EQ(json::parse(r->body).at("reason"), "NotFound") << p;
  }
  // Resource paths are not discovery's.
  EXPECT_FALSE(discovery_response("GET", "/api/v1/configmaps", "application/json", lab_types()));
  EXPECT_FALSE(discovery_response("GET", "/apis/coordination.k8s.io/v1/leases", "application/json", lab_types()));
  EXPECT_FALSE(discovery_response("POST", "/apis", "application/json", lab_types()));
  // Without core types there is no v1 to list.
  EXPECT_EQ(get("/api", "application/json", {}).at("versions"), json::array{});
  EXPECT_EQ(status_of("/api/v1", {}), 404u);
}

TEST(Discovery, AggregatedCoreAndNamedGroups) {
  auto core = get("/api", kClientGoAccept, lab_types(), kAggregatedV2);
  EXPECT_EQ(core.at("kind"), "APIGroupDiscoveryList");
  EXPECT_EQ(core.at("apiVersion"), "apidiscovery.k8s.io/v2");
  ASSERT_EQ(core.at("items").as_array().size(), 1u);
  const auto& group = core.at("items").at(0);
  EXPECT_EQ(group.at("metadata").at("name"), "");
  EXPECT_EQ(group.at("versions").at(0).at("version"), "v1");
  const auto& resources = group.at("versions").at(0).at("resources").as_array();
  ASSERT_EQ(resources.size(), 2u);
  const auto* ns = find_by(resources, "resource", "namespaces");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->at("scope"), "Cluster");
  EXPECT_EQ(ns->at("responseKind"), (json::object{{"group", ""}, {"version", "v1"}, {"kind", "Namespace"}}));
  EXPECT_EQ(ns->at("shortNames"), strings({"ns"}));
  EXPECT_EQ(ns->at("subresources").at(0).at("subresource"), "status");
  EXPECT_EQ(ns->at("subresources").at(0).at("verbs"), strings({"get", "patch", "update"}));
  const auto* cm = find_by(resources, "resource", "configmaps");
  ASSERT_NE(cm, nullptr);
  EXPECT_EQ(cm->at("scope"), "Namespaced");
  EXPECT_EQ(cm->at("singularResource"), "configmap");
  EXPECT_FALSE(cm->contains("subresources"));

  auto named = get("/apis", kClientGoAccept, lab_types(), kAggregatedV2);
  const auto& items = named.at("items").as_array();
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0].at("metadata").at("name"), "metal.sidero.dev");
  EXPECT_EQ(items[1].at("metadata").at("name"), "coordination.k8s.io");
  const auto& review = items[2].at("versions").at(0).at("resources").at(0);
  EXPECT_EQ(review.at("resource"), "selfsubjectaccessreviews");
  EXPECT_EQ(review.at("verbs"), strings({"create"}));
  EXPECT_EQ(review.at("responseKind").at("group"), "authorization.k8s.io");

  auto beta = get("/apis", kAggregatedV2beta1, lab_types(), kAggregatedV2beta1);
  EXPECT_EQ(beta.at("apiVersion"), "apidiscovery.k8s.io/v2beta1");
  EXPECT_EQ(beta.at("items"), named.at("items"));
}

// Whatever types are shipped, discovery lists each exactly where kube-apiserver would.
TEST(Discovery, EveryShippedTypeIsDiscoverable) {
  const auto& types = builtin_resource_types();
  auto core = get("/api", kClientGoAccept, types, kAggregatedV2);
  auto named = get("/apis", kClientGoAccept, types, kAggregatedV2);
  auto groups = get("/apis", "application/json", types);
  for (const auto& t : types) {
    SCOPED_TRACE(t.api_version() + " " + t.plural);
    auto list = get(t.group.empty() ? "/api/" + t.version : "/apis/" + t.api_version(), "application/json", types);
    EXPECT_EQ(list.at("groupVersion"), json::value(t.api_version()));
    const auto* legacy = find_by(list.at("resources").as_array(), "name", t.plural);
    ASSERT_NE(legacy, nullptr);
    EXPECT_EQ(legacy->at("namespaced"), json::value(t.namespaced));
    EXPECT_EQ(legacy->at("kind"), json::value(t.kind));
    EXPECT_EQ(legacy->at("verbs"), strings(t.verbs));
    EXPECT_EQ(find_by(list.at("resources").as_array(), "name", t.plural + "/status") != nullptr, t.status_subresource);
    if (!t.short_names.empty()) {
      EXPECT_EQ(legacy->at("shortNames"), strings(t.short_names));
    }

    const auto& items = (t.group.empty() ? core : named).at("items").as_array();
    const json::object* group = nullptr;
    for (const auto& g : items)
      if (g.at("metadata").at("name") == json::value(t.group)) group = &g.as_object();
    ASSERT_NE(group, nullptr);
    const auto* version = find_by(group->at("versions").as_array(), "version", t.version);
    ASSERT_NE(version, nullptr);
    const auto* aggregated = find_by(version->at("resources").as_array(), "resource", t.plural);
    ASSERT_NE(aggregated, nullptr);
    EXPECT_EQ(aggregated->at("scope"), t.namespaced ? "Namespaced" : "Cluster");
    EXPECT_EQ(aggregated->at("responseKind").at("kind"), json::value(t.kind));
    if (!t.group.empty()) {
      EXPECT_NE(find_by(groups.at("groups").as_array(), "name", t.group), nullptr);
    }
  }
}

TEST(OpenApi, SchemaNamesFollowKube) {
  auto named = [](const char* group, const char* version, const char* kind) {
    ResourceType t;
    t.group = group;
    t.version = version;
    t.kind = kind;
    return openapi_schema_name(t);
  };
  EXPECT_EQ(named("", "v1", "Secret"), "io.k8s.api.core.v1.Secret");
  EXPECT_EQ(named("coordination.k8s.io", "v1", "Lease"), "io.k8s.api.coordination.v1.Lease");
  EXPECT_EQ(named("events.k8s.io", "v1", "Event"), "io.k8s.api.events.v1.Event");
  EXPECT_EQ(named("authorization.k8s.io", "v1", "SelfSubjectAccessReview"), "io.k8s.api.authorization.v1.SelfSubjectAccessReview");
  EXPECT_EQ(named("metal.sidero.dev", "v1alpha2", "Server"), "dev.sidero.metal.v1alpha2.Server");
  EXPECT_TRUE(is_kubernetes_group(""));
  EXPECT_TRUE(is_kubernetes_group("events.k8s.io"));
  EXPECT_FALSE(is_kubernetes_group("metal.sidero.dev"));
  EXPECT_FALSE(is_kubernetes_group("notk8s.io"));
}

TEST(OpenApi, IndexListsEveryGroupVersionWithItsHash) {
  auto index = get("/openapi/v3");
  const auto& paths = index.at("paths").as_object();
  std::set<std::string> keys;
  for (const auto& p : paths) keys.insert(std::string(p.key()));
  EXPECT_EQ(keys, (std::set<std::string>{"api/v1", "apis/metal.sidero.dev/v1alpha2", "apis/coordination.k8s.io/v1",
                                         "apis/authorization.k8s.io/v1"}));
  const std::string url(paths.at("apis/coordination.k8s.io/v1").at("serverRelativeURL").as_string());
  const auto q = url.find("?hash=");
  ASSERT_NE(q, std::string::npos) << url;
  EXPECT_EQ(url.substr(0, q), "/openapi/v3/apis/coordination.k8s.io/v1");
  EXPECT_EQ(url.size() - q - 6, 128u);  // SHA-512, hex
  // The hash is the document's: the core document's differs from the lease one's.
  const std::string core_url(paths.at("api/v1").at("serverRelativeURL").as_string());
  EXPECT_NE(core_url.substr(core_url.find('?')), url.substr(q));
  EXPECT_EQ(status_of("/openapi/v3/apis/example.com/v1"), 404u);
  EXPECT_EQ(status_of("/openapi/v3/apis//v1"), 404u);
  EXPECT_EQ(status_of("/openapi/v3/api/v1/"), 200u);
}

TEST(OpenApi, CoreDocumentHasNamespacedPathsAndStrategicMergePatch) {
  auto doc = get("/openapi/v3/api/v1");
  EXPECT_EQ(doc.at("openapi"), "3.0.0");
  const auto& schemas = doc.at("components").at("schemas").as_object();
  const auto& cm = schemas.at("io.k8s.api.core.v1.ConfigMap").as_object();
  EXPECT_EQ(cm.at("x-kubernetes-group-version-kind"),
            (json::array{json::object{{"group", ""}, {"version", "v1"}, {"kind", "ConfigMap"}}}));
  EXPECT_EQ(prop(cm, "metadata").at("allOf").at(0).at("$ref"), "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  EXPECT_EQ(prop(cm, "data").at("description"), "The stored values.");
  EXPECT_TRUE(schemas.contains(kObjectMetaSchema));
  EXPECT_TRUE(schemas.contains("io.k8s.api.core.v1.Namespace"));
  EXPECT_EQ(schemas.at("io.k8s.api.core.v1.ConfigMapList").at("x-kubernetes-group-version-kind").at(0).at("kind"), "ConfigMapList");

  const auto& paths = doc.at("paths").as_object();
  const auto& item = paths.at("/api/v1/namespaces/{namespace}/configmaps/{name}").as_object();
  const auto& patch = item.at("patch").as_object();
  EXPECT_EQ(patch.at("x-kubernetes-group-version-kind").at("kind"), "ConfigMap");
  EXPECT_EQ(patch.at("x-kubernetes-action"), "patch");
  EXPECT_EQ(patch.at("operationId"), "patchCoreV1NamespacedConfigMap");
  const auto& content = patch.at("requestBody").at("content").as_object();
  for (const char* ct : {"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml",
                         "application/strategic-merge-patch+json"})
    EXPECT_TRUE(content.contains(ct)) << ct;
  std::set<std::string> params;
  for (const auto& p : patch.at("parameters").as_array()) params.emplace(p.at("name").as_string());
  for (const char* p : {"fieldValidation", "fieldManager", "dryRun", "force"}) EXPECT_TRUE(params.count(p)) << p;
  std::set<std::string> path_params;
  for (const auto& p : item.at("parameters").as_array()) path_params.emplace(p.at("name").as_string());
  EXPECT_EQ(path_params, (std::set<std::string>{"name", "namespace", "pretty"}));
  for (const char* m : {"get", "put", "delete"}) EXPECT_TRUE(item.contains(m)) << m;
  const auto& coll = paths.at("/api/v1/namespaces/{namespace}/configmaps").as_object();
  EXPECT_EQ(coll.at("get").at("x-kubernetes-action"), "list");
  // List operations name the item kind, as kube's do: kubectl explain finds the kind by them.
  EXPECT_EQ(coll.at("get").at("x-kubernetes-group-version-kind").at("kind"), "ConfigMap");
  EXPECT_EQ(paths.at("/api/v1/configmaps").at("get").at("x-kubernetes-group-version-kind").at("kind"), "ConfigMap");
  EXPECT_EQ(coll.at("post").at("x-kubernetes-action"), "post");
  EXPECT_EQ(paths.at("/api/v1/configmaps").at("get").at("operationId"), "listCoreV1ConfigMapForAllNamespaces");
  // Cluster-scoped: no namespace segment; its status subresource has its own path.
  EXPECT_TRUE(paths.contains("/api/v1/namespaces/{name}"));
  EXPECT_TRUE(paths.at("/api/v1/namespaces/{name}/status").as_object().contains("patch"));
  EXPECT_FALSE(paths.contains("/api/v1/namespaces/{namespace}/namespaces"));
}

TEST(OpenApi, CreateOnlyTypeHasOnlyItsPost) {
  auto doc = get("/openapi/v3/apis/authorization.k8s.io/v1");
  const auto& paths = doc.at("paths").as_object();
  ASSERT_EQ(paths.size(), 1u);
  const auto& coll = paths.at("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").as_object();
  EXPECT_TRUE(coll.contains("post"));
  EXPECT_FALSE(coll.contains("get"));
  EXPECT_TRUE(doc.at("components").at("schemas").as_object().contains("io.k8s.api.authorization.v1.SelfSubjectAccessReview"));
  EXPECT_FALSE(doc.at("components").at("schemas").as_object().contains("io.k8s.api.authorization.v1.SelfSubjectAccessReviewList"));
}

TEST(OpenApi, CrdPatchHasNoStrategicMerge) {
  // kubectl apply sends a JSON merge patch for a kind whose patch does not accept a strategic one.
  auto doc = get("/openapi/v3/apis/metal.sidero.dev/v1alpha2");
  const auto& patch = doc.at("paths").at("/apis/metal.sidero.dev/v1alpha2/servers/{name}").at("patch").as_object();
  const auto& content = patch.at("requestBody").at("content").as_object();
  EXPECT_TRUE(content.contains("application/merge-patch+json"));
  EXPECT_FALSE(content.contains("application/strategic-merge-patch+json"));
  const auto& server = doc.at("components").at("schemas").at("dev.sidero.metal.v1alpha2.Server").as_object();
  EXPECT_TRUE(prop(prop(server, "spec"), "bmc").contains("properties"));
}

TEST(OpenApi, ObjectMetaDescribesItsFields) {
  const auto meta = object_meta_schema();
  for (const char* f : {"name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation", "creationTimestamp",
                        "deletionTimestamp", "finalizers", "ownerReferences", "generateName", "managedFields"}) {
    ASSERT_TRUE(meta.at("properties").as_object().contains(f)) << f;
    EXPECT_FALSE(prop(meta, f).at("description").as_string().empty()) << f;
  }
  EXPECT_EQ(prop(meta, "labels").at("additionalProperties").at("type"), "string");
  EXPECT_FALSE(prop(meta, "finalizers").contains("x-kubernetes-patch-strategy"));
}

// Every shipped type has its schema and patch operation in its group-version's v3 document
// and in the v2 document.
TEST(OpenApi, EveryShippedTypeIsDocumented) {
  const auto& types = builtin_resource_types();
  const auto v2 = get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf", types);
  EXPECT_EQ(v2.at("swagger"), "2.0");
  const auto index = get("/openapi/v3", "application/json", types);
  for (const auto& t : types) {
    SCOPED_TRACE(t.api_version() + " " + t.plural);
    const std::string key = openapi_group_version_key(t.group, t.version);
    ASSERT_TRUE(index.at("paths").as_object().contains(key));
    const auto doc = get("/openapi/v3/" + key, "application/json", types);
    const auto& schema = doc.at("components").at("schemas").at(openapi_schema_name(t)).as_object();
    EXPECT_EQ(schema.at("x-kubernetes-group-version-kind").at(0),
              (json::object{{"group", t.group}, {"version", t.version}, {"kind", t.kind}}));
    EXPECT_TRUE(prop(schema, "metadata").contains("allOf"));
    const auto& v2_schema = v2.at("definitions").at(openapi_schema_name(t)).as_object();
    EXPECT_EQ(prop(v2_schema, "metadata").at("$ref"), "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");

    const std::string item = "/" + key + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.plural + "/{name}";
    auto has = [&](const char* verb) { return std::find(t.verbs.begin(), t.verbs.end(), verb) != t.verbs.end(); };
    ASSERT_EQ(doc.at("paths").as_object().contains(item), has("get") || has("update") || has("patch") || has("delete")) << item;
    if (!has("patch")) {
      if (doc.at("paths").as_object().contains(item)) {
        EXPECT_FALSE(doc.at("paths").at(item).as_object().contains("patch"));
      }
      continue;
    }
    const auto& patch = doc.at("paths").at(item).at("patch").as_object();
    EXPECT_EQ(patch.at("x-kubernetes-group-version-kind").at("kind"), json::value(t.kind));
    EXPECT_EQ(patch.at("requestBody").at("content").as_object().contains("application/strategic-merge-patch+json"),
              is_kubernetes_group(t.group));
    const auto& v2_patch = v2.at("paths").at(item).at("patch").as_object();
    EXPECT_EQ(v2_patch.at("x-kubernetes-group-version-kind").at("kind"), json::value(t.kind));
    std::set<std::string> consumes;
    for (const auto& c : v2_patch.at("consumes").as_array()) consumes.emplace(c.as_string());
    EXPECT_TRUE(consumes.count("application/merge-patch+json"));
    EXPECT_EQ(consumes.count("application/strategic-merge-patch+json") == 1, is_kubernetes_group(t.group));
    bool body_param = false, validation_param = false;
    for (const auto& p : v2_patch.at("parameters").as_array()) {
      body_param |= p.at("in") == "body";
      validation_param |= p.at("name") == "fieldValidation" && p.at("type") == "string";
    }
    EXPECT_TRUE(body_param);
    EXPECT_TRUE(validation_param);
  }
}

// Through the handler, the document answers with or without the index's ?hash= query.
TEST(OpenApi, HandlerAnswersHashedUrl) {
  Store store;
  ApiHandler handler{store, [] { return *parse_rfc3339("2026-01-01T00:00:00Z"); }, [] { return std::string("uid"); }};
  auto index = json::parse(handler.handle(ApiRequest{"GET", "/openapi/v3", "application/json", "", ""}).response.body);
  const std::string url(index.at("paths").at("apis/metal.sidero.dev/v1alpha2").at("serverRelativeURL").as_string());
  ASSERT_NE(url.find("?hash="), std::string::npos);
  auto hashed = handler.handle(ApiRequest{"GET", url, "application/json", "", ""});
  auto plain = handler.handle(ApiRequest{"GET", "/openapi/v3/apis/metal.sidero.dev/v1alpha2", "application/json", "", ""});
  EXPECT_EQ(hashed.response.status, 200u);
  EXPECT_EQ(hashed.response.body, plain.response.body);
  EXPECT_NE(json::parse(plain.response.body).at("components").at("schemas").as_object().if_contains("dev.sidero.metal.v1alpha2.Server"),
            nullptr);
}

TEST(Discovery, VersionIsUnchanged) {
  auto v = get("/version");
  EXPECT_EQ(v.at("major"), "1");
  EXPECT_EQ(v.at("minor"), "32");
}

}  // namespace
}  // namespace ironboot::kube
