#include "kube/authz.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "kube/resource_type.hpp"
#include "kube/tls_material.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

const std::vector<std::string> kAllVerbs = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"};
const std::vector<std::string> kReadVerbs = {"get", "list", "watch"};

bool is_read(const std::string& verb) { return verb == "get" || verb == "list" || verb == "watch"; }

RequestInfo resource(const std::string& verb, const std::string& group, const std::string& res, const std::string& ns = "",
                     const std::string& name = "", const std::string& sub = "") {
  RequestInfo r;
  r.resource_request = true;
  r.verb = verb;
  r.group = group;
  r.version = group.empty() ? "v1" : "v1alpha2";
  r.resource = res;
  r.namespace_name = ns;
  r.name = name;
  r.subresource = sub;
  return r;
}

RequestInfo path(const std::string& verb, const std::string& p) {
  RequestInfo r;
  r.verb = verb;
  r.path = p;
  return r;
}

json::object body_of(const ApiResponse& r) { return json::parse(r.body).as_object(); }

TEST(Authz, Principals) {
  EXPECT_EQ(admin_principal().user, "ironboot:admin");
  EXPECT_EQ(admin_principal().groups, (std::vector<std::string>{"system:masters", "system:authenticated"}));
  EXPECT_EQ(read_only_principal().user, "ironboot:read-only");
  EXPECT_EQ(read_only_principal().groups, (std::vector<std::string>{"system:authenticated"}));
}

TEST(Authz, EveryVerbOnServersForBothPrincipals) {
  for (const auto& verb : kAllVerbs) {
    const bool named = verb != "list" && verb != "deletecollection" && verb != "create";
    auto r = resource(verb, "metal.sidero.dev", "servers", "", named ? "s1" : "");
    EXPECT_TRUE(authorize(admin_principal(), r).allowed) << verb;
    EXPECT_EQ(authorize(read_only_principal(), r).allowed, is_read(verb)) << verb;
    auto status = resource(verb, "metal.sidero.dev", "servers", "", "s1", "status");
    EXPECT_TRUE(authorize(admin_principal(), status).allowed) << verb;
    EXPECT_EQ(authorize(read_only_principal(), status).allowed, verb == "get") << verb;
  }
}

// The self-subject reviews are create-only and every principal may create them (checked on
// their own below); the loops over served types leave them out.
bool is_review(const ResourceType& t) { return t.group == "authorization.k8s.io"; }

TEST(Authz, ReadOnlyReadsEveryServedTypeButSecrets) {
  for (const ResourceType& t : builtin_resource_types()) {
    if (is_review(t)) continue;
    const bool secret = t.group.empty() && t.plural == "secrets";
    for (const auto& verb : kReadVerbs) {
      const bool served = std::find(t.verbs.begin(), t.verbs.end(), verb) != t.verbs.end();
      auto r = resource(verb, t.group, t.plural, t.namespaced ? "ironboot-system" : "");
      EXPECT_EQ(authorize(read_only_principal(), r).allowed, served && !secret) << t.plural << " " << verb;
      EXPECT_TRUE(authorize(admin_principal(), r).allowed);
    }
    for (const auto& verb : {"create", "update", "patch", "delete", "deletecollection"}) {
      EXPECT_FALSE(authorize(read_only_principal(), resource(verb, t.group, t.plural)).allowed) << t.plural << " " << verb;
    }
  }
}

TEST(Authz, SecretsRefusedToReadOnlyInEveryNamespaceAndAtClusterScope) {
  for (const std::string ns : {"ironboot-system", "default", "kube-system", ""}) {
    for (const auto& verb : kAllVerbs) {
      for (const std::string name : {"", "bmc-1"}) {
        auto r = resource(verb, "", "secrets", ns, name);
        const Decision d = authorize(read_only_principal(), r);
        EXPECT_FALSE(d.allowed) << ns << " " << verb;
        EXPECT_EQ(d.reason, "ironboot: the read-only token may not access secrets");
        EXPECT_TRUE(authorize(admin_principal(), r).allowed);
      }
    }
  }
  // Nor its subresources.
  EXPECT_FALSE(authorize(read_only_principal(), resource("get", "", "secrets", "", "", "status")).allowed);
}

