// The built-in types through the API handler: namespaces, secrets, configmaps, events (both
// groups), leases; namespaced routing, field selectors, request parameters.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/base64.hpp"
#include "common/time.hpp"
#include "kube/api_handler.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

class Core : public ::testing::Test {
 protected:
  Store store;
  int uid_counter = 0;
  std::chrono::system_clock::time_point now = *parse_rfc3339("2026-01-01T00:00:00Z");
  ApiHandler handler{store, [this] { return now; },
                     [this] { return "00000000-0000-4000-8000-" + std::to_string(100000000000 + ++uid_counter); }};

  void SetUp() override { ASSERT_TRUE(handler.ensure_initial_namespaces()); }

  ApiResult call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& ct = "application/json", const std::string& accept = "application/json") {
    return handler.handle(ApiRequest{method, target, accept, ct, body});
  }
  static json::value b64(const std::string& s) { return json::value(base64_encode(s)); }
  static json::value body(const ApiResult& r) { return json::parse(r.response.body); }
  static std::string message(const ApiResult& r) { return std::string(body(r).at("message").as_string()); }
  static std::string secret(const std::string& name, const std::string& rest) {
    return R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name + "\"}" + (rest.empty() ? "" : "," + rest) + "}";
  }
  static std::string configmap(const std::string& name, const std::string& rest) {
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + "\"}" + (rest.empty() ? "" : "," + rest) + "}";
  }
  static std::string ns_object(const std::string& name, const std::string& meta_extra = "") {
    return R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":")" + name + "\"" + meta_extra + "}}";
  }
  static std::string event(const std::string& name, const std::string& involved,
                           const std::string& last = "2026-01-01T00:00:00Z") {
    return R"({"apiVersion":"v1","kind":"Event","metadata":{"name":")" + name + R"("},"involvedObject":)" + involved +
           R"(,"reason":"Booted","message":"it booted","type":"Normal","source":{"component":"ironboot"},)"
           R"("firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":")" + last + R"(","count":1})";
  }
  std::vector<std::string> names(const ApiResult& r) {
    std::vector<std::string> out;
    const auto b = body(r);
    for (const auto& i : b.at("items").as_array()) {
      const auto& m = i.at("metadata").as_object();
      std::string ns = m.contains("namespace") ? std::string(m.at("namespace").as_string()) + "/" : "";
      out.push_back(ns + std::string(m.at("name").as_string()));
    }
    return out;
  }
  const std::string secrets = "/api/v1/namespaces/ironboot-system/secrets";
  const std::string configmaps = "/api/v1/namespaces/ironboot-system/configmaps";
};

TEST_F(Core, InitialNamespacesExistOnceAndAreActive) {
  EXPECT_FALSE(handler.ensure_initial_namespaces());
  auto r = call("GET", "/api/v1/namespaces");
  EXPECT_EQ(names(r), (std::vector<std::string>{"default", "ironboot-system", "kube-public", "kube-system"}));
  auto ns = body(call("GET", "/api/v1/namespaces/default"));
  EXPECT_EQ(ns.at("status").at("phase"), "Active");
  EXPECT_EQ(ns.at("metadata").at("labels").at("kubernetes.io/metadata.name"), "default");
  EXPECT_FALSE(ns.at("metadata").as_object().contains("generation")) << "built-in types have no generation";
  r = call("GET", "/api/v1/namespaces", "", "", "application/json;as=Table;v=v1;g=meta.k8s.io");
  std::vector<std::string> cols;
  const auto table = body(r);
  for (const auto& c : table.at("columnDefinitions").as_array()) cols.emplace_back(c.at("name").as_string());
  EXPECT_EQ(cols, (std::vector<std::string>{"Name", "Status", "Age"}));
  EXPECT_EQ(body(r).at("rows").at(0).at("cells").at(1), "Active");
}

