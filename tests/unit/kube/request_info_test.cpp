#include "kube/request_info.hpp"

#include <gtest/gtest.h>

namespace ironboot::kube {
namespace {

RequestInfo parse(const char* method, const char* target) {
  std::string err;
  auto info = parse_request_info(method, target, &err);
  EXPECT_TRUE(info) << target << ": " << err;
  return info.value_or(RequestInfo{});
}

TEST(RequestInfo, CustomResourceCollectionAndObject) {
  auto list = parse("GET", "/apis/metal.sidero.dev/v1alpha2/servers?limit=500");
  EXPECT_TRUE(list.resource_request);
  EXPECT_EQ(list.verb, "list");
  EXPECT_EQ(list.group, "metal.sidero.dev");
  EXPECT_EQ(list.version, "v1alpha2");
  EXPECT_EQ(list.resource, "servers");
  EXPECT_EQ(list.query.at("limit"), "500");

  auto status = parse("PATCH", "/apis/metal.sidero.dev/v1alpha2/servers/abc/status");
  EXPECT_EQ(status.verb, "patch");
  EXPECT_EQ(status.name, "abc");
  EXPECT_EQ(status.subresource, "status");
}

TEST(RequestInfo, CoreNamespacedAndAllNamespaces) {
  auto secret = parse("GET", "/api/v1/namespaces/ironboot-system/secrets/bmc-1");
  EXPECT_EQ(secret.group, "");
  EXPECT_EQ(secret.version, "v1");
  EXPECT_EQ(secret.namespace_name, "ironboot-system");
  EXPECT_EQ(secret.resource, "secrets");
  EXPECT_EQ(secret.name, "bmc-1");
  EXPECT_EQ(secret.verb, "get");

  auto all = parse("GET", "/api/v1/events?fieldSelector=involvedObject.name%3Dx");
  EXPECT_EQ(all.namespace_name, "");
  EXPECT_EQ(all.resource, "events");
  EXPECT_EQ(all.verb, "list");
  EXPECT_EQ(all.query.at("fieldSelector"), "involvedObject.name=x");

  auto lease = parse("PUT", "/apis/coordination.k8s.io/v1/namespaces/ironboot-system/leases/ironboot");
  EXPECT_EQ(lease.verb, "update");
  EXPECT_EQ(lease.group, "coordination.k8s.io");
  EXPECT_EQ(lease.resource, "leases");
}

TEST(RequestInfo, NamespaceObjectItself) {
  auto ns = parse("DELETE", "/api/v1/namespaces/tenant-a");
  EXPECT_EQ(ns.resource, "namespaces");
  EXPECT_EQ(ns.name, "tenant-a");
  EXPECT_EQ(ns.namespace_name, "");
  EXPECT_EQ(ns.verb, "delete");

  auto st = parse("GET", "/api/v1/namespaces/tenant-a/status");
  EXPECT_EQ(st.resource, "namespaces");
  EXPECT_EQ(st.name, "tenant-a");
  EXPECT_EQ(st.subresource, "status");

  auto list = parse("GET", "/api/v1/namespaces");
  EXPECT_EQ(list.resource, "namespaces");
  EXPECT_EQ(list.verb, "list");
}

TEST(RequestInfo, WatchUsesGoParseBool) {
  EXPECT_EQ(parse("GET", "/apis/metal.sidero.dev/v1alpha2/servers?watch=True").verb, "watch");
  EXPECT_EQ(parse("GET", "/apis/metal.sidero.dev/v1alpha2/servers?watch=1").verb, "watch");
  EXPECT_EQ(parse("GET", "/apis/metal.sidero.dev/v1alpha2/servers?watch=false").verb, "list");
  // Not a Go boolean: a list (the handler answers 400 for the bad value).
  EXPECT_EQ(parse("GET", "/apis/metal.sidero.dev/v1alpha2/servers?watch=yes").verb, "list");
}

TEST(RequestInfo, VerbsFromMethods) {
  EXPECT_EQ(parse("POST", "/api/v1/namespaces/default/configmaps").verb, "create");
  EXPECT_EQ(parse("DELETE", "/api/v1/namespaces/default/configmaps").verb, "deletecollection");
  EXPECT_EQ(parse("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").verb, "create");
}

TEST(RequestInfo, NonResourceRequests) {
  for (const char* t : {"/api", "/api/v1", "/apis", "/apis/metal.sidero.dev", "/apis/metal.sidero.dev/v1alpha2",
                        "/version", "/openapi/v3", "/healthz"}) {
    auto info = parse("GET", t);
    EXPECT_FALSE(info.resource_request) << t;
    EXPECT_EQ(info.verb, "get") << t;
  }
}

TEST(RequestInfo, RejectsWhatIsNoResourcePath) {
  EXPECT_FALSE(parse_request_info("GET", "not a target"));
  EXPECT_FALSE(parse_request_info("GET", "/apis/metal.sidero.dev/v1alpha2/servers/a/status/extra"));
  EXPECT_FALSE(parse_request_info("GET", "/api/v1/namespaces/default/secrets/a/b/c"));
}

}  // namespace
}  // namespace ironboot::kube

namespace ironboot::kube {
namespace {

TEST(RequestInfo, PathSegmentsDropEmptyOnes) {
  EXPECT_EQ(path_segments("/a//b/c/"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(path_segments("/").empty());
  EXPECT_TRUE(path_segments("").empty());
}

}  // namespace
}  // namespace ironboot::kube