TEST(Authz, WildcardsInARequestAreLiteral) {
  auto all = resource("*", "", "*", "default");
  EXPECT_TRUE(authorize(admin_principal(), all).allowed);
  EXPECT_FALSE(authorize(read_only_principal(), all).allowed);
  EXPECT_FALSE(authorize(read_only_principal(), resource("get", "", "*", "default")).allowed);
  EXPECT_FALSE(authorize(read_only_principal(), resource("get", "*", "servers")).allowed);
  EXPECT_FALSE(authorize(read_only_principal(), resource("*", "metal.sidero.dev", "servers")).allowed);
  // Not served: nothing grants it to the read-only token (kube's view role does not either).
  EXPECT_FALSE(authorize(read_only_principal(), resource("get", "", "pods", "default")).allowed);
  EXPECT_TRUE(authorize(admin_principal(), resource("get", "", "pods", "default")).allowed);
}

TEST(Authz, NonResourcePaths) {
  for (const std::string p : {"/api", "/api/v1", "/apis", "/apis/metal.sidero.dev", "/apis/metal.sidero.dev/v1alpha2",
                              "/version", "/version/", "/openapi/v2", "/openapi/v3",
                              "/openapi/v3/apis/metal.sidero.dev/v1alpha2", "/healthz", "/livez", "/readyz"}) {
    EXPECT_TRUE(authorize(read_only_principal(), path("get", p)).allowed) << p;
    EXPECT_FALSE(authorize(read_only_principal(), path("post", p)).allowed) << p;
    EXPECT_TRUE(authorize(admin_principal(), path("post", p)).allowed) << p;
  }
  EXPECT_FALSE(authorize(read_only_principal(), path("get", "/metrics")).allowed);
  EXPECT_FALSE(authorize(read_only_principal(), path("get", "/versions")).allowed);
  EXPECT_TRUE(authorize(admin_principal(), path("get", "/metrics")).allowed);
}

TEST(Authz, ForbiddenMessagesAsKubeApiserverWordsThem) {
  const Principal& ro = read_only_principal();
  EXPECT_EQ(forbidden_message(ro, resource("get", "", "secrets", "ironboot-system", "bmc-1")),
            "secrets \"bmc-1\" is forbidden: User \"ironboot:read-only\" cannot get resource \"secrets\" in API group \"\" "
            "in the namespace \"ironboot-system\"");
  EXPECT_EQ(forbidden_message(ro, resource("list", "", "secrets")),
            "secrets is forbidden: User \"ironboot:read-only\" cannot list resource \"secrets\" in API group \"\" at the "
            "cluster scope");
  EXPECT_EQ(forbidden_message(ro, resource("patch", "metal.sidero.dev", "servers", "", "s1", "status")),
            "servers.metal.sidero.dev \"s1\" is forbidden: User \"ironboot:read-only\" cannot patch resource "
            "\"servers/status\" in API group \"metal.sidero.dev\" at the cluster scope");
  EXPECT_EQ(forbidden_message(ro, resource("create", "metal.sidero.dev", "servers")),
            "servers.metal.sidero.dev is forbidden: User \"ironboot:read-only\" cannot create resource \"servers\" in API "
            "group \"metal.sidero.dev\" at the cluster scope");
  EXPECT_EQ(forbidden_message(ro, path("post", "/version")), "forbidden: User \"ironboot:read-only\" cannot post path \"/version\"");
  // Go's %q escapes; the sanitizer keeps HTML out of the authorizer's part only.
  EXPECT_EQ(forbidden_message(ro, resource("delete", "", "configmaps", "a<b", "x\"y")),
            "configmaps \"x\\\"y\" is forbidden: User \"ironboot:read-only\" cannot delete resource \"configmaps\" in API "
            "group \"\" in the namespace \"a&lt;b\"");
}

TEST(Authz, ForbiddenStatusBody) {
  const ApiResponse r = forbidden_response(read_only_principal(), resource("get", "", "secrets", "ironboot-system", "bmc-1"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"secrets \"bmc-1\" is forbidden: )"
            R"(User \"ironboot:read-only\" cannot get resource \"secrets\" in API group \"\" in the namespace \"ironboot-system\"",)"
            R"("reason":"Forbidden","details":{"name":"bmc-1","kind":"secrets"},"code":403})");
  auto servers = body_of(forbidden_response(read_only_principal(), resource("patch", "metal.sidero.dev", "servers", "", "s1")));
  EXPECT_EQ(servers.at("details"), (json::object{{"name", "s1"}, {"group", "metal.sidero.dev"}, {"kind", "servers"}}));
  auto non_resource = body_of(forbidden_response(read_only_principal(), path("post", "/version")));
  EXPECT_EQ(non_resource.at("details"), json::object{});
  EXPECT_EQ(non_resource.at("code"), 403);
}