TEST_F(Core, SecretStringDataIsMergedAsBase64AndNeverReturned) {
  auto r = call("POST", secrets,
                secret("bmc-1", R"("data":{"username":"b2xk"},"stringData":{"username":"admin","password":"p@ss"})"));
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  auto o = body(r);
  EXPECT_EQ(o.at("metadata").at("namespace"), "ironboot-system");
  EXPECT_EQ(o.at("type"), "Opaque");
  EXPECT_EQ(o.at("data").at("username"), b64("admin")) << "stringData wins over data";
  EXPECT_EQ(o.at("data").at("password"), b64("p@ss"));
  EXPECT_FALSE(o.as_object().contains("stringData"));
  auto g = body(call("GET", secrets + "/bmc-1"));
  EXPECT_FALSE(g.as_object().contains("stringData"));
  EXPECT_EQ(g.at("data").at("password"), b64("p@ss"));
  // A patch's stringData is merged too.
  r = call("PATCH", secrets + "/bmc-1", R"({"stringData":{"password":"new"}})", "application/merge-patch+json");
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  EXPECT_EQ(body(r).at("data").at("password"), b64("new"));
  EXPECT_EQ(body(r).at("data").at("username"), b64("admin"));
  EXPECT_FALSE(body(r).as_object().contains("stringData"));
  EXPECT_FALSE(body(call("GET", secrets + "/bmc-1")).as_object().contains("stringData"));
}

TEST_F(Core, SecretDataRules) {
  auto r = call("POST", secrets, secret("s", R"("data":{"k":"not base64!"})"));
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_EQ(body(r).at("details").at("causes").at(0).at("field"), "data[k]");
  EXPECT_EQ(message(r).find("not base64"), std::string::npos) << "secret values are not echoed";
  r = call("POST", secrets, secret("s", R"("data":{"bad key":"YQ=="})"));
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("data[bad key]"), std::string::npos) << message(r);
  EXPECT_EQ(call("POST", secrets, secret("s", R"("stringData":{"..x":"a"})")).response.status, 422u);
  EXPECT_EQ(call("POST", secrets, secret("s", R"("data":{")" + std::string(254, 'k') + R"(":"YQ=="})")).response.status, 422u);
  const std::string big = base64_encode(std::string(1024 * 1024 + 1, 'x'));
  r = call("POST", secrets, secret("s", R"("data":{"big":")" + big + "\"}"));
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("Too long"), std::string::npos);
  EXPECT_EQ(call("POST", secrets, secret("s", R"("data":{"big":")" + base64_encode(std::string(1024 * 1024, 'x')) + "\"}")).response.status, 201u);
  r = call("POST", secrets, secret("tls", R"("type":"kubernetes.io/tls","data":{"tls.crt":"YQ=="})"));
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("data[tls.key]: Required value"), std::string::npos) << message(r);
  // type is immutable.
  r = call("PATCH", secrets + "/s", R"({"type":"other"})", "application/merge-patch+json");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("type: Invalid value: \"other\": field is immutable"), std::string::npos) << message(r);
  EXPECT_EQ(message(r).rfind("Secret \"s\" is invalid: ", 0), 0u) << message(r);
}

TEST_F(Core, ImmutableSecretsAndConfigMaps) {
  ASSERT_EQ(call("POST", secrets, secret("s", R"("stringData":{"a":"1"},"immutable":true)")).response.status, 201u);
  auto r = call("PATCH", secrets + "/s", R"({"stringData":{"a":"2"}})", "application/merge-patch+json");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("data: Forbidden: field is immutable when `immutable` is set"), std::string::npos) << message(r);
  r = call("PATCH", secrets + "/s", R"({"immutable":false})", "application/merge-patch+json");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("immutable: Forbidden"), std::string::npos) << message(r);
  EXPECT_EQ(call("PATCH", secrets + "/s", R"({"immutable":null})", "application/merge-patch+json").response.status, 422u);
  EXPECT_EQ(call("PATCH", secrets + "/s", R"({"metadata":{"labels":{"a":"b"}}})", "application/merge-patch+json").response.status, 200u)
      << "metadata may still change";
  ASSERT_EQ(call("POST", configmaps, configmap("c", R"("data":{"a":"1"},"immutable":true)")).response.status, 201u);
  EXPECT_EQ(call("PATCH", configmaps + "/c", R"({"data":{"a":"2"}})", "application/merge-patch+json").response.status, 422u);
  EXPECT_EQ(call("PATCH", configmaps + "/c", R"({"binaryData":{"b":"YQ=="}})", "application/merge-patch+json").response.status, 422u);
  EXPECT_EQ(call("DELETE", configmaps + "/c").response.status, 200u);
}

