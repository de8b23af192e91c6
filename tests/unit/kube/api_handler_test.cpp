#include "kube/api_handler.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/time.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

class Api : public ::testing::Test {
 protected:
  Store store;
  int uid_counter = 0;
  ApiHandler handler{store, [] { return *parse_rfc3339("2026-01-01T00:00:00Z"); },
                     [this] { return "00000000-0000-4000-8000-00000000000" + std::to_string(++uid_counter); }};

  ApiResult call(const std::string& method, const std::string& target, const std::string& body = "",
                 const std::string& ct = "application/json", const std::string& accept = "application/json") {
    return handler.handle(ApiRequest{method, target, accept, ct, body});
  }
  static json::value body(const ApiResult& r) { return json::parse(r.response.body); }
  static std::string server(const std::string& name, const std::string& extra = "") {
    return R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"Server","metadata":{"name":")" + name +
           R"("},"spec":{"accepted":false)" + extra + R"(},"status":{"power":"on"}})";
  }
  const std::string base = "/apis/metal.sidero.dev/v1alpha2/servers";
};

TEST_F(Api, CreateSetsMetadataAndDropsStatus) {
  auto r = call("POST", base, server("s1"));
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_TRUE(r.wrote);
  auto o = body(r);
  EXPECT_EQ(o.at("metadata").at("uid"), "00000000-0000-4000-8000-000000000001");
  EXPECT_EQ(o.at("metadata").at("creationTimestamp"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(o.at("metadata").at("generation"), 1);
  EXPECT_EQ(o.at("metadata").at("resourceVersion"), "1");
  EXPECT_FALSE(o.as_object().contains("status"));
  r = call("POST", base, server("s1"));
  EXPECT_EQ(r.response.status, 409u);
  EXPECT_EQ(body(r).at("reason"), "AlreadyExists");
  EXPECT_EQ(body(r).at("details").at("kind"), "servers");
  EXPECT_EQ(call("POST", base, server("Bad_Name")).response.status, 422u);
  EXPECT_EQ(call("POST", base, R"({"apiVersion":"v1","kind":"Server","metadata":{"name":"x"},"spec":{"accepted":true}})").response.status, 400u);
}

TEST_F(Api, NamesAreLowercaseRfc1123Subdomains) {
  for (const char* ok : {"a", "0", "a-b", "a--b", "a.b", "a-1.b-2.c", "00000000-0000-4000-8000-000000000001"})
    EXPECT_EQ(call("POST", base, server(ok)).response.status, 201u) << ok;
  for (const char* bad : {"", "-a", "a-", "A", "a_b", ".a", "a.", "a..b", "a.-b", "a-.b", "a b", "a/b"})
    EXPECT_EQ(call("POST", base, server(bad)).response.status, 422u) << "'" << bad << "'";
  EXPECT_EQ(call("POST", base, server(std::string(253, 'a'))).response.status, 201u);
  EXPECT_EQ(call("POST", base, server(std::string(254, 'a'))).response.status, 422u);
}

TEST_F(Api, UpdateConflictsAndMissingResourceVersion) {
  call("POST", base, server("s1"));
  auto cur = body(call("GET", base + "/s1"));
  auto next = cur;
  next.at("spec").as_object()["hostname"] = "h";
  auto r = call("PUT", base + "/s1", json::serialize(next));
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  EXPECT_EQ(body(r).at("metadata").at("generation"), 2);
  EXPECT_EQ(body(r).at("metadata").at("resourceVersion"), "2");
  // Same body again: stale resourceVersion.
  r = call("PUT", base + "/s1", json::serialize(next));
  EXPECT_EQ(r.response.status, 409u);
  EXPECT_EQ(body(r).at("reason"), "Conflict");
  next.at("metadata").as_object().erase("resourceVersion");
  EXPECT_EQ(call("PUT", base + "/s1", json::serialize(next)).response.status, 422u);
  EXPECT_EQ(call("PUT", base + "/other", server("nope")).response.status, 400u) << "name mismatch with the URL";
  EXPECT_EQ(call("PUT", base + "/nope", server("nope")).response.status, 404u);
}

TEST_F(Api, NoOpWritesDoNotBumpTheCounter) {
  call("POST", base, server("s1"));
  auto r = call("PATCH", base + "/s1", R"({"spec":{"accepted":false}})", "application/merge-patch+json");
  EXPECT_EQ(r.response.status, 200u);
  EXPECT_FALSE(r.wrote);
  EXPECT_EQ(store.resource_version(), 1u);
  r = call("PATCH", base + "/s1", R"({"metadata":{"labels":{"a":"b"}}})", "application/merge-patch+json");
  EXPECT_TRUE(r.wrote);
  EXPECT_EQ(body(r).at("metadata").at("generation"), 1) << "metadata-only changes keep the generation";
}

TEST_F(Api, StatusSubresourceSeparation) {
  call("POST", base, server("s1"));
  auto r = call("PATCH", base + "/s1/status", R"({"status":{"power":"off"},"spec":{"accepted":true}})",
                "application/merge-patch+json");
  ASSERT_EQ(r.response.status, 200u);
  EXPECT_EQ(body(r).at("status").at("power"), "off");
  EXPECT_EQ(body(r).at("spec").at("accepted"), false);
  EXPECT_EQ(body(r).at("metadata").at("generation"), 1);
  r = call("PATCH", base + "/s1", R"({"status":{"power":"on"},"spec":{"accepted":true}})", "application/merge-patch+json");
  EXPECT_EQ(body(r).at("status").at("power"), "off");
  EXPECT_EQ(body(r).at("spec").at("accepted"), true);
}

TEST_F(Api, PatchTypes) {
  call("POST", base, server("s1"));
  auto r = call("PATCH", base + "/s1", R"([{"op":"add","path":"/spec/hostname","value":"x"}])", "application/json-patch+json");
  EXPECT_EQ(body(r).at("spec").at("hostname"), "x");
  EXPECT_EQ(call("PATCH", base + "/s1", "{}", "application/strategic-merge-patch+json").response.status, 415u);
  r = call("PATCH", base + "/s1", R"([{"op":"remove","path":"/spec/nothing"}])", "application/json-patch+json");
  EXPECT_EQ(r.response.status, 422u);
  // Server-side apply creates a missing object.
  r = call("PATCH", base + "/s2?fieldManager=x&force=true",
           "apiVersion: metal.sidero.dev/v1alpha2\nkind: Server\nmetadata:\n  name: s2\nspec:\n  accepted: true\n",
           "application/apply-patch+yaml");
  EXPECT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(call("PATCH", base + "/nope", "{}", "application/merge-patch+json").response.status, 404u);
}

TEST_F(Api, StrictValidationAndPruning) {
  auto r = call("POST", base + "?fieldValidation=Strict", server("s1", R"(,"colour":"blue")"));
  EXPECT_EQ(r.response.status, 400u);
  EXPECT_NE(r.response.body.find(R"(unknown field \"spec.colour\")"), std::string::npos);
  r = call("POST", base, server("s1", R"(,"colour":"blue")"));
  EXPECT_EQ(r.response.status, 201u);
  EXPECT_FALSE(body(r).at("spec").as_object().contains("colour"));
  r = call("POST", base, server("s2", R"(,"cordoned":"no")"));
  EXPECT_EQ(r.response.status, 422u);
  EXPECT_EQ(body(r).at("details").at("causes").at(0).at("field"), "spec.cordoned");
}

TEST_F(Api, FinalizersDelayDeletion) {
  call("POST", base, R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"Server","metadata":{"name":"s1","finalizers":["f"]},"spec":{"accepted":false}})");
  auto r = call("DELETE", base + "/s1");
  EXPECT_EQ(r.response.status, 200u);
  EXPECT_EQ(body(r).at("metadata").at("deletionTimestamp"), "2026-01-01T00:00:00Z");
  ASSERT_NE(store.get("servers", "s1"), nullptr);
  r = call("PATCH", base + "/s1", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  EXPECT_EQ(r.response.status, 200u);
  EXPECT_EQ(store.get("servers", "s1"), nullptr);
  EXPECT_EQ(call("DELETE", base + "/s1").response.status, 404u);
}

TEST_F(Api, ListPaginationSelectorsAndTable) {
  for (int i = 0; i < 5; ++i)
    call("POST", base, R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"Server","metadata":{"name":"s)" + std::to_string(i) +
                           R"(","labels":{"i":")" + std::to_string(i % 2) + R"("}},"spec":{"accepted":true}})");
  std::vector<std::string> names;
  std::string cont;
  int pages = 0;
  do {
    auto r = call("GET", base + "?limit=2" + (cont.empty() ? "" : "&continue=" + cont));
    auto b = body(r);
    for (const auto& i : b.at("items").as_array()) names.emplace_back(i.at("metadata").at("name").as_string());
    cont = b.at("metadata").as_object().contains("continue") ? std::string(b.at("metadata").at("continue").as_string()) : "";
    ++pages;
  } while (!cont.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"s0", "s1", "s2", "s3", "s4"}));
  auto r = call("GET", base + "?labelSelector=i%3D1");
  EXPECT_EQ(body(r).at("items").as_array().size(), 2u);
  EXPECT_EQ(body(r).at("kind"), "ServerList");
  r = call("GET", base + "?limit=500", "", "", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  EXPECT_EQ(body(r).at("kind"), "Table");
  EXPECT_EQ(body(r).at("rows").as_array().size(), 5u);
  EXPECT_EQ(body(r).at("rows").at(0).at("cells").at(4), true);  // Accepted, after BMC and State
  EXPECT_EQ(call("GET", base + "?labelSelector=a%20in%20(", "").response.status, 400u);
}