ApiResponse review(const Principal& p, const char* resource_name, const std::string& body) {
  RequestInfo r = resource("create", "authorization.k8s.io", resource_name);
  r.version = "v1";
  EXPECT_TRUE(is_self_subject_review(r));
  return handle_self_subject_review(p, r, body);
}

json::object access_status(const Principal& p, const json::object& spec) {
  const ApiResponse r = review(p, "selfsubjectaccessreviews",
                               json::serialize(json::object{{"kind", "SelfSubjectAccessReview"},
                                                            {"apiVersion", "authorization.k8s.io/v1"},
                                                            {"metadata", json::object{}},
                                                            {"spec", spec}}));
  EXPECT_EQ(r.status, 201u) << r.body;
  auto body = body_of(r);
  EXPECT_EQ(body.at("kind"), "SelfSubjectAccessReview");
  EXPECT_EQ(body.at("apiVersion"), "authorization.k8s.io/v1");
  EXPECT_EQ(body.at("spec"), spec);
  return body.at("status").as_object();
}

TEST(Authz, AccessReviewAnswersFromThePolicy) {
  const json::object patch_servers{{"resourceAttributes", json::object{{"verb", "patch"}, {"group", "metal.sidero.dev"}, {"resource", "servers"}}}};
  EXPECT_EQ(access_status(admin_principal(), patch_servers),
            (json::object{{"allowed", true}, {"reason", "ironboot: the admin token may do everything"}}));
  EXPECT_EQ(access_status(read_only_principal(), patch_servers),
            (json::object{{"allowed", false}, {"denied", true}, {"reason", "ironboot: the read-only token may only get, list and watch"}}));
  const json::object get_servers{{"resourceAttributes", json::object{{"namespace", "default"}, {"verb", "get"}, {"group", "metal.sidero.dev"}, {"resource", "servers"}}}};
  EXPECT_EQ(access_status(read_only_principal(), get_servers).at("allowed"), true);
  const json::object secrets{{"resourceAttributes", json::object{{"namespace", "ironboot-system"}, {"verb", "get"}, {"resource", "secrets"}}}};
  EXPECT_EQ(access_status(read_only_principal(), secrets),
            (json::object{{"allowed", false}, {"denied", true}, {"reason", "ironboot: the read-only token may not access secrets"}}));
  EXPECT_EQ(access_status(admin_principal(), secrets).at("allowed"), true);
  const json::object everything{{"resourceAttributes", json::object{{"namespace", "default"}, {"verb", "*"}, {"resource", "*"}}}};
  EXPECT_EQ(access_status(admin_principal(), everything).at("allowed"), true);
  EXPECT_EQ(access_status(read_only_principal(), everything).at("allowed"), false);
  const json::object version{{"nonResourceAttributes", json::object{{"path", "/version"}, {"verb", "get"}}}};
  EXPECT_EQ(access_status(read_only_principal(), version).at("allowed"), true);
  const json::object post_version{{"nonResourceAttributes", json::object{{"path", "/version"}, {"verb", "post"}}}};
  EXPECT_EQ(access_status(read_only_principal(), post_version).at("allowed"), false);
}

TEST(Authz, AccessReviewEchoesMetadataAndDropsEmptyAttributes) {
  const ApiResponse r = review(read_only_principal(), "selfsubjectaccessreviews",
                               R"({"spec":{"resourceAttributes":{"verb":"list","group":"","resource":"servers","name":null,"extra":1}}})");
  ASSERT_EQ(r.status, 201u) << r.body;
  auto body = body_of(r);
  EXPECT_EQ(body.at("metadata"), (json::object{{"creationTimestamp", nullptr}}));
  EXPECT_EQ(body.at("spec"), (json::object{{"resourceAttributes", json::object{{"verb", "list"}, {"resource", "servers"}}}}));
  // servers in the core group is not the metal.sidero.dev type.
  EXPECT_EQ(body.at("status").at("allowed"), false);
}