TEST_F(Core, ConfigMapDataAndBinaryData) {
  auto r = call("POST", configmaps, configmap("c", R"("data":{"a":"1","b":"2"},"binaryData":{"bin":"AAEC"})"));
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(call("POST", configmaps, configmap("d", R"("binaryData":{"bin":"%%%"})")).response.status, 422u);
  r = call("POST", configmaps, configmap("d", R"("data":{"x":"1"},"binaryData":{"x":"AAEC"})"));
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("duplicate of key present in binaryData"), std::string::npos);
  EXPECT_EQ(call("POST", configmaps, configmap("d", R"("data":{"x":1})")).response.status, 422u) << "data values are strings";
  EXPECT_EQ(call("POST", configmaps, configmap("d", R"("data":{"x":")" + std::string(1024 * 1024 + 1, 'x') + "\"}")).response.status, 422u);
  // DATA counts data and binaryData keys, as kubectl does.
  r = call("GET", configmaps, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io");
  EXPECT_EQ(body(r).at("columnDefinitions").at(1).at("name"), "Data");
  EXPECT_EQ(body(r).at("rows").at(0).at("cells").at(1), 3);
  r = call("GET", secrets, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io");
  EXPECT_EQ(body(r).at("columnDefinitions").as_array().size(), 4u);
}

TEST_F(Core, NamespacedRoutingAndScope) {
  EXPECT_EQ(call("POST", "/api/v1/secrets", secret("s", "")).response.status, 404u) << "namespaced create needs a namespace";
  EXPECT_EQ(call("GET", "/api/v1/secrets/s").response.status, 404u);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/namespaces").response.status, 404u);
  EXPECT_EQ(call("GET", "/apis/metal.sidero.dev/v1alpha2/namespaces/default/servers").response.status, 404u);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/secrets/s/status").response.status, 404u) << "no status subresource";
  EXPECT_EQ(call("GET", "/api/v2/secrets").response.status, 404u);
  auto r = call("POST", "/api/v1/namespaces/nope/secrets", secret("s", ""));
  EXPECT_EQ(r.response.status, 404u);
  EXPECT_EQ(message(r), "namespaces \"nope\" not found");
  EXPECT_EQ(body(r).at("details").at("kind"), "namespaces");
  r = call("POST", "/api/v1/namespaces/default/secrets",
           R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"kube-system"}})");
  EXPECT_EQ(r.response.status, 400u);
  EXPECT_EQ(message(r), "the namespace of the provided object does not match the namespace sent on the request");
  r = call("POST", "/api/v1/namespaces/default/secrets",
           R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default"}})");
  EXPECT_EQ(r.response.status, 201u);
  ASSERT_EQ(call("POST", secrets, secret("s", "")).response.status, 201u) << "same name in another namespace";
  ASSERT_EQ(call("POST", secrets, secret("t", "")).response.status, 201u);
  ASSERT_EQ(call("POST", "/api/v1/namespaces/kube-system/secrets", secret("a", "")).response.status, 201u);
  EXPECT_EQ(names(call("GET", secrets)), (std::vector<std::string>{"ironboot-system/s", "ironboot-system/t"}));
  EXPECT_EQ(names(call("GET", "/api/v1/secrets")),
            (std::vector<std::string>{"default/s", "ironboot-system/s", "ironboot-system/t", "kube-system/a"}));
  EXPECT_EQ(names(call("GET", "/api/v1/secrets?fieldSelector=metadata.namespace%3Dkube-system")),
            (std::vector<std::string>{"kube-system/a"}));
  EXPECT_EQ(names(call("GET", "/api/v1/secrets?fieldSelector=metadata.name%3Ds")),
            (std::vector<std::string>{"default/s", "ironboot-system/s"}));
  EXPECT_EQ(body(call("GET", "/api/v1/secrets")).at("kind"), "SecretList");
  EXPECT_EQ(body(call("GET", "/api/v1/secrets")).at("apiVersion"), "v1");
  // Pages across namespaces: the continue token carries the full key.
  std::vector<std::string> seen;
  std::string cont;
  do {
    auto page = call("GET", "/api/v1/secrets?limit=3" + (cont.empty() ? "" : "&continue=" + cont));
    for (auto& n : names(page)) seen.push_back(n);
    auto m = body(page).at("metadata").as_object();
    cont = m.contains("continue") ? std::string(m.at("continue").as_string()) : "";
  } while (!cont.empty());
  EXPECT_EQ(seen.size(), 4u);
  r = call("PUT", secrets + "/s", R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"default","resourceVersion":"1"}})");
  EXPECT_EQ(r.response.status, 400u);
  r = call("DELETE", secrets + "/s");
  EXPECT_EQ(r.response.status, 200u);
  EXPECT_FALSE(body(r).at("details").as_object().contains("group")) << "the core group is \"\"";
  EXPECT_EQ(call("GET", secrets + "/s").response.status, 404u);
  EXPECT_EQ(message(call("GET", secrets + "/s")), "secrets \"s\" not found");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/secrets/s").response.status, 200u);
}