TEST_F(Api, BooleanParametersReadAsGoParseBool) {
  call("POST", base, server("s1"));
  // python3-kubernetes sends watch=True; kube-apiserver accepts every ParseBool spelling.
  for (const char* yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    EXPECT_TRUE(call("GET", base + "?watch=" + yes).watch) << yes;
    EXPECT_TRUE(call("GET", base + "?watch=1&allowWatchBookmarks=" + yes).watch) << yes;
  }
  for (const char* no : {"0", "f", "F", "FALSE", "false", "False"}) {
    auto r = call("GET", base + "?watch=" + no);
    EXPECT_FALSE(r.watch) << no;
    EXPECT_EQ(body(r).at("kind"), "ServerList") << no;
  }
  for (const char* bad : {"yes", "tRue", "2", "on"}) {
    auto r = call("GET", base + "?watch=" + bad);
    EXPECT_FALSE(r.watch) << bad;
    EXPECT_EQ(r.response.status, 400u) << bad;
    EXPECT_EQ(call("GET", base + "?watch=true&allowWatchBookmarks=" + bad).response.status, 400u) << bad;
  }
}

TEST_F(Api, WatchFromResourceVersionAndTooOld) {
  call("POST", base, server("s1"));
  call("POST", base, server("s2"));
  auto r = call("GET", base + "?watch=true&resourceVersion=1");
  ASSERT_TRUE(r.watch);
  auto events = handler.initial_events(*r.watch);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(json::parse(events[0]).at("type"), "ADDED");
  EXPECT_EQ(json::parse(events[0]).at("object").at("metadata").at("name"), "s2");
  r = call("GET", base + "?watch=true");
  EXPECT_EQ(handler.initial_events(*r.watch).size(), 2u);
  // Label selector transitions become ADDED / DELETED for the watcher.
  r = call("GET", base + "?watch=true&resourceVersion=2&labelSelector=x%3Dy", "", "", "application/json;as=Table;v=v1;g=meta.k8s.io");
  std::vector<std::string> seen;
  store.add_listener([&](const Change& c) {
    auto e = handler.encode_change(*r.watch, c);
    if (!e.empty()) seen.push_back(std::string(json::parse(e).at("type").as_string()) + ":" +
                                   std::string(json::parse(e).at("object").at("kind").as_string()));
  });
  call("PATCH", base + "/s1", R"({"metadata":{"labels":{"x":"y"}}})", "application/merge-patch+json");
  call("PATCH", base + "/s1", R"({"spec":{"hostname":"h"}})", "application/merge-patch+json");
  call("PATCH", base + "/s1", R"({"metadata":{"labels":{"x":"z"}}})", "application/merge-patch+json");
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED:Table", "MODIFIED:Table", "DELETED:Table"}));
  Store small(1);
  ApiHandler h2(small, [] { return std::chrono::system_clock::now(); }, random_uid);
  for (const char* n : {"a", "b", "c"}) h2.handle(ApiRequest{"POST", base, "", "application/json", server(n)});
  EXPECT_TRUE(h2.handle(ApiRequest{"GET", base + "?watch=true&resourceVersion=0", "", "", ""}).watch);
  EXPECT_TRUE(h2.handle(ApiRequest{"GET", base + "?watch=true&resourceVersion=2", "", "", ""}).watch);
  auto expired = h2.handle(ApiRequest{"GET", base + "?watch=true&resourceVersion=1", "", "", ""});
  EXPECT_FALSE(expired.watch);
  EXPECT_EQ(expired.response.status, 410u);
  EXPECT_EQ(json::parse(expired.response.body).at("reason"), "Expired");
}

TEST_F(Api, DiscoveryDocuments) {
  auto r = call("GET", "/apis", "", "", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json");
  EXPECT_EQ(r.response.content_type, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  auto resources = body(r).at("items").at(0).at("versions").at(0).at("resources");
  EXPECT_EQ(resources.as_array().size(), 3u);
  EXPECT_EQ(resources.at(0).at("subresources").at(0).at("subresource"), "status");
  r = call("GET", "/apis/metal.sidero.dev/v1alpha2");
  EXPECT_EQ(body(r).at("resources").as_array().size(), 6u);
  r = call("GET", "/version");
  EXPECT_EQ(body(r).at("minor"), "32");
  r = call("GET", "/openapi/v3/apis/metal.sidero.dev/v1alpha2");
  auto patch = body(r).at("paths").at("/apis/metal.sidero.dev/v1alpha2/servers/{name}").at("patch");
  EXPECT_EQ(patch.at("x-kubernetes-group-version-kind").at("kind"), "Server");
  EXPECT_EQ(call("GET", "/api/v1/pods").response.status, 404u);
}

}  // namespace
}  // namespace ironboot::kube