TEST(Authz, AccessReviewInvalidBodies) {
  auto neither = review(admin_principal(), "selfsubjectaccessreviews", R"({"spec":{}})");
  EXPECT_EQ(neither.status, 422u);
  EXPECT_EQ(neither.body,
            R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: )"
            R"(spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",)"
            R"("reason":"Invalid","details":{"group":"authorization.k8s.io","kind":"SelfSubjectAccessReview","causes":[{"reason":"FieldValueInvalid",)"
            R"("message":"Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",)"
            R"("field":"spec.resourceAttributes"}]},"code":422})");
  auto both = body_of(review(read_only_principal(), "selfsubjectaccessreviews",
                             R"({"spec":{"resourceAttributes":{"verb":"get"},"nonResourceAttributes":{"path":"/api","verb":"get"}}})"));
  EXPECT_EQ(both.at("code"), 422);
  EXPECT_EQ(both.at("message"),
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: spec.nonResourceAttributes: Invalid value: "
            "authorization.NonResourceAttributes{Path:\"/api\", Verb:\"get\"}: cannot be specified in combination with resourceAttributes");

  auto not_json = review(read_only_principal(), "selfsubjectaccessreviews", "{");
  EXPECT_EQ(not_json.status, 400u);
  EXPECT_EQ(body_of(not_json).at("reason"), "BadRequest");
  auto wrong_type = body_of(review(read_only_principal(), "selfsubjectaccessreviews", R"({"spec":{"resourceAttributes":{"verb":3}}})"));
  EXPECT_EQ(wrong_type.at("code"), 400);
  EXPECT_EQ(wrong_type.at("message"),
            "SelfSubjectAccessReview in version \"v1\" cannot be handled as a SelfSubjectAccessReview: json: cannot unmarshal "
            "number into Go struct field ResourceAttributes.spec.resourceAttributes.verb of type string");
  auto wrong_kind = body_of(review(read_only_principal(), "selfsubjectaccessreviews", R"({"kind":"SelfSubjectRulesReview","spec":{}})"));
  EXPECT_EQ(wrong_kind.at("message"), "the object provided is unrecognized (must be of type SelfSubjectAccessReview)");
  auto wrong_version = body_of(review(read_only_principal(), "selfsubjectaccessreviews", R"({"apiVersion":"v1","spec":{}})"));
  EXPECT_EQ(wrong_version.at("message"),
            "the API version in the data (v1) does not match the expected API version (authorization.k8s.io/v1)");
}

std::string bytes(std::initializer_list<int> v) {
  std::string out;
  for (int b : v) out += static_cast<char>(b);
  return out;
}

TEST(Authz, AccessReviewInProtobuf) {
  // What kubectl 1.32 sends for `kubectl auth can-i patch servers` (its typed client uses protobuf).
  std::string body = bytes({'k', '8', 's', 0, 0x0a, 0x32, 0x0a, 0x17}) + "authorization.k8s.io/v1" + bytes({0x12, 0x17}) +
                     "SelfSubjectAccessReview" + bytes({0x12, 0x51, 0x0a, 0x10, 0x0a, 0, 0x12, 0, 0x1a, 0, 0x22, 0, 0x2a, 0,
                                                        0x32, 0, 0x38, 0, 0x42, 0, 0x12, 0x33, 0x0a, 0x31, 0x0a, 0x07}) +
                     "default" + bytes({0x12, 0x05}) + "patch" + bytes({0x1a, 0x10}) + "metal.sidero.dev" +
                     bytes({0x22, 0, 0x2a, 0x07}) + "servers" +
                     bytes({0x32, 0, 0x3a, 0, 0x1a, 0x08, 0x08, 0, 0x12, 0, 0x1a, 0, 0x20, 0, 0x1a, 0, 0x22, 0});
  RequestInfo r = resource("create", "authorization.k8s.io", "selfsubjectaccessreviews");
  r.version = "v1";
  for (const Principal* p : {&admin_principal(), &read_only_principal()}) {
    const ApiResponse res = handle_self_subject_review(*p, r, body, "application/vnd.kubernetes.protobuf");
    ASSERT_EQ(res.status, 201u) << res.body;
    auto out = body_of(res);
    EXPECT_EQ(out.at("spec"), json::parse(R"({"resourceAttributes":{"namespace":"default","verb":"patch","group":"metal.sidero.dev","resource":"servers"}})"));
    EXPECT_EQ(out.at("status").at("allowed"), p == &admin_principal());
  }
  // Truncated: a 400, never a read past the end.
  const ApiResponse cut = handle_self_subject_review(read_only_principal(), r, body.substr(0, 60), "application/vnd.kubernetes.protobuf");
  EXPECT_EQ(cut.status, 400u);
  // The rules review: spec field 1 is the namespace.
  RequestInfo rr = r;
  rr.resource = "selfsubjectrulesreviews";
  const std::string rules = bytes({'k', '8', 's', 0, 0x12, 0x0b, 0x12, 0x09, 0x0a, 0x07}) + "default";
  const ApiResponse rules_res = handle_self_subject_review(read_only_principal(), rr, rules, "application/vnd.kubernetes.protobuf");
  ASSERT_EQ(rules_res.status, 201u) << rules_res.body;
  EXPECT_EQ(body_of(rules_res).at("spec"), (json::object{{"namespace", "default"}}));
}