TEST_F(Core, NamespaceDeletionRemovesContents) {
  EXPECT_EQ(call("POST", "/api/v1/namespaces", ns_object("Bad.Name")).response.status, 422u);
  EXPECT_EQ(call("POST", "/api/v1/namespaces", ns_object("a.b")).response.status, 422u) << "a DNS label, no dots";
  auto r = call("POST", "/api/v1/namespaces", ns_object("x"));
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(body(r).at("status").at("phase"), "Active");
  EXPECT_EQ(body(r).at("spec").at("finalizers").at(0), "kubernetes");
  ASSERT_EQ(call("POST", "/api/v1/namespaces/x/secrets", secret("s", "")).response.status, 201u);
  ASSERT_EQ(call("POST", "/api/v1/namespaces/x/configmaps", configmap("c", "")).response.status, 201u);
  ASSERT_EQ(call("POST", "/api/v1/namespaces/xy/secrets", secret("s", "")).response.status, 404u);
  ASSERT_EQ(call("POST", "/api/v1/namespaces", ns_object("xy")).response.status, 201u);
  ASSERT_EQ(call("POST", "/api/v1/namespaces/xy/secrets", secret("s", "")).response.status, 201u);
  r = call("DELETE", "/api/v1/namespaces/x");
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  EXPECT_TRUE(r.wrote);
  EXPECT_EQ(body(r).at("status").at("phase"), "Terminating");
  EXPECT_EQ(call("GET", "/api/v1/namespaces/x").response.status, 404u);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/x/secrets/s").response.status, 404u);
  EXPECT_TRUE(body(call("GET", "/api/v1/namespaces/x/configmaps")).at("items").as_array().empty());
  EXPECT_EQ(call("GET", "/api/v1/namespaces/xy/secrets/s").response.status, 200u) << "a prefix is not the namespace";
  for (const char* immortal : {"default", "kube-system", "kube-public"}) {
    r = call("DELETE", std::string("/api/v1/namespaces/") + immortal);
    EXPECT_EQ(r.response.status, 403u) << immortal;
    EXPECT_EQ(body(r).at("reason"), "Forbidden");
    EXPECT_EQ(message(r), std::string("namespaces \"") + immortal + "\" is forbidden: this namespace may not be deleted");
  }
}

TEST_F(Core, TerminatingNamespaceRefusesNewContent) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces", ns_object("held", R"(,"finalizers":["example.com/hold"])")).response.status, 201u);
  auto r = call("DELETE", "/api/v1/namespaces/held");
  ASSERT_EQ(r.response.status, 200u);
  auto ns = body(call("GET", "/api/v1/namespaces/held"));
  EXPECT_EQ(ns.at("status").at("phase"), "Terminating");
  EXPECT_TRUE(ns.at("metadata").as_object().contains("deletionTimestamp"));
  r = call("POST", "/api/v1/namespaces/held/configmaps", configmap("c", ""));
  EXPECT_EQ(r.response.status, 403u);
  EXPECT_EQ(body(r).at("reason"), "Forbidden");
  EXPECT_EQ(message(r), "configmaps \"c\" is forbidden: unable to create new content in namespace held because it is being terminated");
  EXPECT_EQ(body(r).at("details").at("causes").at(0).at("reason"), "NamespaceTerminating");
  EXPECT_EQ(call("DELETE", "/api/v1/namespaces/held").response.status, 409u);
  // Status cannot be set back to Active through the main resource.
  r = call("PATCH", "/api/v1/namespaces/held", R"({"status":{"phase":"Active"}})", "application/merge-patch+json");
  EXPECT_EQ(body(call("GET", "/api/v1/namespaces/held")).at("status").at("phase"), "Terminating");
  r = call("PATCH", "/api/v1/namespaces/held", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  EXPECT_EQ(r.response.status, 200u);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/held").response.status, 404u);
}

TEST_F(Core, EventsFieldSelectorsAndBothGroups) {
  const std::string server_ref = R"({"kind":"Server","apiVersion":"metal.sidero.dev/v1alpha2","name":"s1","uid":"u-1"})";
  auto created = call("POST", "/api/v1/namespaces/default/events", event("e1", server_ref));
  ASSERT_EQ(created.response.status, 201u) << created.response.body;
  ASSERT_EQ(call("POST", "/api/v1/namespaces/default/events", event("e2", R"({"kind":"Server","name":"s2","uid":"u-2"})"))
                .response.status,
            201u);
  // Legacy events must agree with their object's namespace.
  auto r = call("POST", "/api/v1/namespaces/kube-system/events", event("e3", server_ref));
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("involvedObject.namespace"), std::string::npos);
  // kubectl describe server s1: all namespaces, by name, namespace, kind and uid.
  r = call("GET", "/api/v1/events?fieldSelector=involvedObject.name%3Ds1,involvedObject.namespace%3D,"
                  "involvedObject.kind%3DServer,involvedObject.uid%3Du-1");
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  EXPECT_EQ(names(r), (std::vector<std::string>{"default/e1"}));
  EXPECT_EQ(names(call("GET", "/api/v1/events?fieldSelector=source%3Dironboot,reason%3DBooted")).size(), 2u);
  EXPECT_EQ(names(call("GET", "/api/v1/events?fieldSelector=involvedObject.name!%3Ds1")),
            (std::vector<std::string>{"default/e2"}));
  r = call("GET", "/api/v1/events?fieldSelector=spec.x%3D1");
  EXPECT_EQ(r.response.status, 400u);
  EXPECT_EQ(message(r), "field label not supported: spec.x");
  EXPECT_EQ(call("GET", "/api/v1/secrets?fieldSelector=reason%3Dx").response.status, 400u);
  EXPECT_EQ(call("GET", "/api/v1/secrets?fieldSelector=type%3DOpaque").response.status, 200u);
  // The same stored object through events.k8s.io/v1.
  r = call("GET", "/apis/events.k8s.io/v1/namespaces/default/events/e1");
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  auto e = body(r);
  EXPECT_EQ(e.at("apiVersion"), "events.k8s.io/v1");
  EXPECT_EQ(e.at("regarding").at("name"), "s1");
  EXPECT_EQ(e.at("note"), "it booted");
  EXPECT_EQ(e.at("deprecatedSource").at("component"), "ironboot");
  EXPECT_EQ(e.at("deprecatedCount"), 1);
  EXPECT_FALSE(e.as_object().contains("involvedObject"));
  EXPECT_EQ(body(call("GET", "/apis/events.k8s.io/v1/events")).at("items").as_array().size(), 2u);
  EXPECT_EQ(body(call("GET", "/apis/events.k8s.io/v1/events")).at("apiVersion"), "events.k8s.io/v1");
  // Created through events.k8s.io/v1: eventTime and the reporting fields are required.
  const std::string v1 = "/apis/events.k8s.io/v1/namespaces/default/events";
  r = call("POST", v1, R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"n1"},"reason":"R","note":"n"})");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("eventTime: Required value"), std::string::npos) << message(r);
  r = call("POST", v1, R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"n1"},"eventTime":"2026-01-01T00:00:00.000001Z",)"
                       R"("reportingController":"ironboot.sidero.dev/discovery","reportingInstance":"host-1","action":"Register",)"
                       R"("reason":"Registered","note":"registered","type":"Normal","regarding":{"kind":"Server","name":"s1","uid":"u-1"},)"
                       R"("series":{"count":2,"lastObservedTime":"2026-01-01T00:00:05.000000Z"}})");
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(body(r).at("reportingController"), "ironboot.sidero.dev/discovery");
  auto core = body(call("GET", "/api/v1/namespaces/default/events/n1"));
  EXPECT_EQ(core.at("apiVersion"), "v1");
  EXPECT_EQ(core.at("involvedObject").at("name"), "s1");
  EXPECT_EQ(core.at("message"), "registered");
  EXPECT_EQ(core.at("reportingComponent"), "ironboot.sidero.dev/discovery");
  EXPECT_EQ(core.at("series").at("count"), 2);
  r = call("POST", v1, R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"n2"},"eventTime":"2026-01-01T00:00:00.000001Z",)"
                       R"("reportingController":"c","reportingInstance":"i","action":"A","reason":"R","type":"Bad","deprecatedCount":3})");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_NE(message(r).find("has invalid value: Bad"), std::string::npos) << message(r);
  EXPECT_NE(message(r).find("deprecatedCount"), std::string::npos) << message(r);
  // kubectl get events: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE (no leading NAME).
  now += std::chrono::seconds(90);
  r = call("GET", "/api/v1/namespaces/default/events?fieldSelector=metadata.name%3Dn1", "", "",
           "application/json;as=Table;v=v1;g=meta.k8s.io");
  auto t = body(r);
  std::vector<std::string> cols;
  for (const auto& c : t.at("columnDefinitions").as_array())
    if (c.at("priority") == 0) cols.emplace_back(c.at("name").as_string());
  EXPECT_EQ(cols, (std::vector<std::string>{"Last Seen", "Type", "Reason", "Object", "Message"}));
  auto cells = t.at("rows").at(0).at("cells");
  EXPECT_EQ(cells.at(0), "85s") << "series.lastObservedTime";
  EXPECT_EQ(cells.at(3), "server/s1");
  EXPECT_EQ(cells.at(4), "registered");
}