TEST(Authz, RulesReviewListsThePolicy) {
  auto admin = review(admin_principal(), "selfsubjectrulesreviews", R"({"spec":{"namespace":"default"}})");
  ASSERT_EQ(admin.status, 201u) << admin.body;
  EXPECT_EQ(body_of(admin).at("status"),
            json::parse(R"({"resourceRules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}],)"
                        R"("nonResourceRules":[{"verbs":["*"],"nonResourceURLs":["*"]}],"incomplete":false})"));
  EXPECT_EQ(body_of(admin).at("spec"), (json::object{{"namespace", "default"}}));

  auto ro = body_of(review(read_only_principal(), "selfsubjectrulesreviews", R"({"spec":{"namespace":"ironboot-system"}})"));
  const auto& rules = ro.at("status").at("resourceRules").as_array();
  // Every served type appears with exactly its read verbs; secrets nowhere.
  for (const ResourceType& t : builtin_resource_types()) {
    if (is_review(t)) continue;
    bool found = false;
    for (const auto& rule : rules) {
      const auto& res = rule.at("resources").as_array();
      if (rule.at("apiGroups").as_array() != json::array{json::value(t.group)}) continue;
      if (std::find(res.begin(), res.end(), json::value(t.plural)) == res.end()) continue;
      found = true;
      json::array verbs;
      for (const auto& v : kReadVerbs)
        if (std::find(t.verbs.begin(), t.verbs.end(), v) != t.verbs.end()) verbs.emplace_back(v);
      EXPECT_EQ(rule.at("verbs"), verbs) << t.plural;
    }
    const bool readable = std::any_of(t.verbs.begin(), t.verbs.end(), is_read);
    EXPECT_EQ(found, readable && !(t.group.empty() && t.plural == "secrets")) << t.plural;
  }
  EXPECT_NE(std::find(rules.begin(), rules.end(),
                      json::parse(R"({"verbs":["get","list","watch"],"apiGroups":["metal.sidero.dev"],"resources":["servers","serverclasses","environments"]})")),
            rules.end())
      << json::serialize(rules);
  EXPECT_NE(std::find(rules.begin(), rules.end(),
                      json::parse(R"({"verbs":["get"],"apiGroups":["metal.sidero.dev"],"resources":["servers/status","serverclasses/status","environments/status"]})")),
            rules.end())
      << json::serialize(rules);
  EXPECT_EQ(rules.back(),
            json::parse(R"({"verbs":["create"],"apiGroups":["authorization.k8s.io"],"resources":["selfsubjectaccessreviews","selfsubjectrulesreviews"]})"));
  EXPECT_EQ(ro.at("status").at("nonResourceRules").as_array().size(), 1u);
  EXPECT_EQ(ro.at("status").at("incomplete"), false);

  auto no_namespace = review(read_only_principal(), "selfsubjectrulesreviews", R"({"spec":{}})");
  EXPECT_EQ(no_namespace.status, 400u);
  EXPECT_EQ(body_of(no_namespace).at("message"), "no namespace on request");
}

ApiRequest api(const char* method, const char* target, std::string body = {}) {
  return ApiRequest{method, target, "application/json", "application/json", std::move(body)};
}