TEST_F(Core, EventWatchIsNamespaceFiltered) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces", ns_object("other")).response.status, 201u);
  auto w = call("GET", "/api/v1/namespaces/default/events?watch=1");
  ASSERT_TRUE(w.watch);
  auto all = call("GET", "/apis/events.k8s.io/v1/events?watch=true&fieldSelector=reason%3DBooted");
  ASSERT_TRUE(all.watch);
  std::vector<std::string> in_default, everywhere;
  store.add_listener([&](const Change& c) {
    if (auto e = handler.encode_change(*w.watch, c); !e.empty())
      in_default.emplace_back(json::parse(e).at("object").at("metadata").at("name").as_string());
    if (auto e = handler.encode_change(*all.watch, c); !e.empty()) {
      auto v = json::parse(e);
      everywhere.push_back(std::string(v.at("type").as_string()) + ":" + std::string(v.at("object").at("apiVersion").as_string()));
    }
  });
  call("POST", "/api/v1/namespaces/default/events", event("a", R"({"kind":"Server","name":"s"})"));
  call("POST", "/api/v1/namespaces/other/events", event("b", R"({"kind":"Secret","name":"s","namespace":"other"})"));
  call("POST", "/api/v1/namespaces/default/secrets", secret("s", ""));
  EXPECT_EQ(in_default, (std::vector<std::string>{"a"}));
  EXPECT_EQ(everywhere, (std::vector<std::string>{"ADDED:events.k8s.io/v1", "ADDED:events.k8s.io/v1"}));
  // A resumed watch sees the history of its namespace only.
  auto resumed = call("GET", "/api/v1/namespaces/other/events?watch=true&resourceVersion=1");
  ASSERT_TRUE(resumed.watch);
  EXPECT_EQ(handler.initial_events(*resumed.watch).size(), 1u);
}

TEST_F(Core, EventsExpireAndAreBounded) {
  handler.set_event_limits({std::chrono::seconds(3600), 200});
  ASSERT_EQ(call("POST", "/api/v1/namespaces/default/events", event("old", R"({"kind":"Server","name":"s"})")).response.status, 201u);
  now += std::chrono::minutes(30);
  ASSERT_EQ(call("POST", "/api/v1/namespaces/default/events",
                 event("new", R"({"kind":"Server","name":"s"})", "2026-01-01T00:30:00Z"))
                .response.status,
            201u);
  now += std::chrono::minutes(31);
  EXPECT_EQ(handler.expire_events(), 1u);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/events/old").response.status, 404u);
  EXPECT_EQ(call("GET", "/api/v1/namespaces/default/events/new").response.status, 200u);
  for (int i = 0; i < 250; ++i) {
    now += std::chrono::seconds(1);
    call("POST", "/api/v1/namespaces/default/events",
         event("e" + std::to_string(i), R"({"kind":"Server","name":"s"})", format_rfc3339(now)));
  }
  const auto& events = store.objects("events");
  EXPECT_LE(events.size(), 200u);
  EXPECT_GE(events.size(), 198u);
  EXPECT_FALSE(events.count("default/new")) << "the oldest go first";
  EXPECT_TRUE(events.count("default/e249"));
}

TEST_F(Core, LeasesConflictOnStaleResourceVersion) {
  const std::string leases = "/apis/coordination.k8s.io/v1/namespaces/ironboot-system/leases";
  auto r = call("POST", leases, R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"leader"},)"
                                R"("spec":{"holderIdentity":"a","leaseDurationSeconds":15,"renewTime":"2026-01-01T00:00:00.000000Z","leaseTransitions":0}})");
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  auto lease = body(r);
  auto next = lease;
  next.at("spec").as_object()["holderIdentity"] = "b";
  r = call("PUT", leases + "/leader", json::serialize(next));
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  EXPECT_EQ(body(r).at("spec").at("holderIdentity"), "b");
  r = call("PUT", leases + "/leader", json::serialize(next));
  EXPECT_EQ(r.response.status, 409u);
  EXPECT_EQ(message(r), "Operation cannot be fulfilled on leases.coordination.k8s.io \"leader\": the object has been modified; "
                        "please apply your changes to the latest version and try again");
  EXPECT_EQ(body(r).at("details").at("group"), "coordination.k8s.io");
  r = call("POST", leases, R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"x"},"spec":{"leaseDurationSeconds":"15"}})");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_EQ(message(r).rfind("Lease.coordination.k8s.io \"x\" is invalid: ", 0), 0u) << message(r);
  r = call("GET", leases, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io");
  EXPECT_EQ(body(r).at("columnDefinitions").at(1).at("name"), "Holder");
  EXPECT_EQ(body(r).at("rows").at(0).at("cells").at(1), "b");
  EXPECT_EQ(call("POST", "/apis/coordination.k8s.io/v1/leases", "{}").response.status, 404u);
  EXPECT_EQ(call("DELETE", leases + "/leader").response.status, 200u);
}

TEST_F(Core, RequestParametersReadLikeKubeApiserver) {
  const std::string list = "/api/v1/namespaces/default/configmaps";
  EXPECT_TRUE(call("GET", list + "?watch=True&allowWatchBookmarks=1&timeoutSeconds=5").watch);
  auto w = call("GET", list + "?watch=true&timeoutSeconds=999999999999");
  ASSERT_TRUE(w.watch);
  EXPECT_EQ(w.watch->timeout, std::chrono::seconds(3600)) << "clamped";
  EXPECT_EQ(call("GET", list + "?watch=true&timeoutSeconds=-1").watch->timeout, std::chrono::seconds(1800));
  EXPECT_EQ(call("GET", list + "?watch=true&timeoutSeconds=5x").response.status, 400u);
  EXPECT_EQ(call("GET", list + "?limit=ten").response.status, 400u);
  EXPECT_EQ(call("GET", list + "?pretty=maybe").response.status, 400u);
  EXPECT_EQ(call("GET", list + "?resourceVersion=abc").response.status, 400u);
  auto r = call("GET", list + "?sendInitialEvents=true");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_EQ(body(r).at("details").at("kind"), "ListOptions");
  EXPECT_EQ(call("GET", list + "?watch=1&sendInitialEvents=true").response.status, 422u);
  EXPECT_EQ(call("GET", list + "?resourceVersionMatch=NotOlderThan").response.status, 422u);
  EXPECT_EQ(call("GET", list + "?resourceVersion=1&resourceVersionMatch=Bogus").response.status, 422u);
  EXPECT_EQ(call("GET", list + "?resourceVersion=1&resourceVersionMatch=NotOlderThan").response.status, 200u);
  call("POST", list, configmap("c", ""));
  w = call("GET", list + "?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true");
  ASSERT_TRUE(w.watch);
  auto events = handler.initial_events(*w.watch);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(json::parse(events[0]).at("type"), "ADDED");
  EXPECT_EQ(json::parse(events[1]).at("type"), "BOOKMARK");
  EXPECT_EQ(json::parse(events[1]).at("object").at("metadata").at("annotations").at("k8s.io/initial-events-end"), "true");
  w = call("GET", list + "?watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan");
  ASSERT_TRUE(w.watch);
  EXPECT_TRUE(handler.initial_events(*w.watch).empty());
  EXPECT_EQ(call("POST", list + "?dryRun=Some", configmap("d", "")).response.status, 422u);
  EXPECT_EQ(call("POST", list + "?fieldValidation=Loose", configmap("d", "")).response.status, 400u);
  r = call("POST", list + "?dryRun=All", configmap("d", ""));
  EXPECT_EQ(r.response.status, 201u);
  EXPECT_FALSE(r.wrote);
  EXPECT_EQ(call("GET", list + "/d").response.status, 404u);
  r = call("DELETE", list + "/c?dryRun=All");
  EXPECT_EQ(r.response.status, 200u);
  EXPECT_EQ(call("GET", list + "/c").response.status, 200u) << "a dry-run delete keeps it";
  EXPECT_EQ(call("DELETE", list + "/c?propagationPolicy=Sideways").response.status, 422u);
  EXPECT_EQ(call("DELETE", list + "/c?propagationPolicy=Background").response.status, 200u);
  EXPECT_EQ(call("POST", list, std::string("k8s\0\x0a", 5), "application/vnd.kubernetes.protobuf").response.status, 400u)
      << "a truncated protobuf body (kube_protobuf_test.cpp has the decoded ones)";
  EXPECT_EQ(call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "{}").response.status, 404u)
      << "answered by the authorization layer, not stored here";
}


}  // namespace
}  // namespace ironboot::kube