TEST(Authz, GateBeforeTheHandler) {
  // Allowed requests go on to the handler.
  auto g = gate_request(read_only_principal(), api("GET", "/apis/metal.sidero.dev/v1alpha2/servers?watch=true"));
  EXPECT_FALSE(g.response);
  EXPECT_FALSE(g.forbidden);
  ASSERT_TRUE(g.request);
  EXPECT_EQ(g.request->verb, "watch");
  EXPECT_FALSE(gate_request(admin_principal(), api("DELETE", "/apis/metal.sidero.dev/v1alpha2/servers/s1")).response);

  auto refused = gate_request(read_only_principal(), api("PATCH", "/apis/metal.sidero.dev/v1alpha2/servers/s1/status", "{}"));
  EXPECT_TRUE(refused.forbidden);
  ASSERT_TRUE(refused.response);
  EXPECT_EQ(refused.response->status, 403u);
  EXPECT_EQ(body_of(*refused.response).at("message"),
            "servers.metal.sidero.dev \"s1\" is forbidden: User \"ironboot:read-only\" cannot patch resource \"servers/status\" "
            "in API group \"metal.sidero.dev\" at the cluster scope");
  auto secret = gate_request(read_only_principal(), api("GET", "/api/v1/namespaces/ironboot-system/secrets/bmc-1"));
  ASSERT_TRUE(secret.response);
  EXPECT_EQ(secret.response->status, 403u);
  EXPECT_TRUE(gate_request(read_only_principal(), api("GET", "/api/v1/secrets?watch=1")).forbidden);

  // The reviews are answered here, for both principals.
  for (const Principal* p : {&admin_principal(), &read_only_principal()}) {
    auto r = gate_request(*p, api("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                  R"({"spec":{"nonResourceAttributes":{"path":"/api","verb":"get"}}})"));
    ASSERT_TRUE(r.response);
    EXPECT_EQ(r.response->status, 201u);
    EXPECT_EQ(body_of(*r.response).at("status").at("allowed"), true);
    auto rules = gate_request(*p, api("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", R"({"spec":{"namespace":"default"}})"));
    ASSERT_TRUE(rules.response);
    EXPECT_EQ(rules.response->status, 201u);
  }
  // Other methods on the review paths are the handler's (or a refusal).
  EXPECT_FALSE(gate_request(admin_principal(), api("GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).response);
  EXPECT_TRUE(gate_request(read_only_principal(), api("GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")).forbidden);

  // A target the request reading rejects reaches the handler only for the admin.
  EXPECT_FALSE(gate_request(admin_principal(), api("GET", "/apis/metal.sidero.dev/v1alpha2/servers/a/b/c")).response);
  auto odd = gate_request(read_only_principal(), api("GET", "/apis/metal.sidero.dev/v1alpha2/servers/a/b/c"));
  ASSERT_TRUE(odd.response);
  EXPECT_EQ(odd.response->status, 404u);
  EXPECT_FALSE(odd.forbidden);
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/authz-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(Authz, ReadOnlyTokenFile) {
  TempDir dir;
  const TlsMaterial first = ensure_tls_material(dir.path, "127.0.0.1:6443");
  EXPECT_EQ(first.read_only_token.size(), 64u);
  EXPECT_NE(first.read_only_token, first.token);
  EXPECT_EQ(slurp(dir.path + "/token-readonly"), first.read_only_token + "\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir.path + "/token-readonly").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Kept on the next start; a data dir from before it gets one and keeps its admin token.
  EXPECT_EQ(ensure_tls_material(dir.path, "127.0.0.1:6443").read_only_token, first.read_only_token);
  std::filesystem::remove(dir.path + "/token-readonly");
  const TlsMaterial upgraded = ensure_tls_material(dir.path, "127.0.0.1:6443");
  EXPECT_EQ(upgraded.token, first.token);
  EXPECT_EQ(upgraded.read_only_token.size(), 64u);
  EXPECT_NE(upgraded.read_only_token, first.read_only_token);

  const std::string ro = render_kubeconfig(upgraded, "https://127.0.0.1:6443", true);
  EXPECT_NE(ro.find(upgraded.read_only_token), std::string::npos);
  EXPECT_EQ(ro.find(upgraded.token), std::string::npos);
  EXPECT_NE(ro.find("current-context: ironboot-read-only"), std::string::npos) << ro;
  const std::string admin = render_kubeconfig(upgraded, "https://127.0.0.1:6443");
  EXPECT_NE(admin.find(upgraded.token), std::string::npos);
  EXPECT_EQ(admin.find(upgraded.read_only_token), std::string::npos);
  EXPECT_NE(admin.find("current-context: ironboot\n"), std::string::npos) << admin;
}

// A key or token file others may read refuses the start, naming the file and the fix.
TEST(Authz, KeyAndTokenFilesMustBePrivate) {
  for (const char* name : {"ca.key", "server.key", "token", "token-readonly"}) {
    TempDir dir;
    ensure_tls_material(dir.path, "127.0.0.1:6443");
    const std::string path = dir.path + "/" + name;
    ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
    try {
      ensure_tls_material(dir.path, "127.0.0.1:6443");
      ADD_FAILURE() << name << " with mode 0640 was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path + " is accessible by group or others (mode 0640); chmod 600 it"),
                std::string::npos)
          << e.what();
    }
    ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
    EXPECT_NO_THROW(ensure_tls_material(dir.path, "127.0.0.1:6443"));
  }
}

}  // namespace
}  // namespace ironboot::kube