namespace ironboot::kube {
namespace {

// What kubectl apply and the Python client's patch_namespaced_* send for built-in kinds.
TEST_F(Core, StrategicMergePatchOnBuiltInTypes) {
  ASSERT_EQ(call("POST", secrets, secret("smp", R"("data":{"a":"MQ=="},"metadata":{"name":"smp","finalizers":["x"]})")).response.status,
            201u);
  auto r = call("PATCH", secrets + "/smp",
                R"({"metadata":{"labels":{"bmc":"yes"},"finalizers":["y"]},"stringData":{"b":"2"}})",
                "application/strategic-merge-patch+json");
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  auto o = body(r);
  EXPECT_EQ(o.at("metadata").at("labels").at("bmc"), "yes");
  EXPECT_EQ(o.at("metadata").at("finalizers"), json::parse(R"(["x","y"])")) << "ObjectMeta finalizers merge";
  EXPECT_EQ(o.at("data").at("a"), "MQ==");
  EXPECT_EQ(o.at("data").at("b"), b64("2"));
  // A malformed directive is the client's error, and changes nothing.
  r = call("PATCH", secrets + "/smp", R"({"data":{"$patch":"explode"}})", "application/strategic-merge-patch+json");
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_EQ(body(call("GET", secrets + "/smp")).at("data").at("b"), b64("2"));
  // Custom resources still refuse it, as kube-apiserver does.
  r = call("PATCH", "/apis/metal.sidero.dev/v1alpha2/servers/x", "{}", "application/strategic-merge-patch+json");
  EXPECT_EQ(r.response.status, 415u);
}


TEST_F(Core, BuiltInBodiesWithoutTypeMetaAreTheUrlsType) {
  auto r = call("POST", secrets, R"({"metadata":{"name":"no-tm"},"stringData":{"a":"b"}})");
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(body(r).at("kind"), "Secret");
  EXPECT_EQ(body(r).at("apiVersion"), "v1");
  // A different kind is still refused; custom resources must name theirs.
  EXPECT_EQ(call("POST", secrets, R"({"kind":"ConfigMap","metadata":{"name":"x"}})").response.status, 400u);
  EXPECT_EQ(call("POST", "/apis/metal.sidero.dev/v1alpha2/servers",
                 R"({"metadata":{"name":"4c4c4544-0035-4410-8057-b4c04f4a3532"},"spec":{"accepted":false}})")
                .response.status,
            400u);
}

}  // namespace
}  // namespace ironboot::kube
