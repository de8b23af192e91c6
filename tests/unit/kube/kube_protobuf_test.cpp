// The protobuf request codec: each kind from hand-encoded bytes (and kubectl's own) to the
// JSON kube-apiserver would accept; malformed input is an error, never a crash; the handler
// decodes protobuf creates and updates.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "common/time.hpp"
#include "kube/api_handler.hpp"
#include "kube/kube_protobuf.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

// ---- A minimal protobuf encoder for building test vectors ----

std::string varint(std::uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
  return out;
}
std::string tag(std::uint32_t field, std::uint32_t wire) { return varint((std::uint64_t{field} << 3) | wire); }
std::string ld(std::uint32_t field, const std::string& bytes) { return tag(field, 2) + varint(bytes.size()) + bytes; }
std::string vi(std::uint32_t field, std::uint64_t v) { return tag(field, 0) + varint(v); }
std::string entry(std::uint32_t field, const std::string& k, const std::string& v) { return ld(field, ld(1, k) + ld(2, v)); }

std::string envelope(const std::string& api_version, const std::string& kind, const std::string& raw) {
  std::string type_meta = (api_version.empty() ? "" : ld(1, api_version)) + (kind.empty() ? "" : ld(2, kind));
  return std::string("k8s\0", 4) + ld(1, type_meta) + ld(2, raw) + ld(3, "") + ld(4, "");
}

std::optional<json::object> decode(const std::string& body, std::string* error = nullptr, ProtobufError* why = nullptr) {
  std::string local;
  return decode_kube_protobuf(body, error ? error : &local, {}, {}, why);
}

std::string error_of(const std::string& body) {
  std::string err;
  EXPECT_FALSE(decode(body, &err)) << body.size();
  return err;
}

std::string bytes(std::initializer_list<int> v) {
  std::string out;
  for (int b : v) out += static_cast<char>(b);
  return out;
}

// What kubectl 1.32 sends for `kubectl auth can-i patch servers` (as in authz_test.cpp).
std::string kubectl_can_i_patch_servers() {
  return bytes({'k', '8', 's', 0, 0x0a, 0x32, 0x0a, 0x17}) + "authorization.k8s.io/v1" + bytes({0x12, 0x17}) +
         "SelfSubjectAccessReview" +
         bytes({0x12, 0x51, 0x0a, 0x10, 0x0a, 0, 0x12, 0, 0x1a, 0, 0x22, 0, 0x2a, 0, 0x32, 0, 0x38, 0, 0x42, 0, 0x12,
                0x33, 0x0a, 0x31, 0x0a, 0x07}) +
         "default" + bytes({0x12, 0x05}) + "patch" + bytes({0x1a, 0x10}) + "metal.sidero.dev" +
         bytes({0x22, 0, 0x2a, 0x07}) + "servers" +
         bytes({0x32, 0, 0x3a, 0, 0x1a, 0x08, 0x08, 0, 0x12, 0, 0x1a, 0, 0x20, 0, 0x1a, 0, 0x22, 0});
}

// ObjectMeta as kubectl's typed client writes it: every string present, empty Times.
std::string kubectl_meta(const std::string& name, const std::string& ns = "") {
  return ld(1, name) + ld(2, "") + ld(3, ns) + ld(4, "") + ld(5, "") + ld(6, "") + vi(7, 0) + ld(8, "");
}

TEST(KubeProtobuf, Secret) {
  const std::string raw = ld(1, kubectl_meta("s1", "default") + entry(11, "app", "x") + entry(12, "note", "hi")) +
                          entry(2, "bin", std::string("\0\xff", 2)) + entry(2, "empty", "") + ld(3, "Opaque") +
                          entry(4, "plain", "text") + vi(5, 1);
  auto obj = decode(envelope("v1", "Secret", raw));
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"v1","kind":"Secret",
    "metadata":{"name":"s1","namespace":"default","labels":{"app":"x"},"annotations":{"note":"hi"}},
    "data":{"bin":"AP8=","empty":""},"type":"Opaque","stringData":{"plain":"text"},"immutable":true})"));
}

TEST(KubeProtobuf, ConfigMap) {
  const std::string raw = ld(1, kubectl_meta("c1")) + entry(2, "k", "v") + entry(2, "k2", "") +
                          entry(3, "blob", "\x01\x02") + vi(4, 0);
  auto obj = decode(envelope("v1", "ConfigMap", raw));
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c1"},
    "data":{"k":"v","k2":""},"binaryData":{"blob":"AQI="},"immutable":false})"));
}

TEST(KubeProtobuf, NamespaceWithEveryObjectMetaField) {
  const std::string owner = ld(5, "v1") + ld(1, "Node") + ld(3, "n1") + ld(4, "u-1") + vi(6, 1) + vi(7, 0);
  const std::string meta = ld(1, "ns1") + ld(2, "ns-") + ld(4, "/api/v1/namespaces/ns1") + ld(5, "uid-1") +
                           ld(6, "42") + vi(7, 3) + ld(8, vi(1, 1767225600) + vi(2, 500)) + ld(9, vi(1, 1767225660)) +
                           vi(10, 0) + ld(13, owner) + ld(14, "a/b") + ld(14, "") +
                           ld(17, ld(1, "kubectl") + ld(2, "Update")) /* managedFields: skipped */;
  const std::string raw = ld(1, meta) + ld(2, ld(1, "kubernetes")) + ld(3, ld(1, "Active"));
  auto obj = decode(envelope("v1", "Namespace", raw));
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{
    "name":"ns1","generateName":"ns-","selfLink":"/api/v1/namespaces/ns1","uid":"uid-1","resourceVersion":"42",
    "generation":3,"creationTimestamp":"2026-01-01T00:00:00Z","deletionTimestamp":"2026-01-01T00:01:00Z",
    "deletionGracePeriodSeconds":0,
    "ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"n1","uid":"u-1","controller":true,"blockOwnerDeletion":false}],
    "finalizers":["a/b",""]},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}})"));
}

TEST(KubeProtobuf, NegativeInt64AndRepeatedMessageMerge) {
  // int64 -1 is ten bytes on the wire; a message field given twice merges.
  const std::string raw = ld(1, vi(10, ~std::uint64_t{0}) + ld(1, "a")) + ld(1, ld(3, "ns"));
  auto obj = decode(envelope("v1", "ConfigMap", raw));
  ASSERT_TRUE(obj);
  EXPECT_EQ(obj->at("metadata"), json::parse(R"({"deletionGracePeriodSeconds":-1,"name":"a","namespace":"ns"})"));
}

TEST(KubeProtobuf, KubectlAccessReview) {
  auto obj = decode(kubectl_can_i_patch_servers());
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
    "metadata":{},"spec":{"resourceAttributes":{"namespace":"default","verb":"patch","group":"metal.sidero.dev","resource":"servers"}}})"));
  const std::string non_resource = ld(1, "") + ld(2, ld(2, ld(1, "/healthz") + ld(2, "get")));
  obj = decode(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", non_resource));
  ASSERT_TRUE(obj);
  EXPECT_EQ(obj->at("spec"), json::parse(R"({"nonResourceAttributes":{"path":"/healthz","verb":"get"}})"));
}

// Captured from kubectl 1.32.4 at -v=10 against this API (also fuzz seeds kubectl_* in
// tests/fuzz/corpus/kube_protobuf).
template <std::size_t N>
std::string captured(const char (&bytes)[N]) { return std::string(bytes, N - 1); }

TEST(KubeProtobuf, WhatKubectlSends) {
  // kubectl create secret generic cap-s -n default --from-literal=user=admin --from-literal=bin=é
  auto obj = decode(captured(
      "\x6b\x38\x73\x00\x0a\x0c\x0a\x02\x76\x31\x12\x06\x53\x65\x63\x72\x65\x74\x12\x3a\x0a\x1c\x0a\x05"
      "\x63\x61\x70\x2d\x73\x12\x00\x1a\x07\x64\x65\x66\x61\x75\x6c\x74\x22\x00\x2a\x00\x32\x00\x38\x00"
      "\x42\x00\x12\x09\x0a\x03\x62\x69\x6e\x12\x02\xc3\xa9\x12\x0d\x0a\x04\x75\x73\x65\x72\x12\x05\x61"
      "\x64\x6d\x69\x6e\x1a\x00\x1a\x00\x22\x00"));
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"cap-s","namespace":"default"},
    "data":{"bin":"w6k=","user":"YWRtaW4="}})"));
  // kubectl create configmap cap-c -n default --from-literal=a=1
  obj = decode(captured(
      "\x6b\x38\x73\x00\x0a\x0f\x0a\x02\x76\x31\x12\x09\x43\x6f\x6e\x66\x69\x67\x4d\x61\x70\x12\x26\x0a"
      "\x1c\x0a\x05\x63\x61\x70\x2d\x63\x12\x00\x1a\x07\x64\x65\x66\x61\x75\x6c\x74\x22\x00\x2a\x00\x32"
      "\x00\x38\x00\x42\x00\x12\x06\x0a\x01\x61\x12\x01\x31\x1a\x00\x22\x00"));
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cap-c","namespace":"default"},
    "data":{"a":"1"}})"));
  // kubectl create namespace cap-ns
  obj = decode(captured(
      "\x6b\x38\x73\x00\x0a\x0f\x0a\x02\x76\x31\x12\x09\x4e\x61\x6d\x65\x73\x70\x61\x63\x65\x12\x1e\x0a"
      "\x16\x0a\x06\x63\x61\x70\x2d\x6e\x73\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38\x00\x42\x00\x12"
      "\x00\x1a\x02\x0a\x00\x1a\x00\x22\x00"));
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"cap-ns"},"spec":{},"status":{}})"));
  // kubectl auth can-i get secrets -n default
  obj = decode(captured(
      "\x6b\x38\x73\x00\x0a\x32\x0a\x17\x61\x75\x74\x68\x6f\x72\x69\x7a\x61\x74\x69\x6f\x6e\x2e\x6b\x38"
      "\x73\x2e\x69\x6f\x2f\x76\x31\x12\x17\x53\x65\x6c\x66\x53\x75\x62\x6a\x65\x63\x74\x41\x63\x63\x65"
      "\x73\x73\x52\x65\x76\x69\x65\x77\x12\x3f\x0a\x10\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00"
      "\x38\x00\x42\x00\x12\x21\x0a\x1f\x0a\x07\x64\x65\x66\x61\x75\x6c\x74\x12\x03\x67\x65\x74\x1a\x00"
      "\x22\x00\x2a\x07\x73\x65\x63\x72\x65\x74\x73\x32\x00\x3a\x00\x1a\x08\x08\x00\x12\x00\x1a\x00\x20"
      "\x00\x1a\x00\x22\x00"));
  ASSERT_TRUE(obj);
  EXPECT_EQ(obj->at("spec"), json::parse(R"({"resourceAttributes":{"namespace":"default","verb":"get","resource":"secrets"}})"));
  // kubectl auth can-i --list -n default
  obj = decode(captured(
      "\x6b\x38\x73\x00\x0a\x31\x0a\x17\x61\x75\x74\x68\x6f\x72\x69\x7a\x61\x74\x69\x6f\x6e\x2e\x6b\x38"
      "\x73\x2e\x69\x6f\x2f\x76\x31\x12\x16\x53\x65\x6c\x66\x53\x75\x62\x6a\x65\x63\x74\x52\x75\x6c\x65"
      "\x73\x52\x65\x76\x69\x65\x77\x12\x23\x0a\x10\x0a\x00\x12\x00\x1a\x00\x22\x00\x2a\x00\x32\x00\x38"
      "\x00\x42\x00\x12\x09\x0a\x07\x64\x65\x66\x61\x75\x6c\x74\x1a\x04\x18\x00\x22\x00\x1a\x00\x22\x00"));
  ASSERT_TRUE(obj);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview","metadata":{},
    "spec":{"namespace":"default"}})"));
}

TEST(KubeProtobuf, EmptyTypeMetaTakesTheDefaults) {
  const std::string rules = std::string("k8s\0", 4) + ld(2, ld(2, ld(1, "default")));
  std::string err;
  auto obj = decode_kube_protobuf(rules, &err, "authorization.k8s.io/v1", "SelfSubjectRulesReview");
  ASSERT_TRUE(obj) << err;
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectRulesReview",
    "spec":{"namespace":"default"}})"));
  // Defaults fill only what is missing: the body's kind stands.
  obj = decode_kube_protobuf(envelope("v1", "ConfigMap", ""), &err, "v1", "Secret");
  ASSERT_TRUE(obj) << err;
  EXPECT_EQ(obj->at("kind"), "ConfigMap");
  EXPECT_EQ(error_of(std::string("k8s\0", 4)), "Object 'Kind' is missing in the protobuf envelope");
}

TEST(KubeProtobuf, UnknownFieldsOfEveryWireTypeAreSkipped) {
  const std::string junk = vi(99, 300) + tag(98, 1) + std::string(8, 'x') + ld(97, "zzz") + tag(96, 5) + "abcd";
  const std::string raw = junk + ld(1, junk + ld(1, "s") + ld(11, ld(1, "k") + junk + ld(2, "v"))) + junk +
                          ld(2, ld(1, "k") + ld(2, "v") + junk);
  const std::string body = std::string("k8s\0", 4) + junk + ld(1, ld(1, "v1") + junk + ld(2, "Secret")) + ld(2, raw) + junk;
  auto obj = decode(body);
  ASSERT_TRUE(obj) << error_of(body);
  EXPECT_EQ(json::value(*obj), json::parse(R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","labels":{"k":"v"}},
    "data":{"k":"dg=="}})"));
}

TEST(KubeProtobuf, DeeplyNestedUnknownBytesAreSkippedNotDescended) {
  std::string nested = "x";
  for (int i = 0; i < 2000; ++i) nested = ld(1, nested);  // 2000 levels of would-be messages
  auto obj = decode(envelope("v1", "ConfigMap", ld(15, nested)));
  ASSERT_TRUE(obj);
  EXPECT_EQ(obj->size(), 2u);
}

TEST(KubeProtobuf, MalformedInputIsAnError) {
  const std::string good = envelope("v1", "Secret", ld(1, ld(1, "s")));
  ASSERT_TRUE(decode(good));
  EXPECT_EQ(error_of(""), "protobuf: the body does not start with the \"k8s\\x00\" prefix");
  EXPECT_EQ(error_of("{\"kind\":\"Secret\"}"), "protobuf: the body does not start with the \"k8s\\x00\" prefix");
  EXPECT_EQ(error_of(std::string("k8s\x01", 4) + good.substr(4)), "protobuf: the body does not start with the \"k8s\\x00\" prefix");
  const std::string magic("k8s\0", 4);
  EXPECT_EQ(error_of(magic + "\x0a"), "protobuf: Unknown field 1: length past the end of the data");
  EXPECT_EQ(error_of(magic + "\x80"), "protobuf: Unknown: truncated or overlong field key");
  EXPECT_EQ(error_of(magic + std::string(11, '\xff') + "\x01"), "protobuf: Unknown: truncated or overlong field key");
  EXPECT_EQ(error_of(magic + tag(1, 2) + varint(~std::uint64_t{0})), "protobuf: Unknown field 1: length past the end of the data");
  EXPECT_EQ(error_of(magic + tag(1, 2) + varint(1ull << 40) + "ab"), "protobuf: Unknown field 1: length past the end of the data");
  EXPECT_EQ(error_of(magic + vi(1, 5)), "protobuf: Unknown field 1: wrong wire type 0");
  EXPECT_EQ(error_of(magic + tag(9, 3)), "protobuf: Unknown field 9: groups are not supported");
  EXPECT_EQ(error_of(magic + tag(9, 4)), "protobuf: Unknown field 9: groups are not supported");
  EXPECT_EQ(error_of(magic + tag(9, 7)), "protobuf: Unknown field 9: invalid wire type 7");
  EXPECT_EQ(error_of(magic + tag(0, 0) + "\x01"), "protobuf: Unknown: invalid field number");
  EXPECT_EQ(error_of(magic + tag(9, 1) + "1234567"), "protobuf: Unknown field 9: truncated");
  // Inside the object.
  auto secret = [](const std::string& raw) { return envelope("v1", "Secret", raw); };
  EXPECT_EQ(error_of(secret(vi(1, 1))), "protobuf: Secret.metadata: wrong wire type 0");
  EXPECT_EQ(error_of(secret(ld(5, "x"))), "protobuf: Secret.immutable: wrong wire type 2");
  EXPECT_EQ(error_of(secret(tag(5, 0) + "\x80\x80")), "protobuf: Secret.immutable: truncated varint");
  EXPECT_EQ(error_of(secret(ld(1, tag(1, 2) + varint(100) + "short"))), "protobuf: ObjectMeta.name: length past the end of the data");
  EXPECT_EQ(error_of(secret(ld(1, ld(1, "\xc3\x28")))), "protobuf: ObjectMeta.name: invalid UTF-8");
  EXPECT_EQ(error_of(secret(ld(1, ld(1, "\xed\xa0\x80")))), "protobuf: ObjectMeta.name: invalid UTF-8") << "a surrogate";
  EXPECT_EQ(error_of(secret(ld(1, ld(1, "\xc0\xaf")))), "protobuf: ObjectMeta.name: invalid UTF-8") << "overlong";
  EXPECT_EQ(error_of(secret(entry(4, "k", "\xff"))), "protobuf: Secret.stringData: invalid UTF-8 in a value");
  EXPECT_EQ(error_of(secret(entry(2, "\xff", "v"))), "protobuf: Secret.data: invalid UTF-8 in a key");
  EXPECT_EQ(error_of(secret(ld(2, vi(1, 3)))), "protobuf: Secret.data: invalid map entry field");
  EXPECT_EQ(error_of(secret(ld(2, tag(3, 3)))), "protobuf: Secret.data: map entry: groups are not supported");
  EXPECT_EQ(error_of(secret(ld(1, ld(8, ld(1, ""))))), "protobuf: ObjectMeta.creationTimestamp: malformed Time");
  EXPECT_EQ(error_of(secret(ld(1, ld(8, vi(1, 1ull << 40))))), "protobuf: ObjectMeta.creationTimestamp: Time out of range");
  // Year 9000: a valid metav1.Time, past what system_clock holds.
  EXPECT_EQ(error_of(secret(ld(1, ld(8, vi(1, 221845392000))))), "protobuf: ObjectMeta.creationTimestamp: Time out of range");
  EXPECT_EQ(error_of(secret(ld(1, ld(8, vi(1, 1) + vi(2, 1000000000))))), "protobuf: ObjectMeta.creationTimestamp: Time out of range");
  EXPECT_EQ(error_of(secret(tag(20, 6))), "protobuf: Secret field 20: invalid wire type 6");
  EXPECT_EQ(error_of(std::string(kMaxProtobufBody + 1, 'k')), "protobuf: the body is larger than 8388608 bytes");
  // Every truncation of valid bodies either decodes or fails cleanly (ASan/UBSan in the fuzz build).
  for (const std::string& body : {kubectl_can_i_patch_servers(), good}) {
    for (std::size_t n = 0; n < body.size(); ++n) {
      std::string err;
      if (!decode(body.substr(0, n), &err)) {
        EXPECT_FALSE(err.empty());
      }
    }
  }
}

TEST(KubeProtobuf, UnsupportedKind) {
  std::string err;
  ProtobufError why = ProtobufError::malformed;
  EXPECT_FALSE(decode(envelope("coordination.k8s.io/v1", "Lease", ""), &err, &why));
  EXPECT_EQ(why, ProtobufError::unsupported_kind);
  EXPECT_EQ(err, "protobuf is not supported for coordination.k8s.io/v1 Lease; send JSON");
}

TEST(KubeProtobuf, ContentType) {
  EXPECT_TRUE(is_kube_protobuf("application/vnd.kubernetes.protobuf"));
  EXPECT_TRUE(is_kube_protobuf("application/vnd.kubernetes.protobuf; charset=utf-8"));
  EXPECT_FALSE(is_kube_protobuf("application/json"));
  EXPECT_FALSE(is_kube_protobuf("application/vnd.kubernetes.protobufx"));
}

class ProtobufHandler : public ::testing::Test {
 protected:
  Store store;
  int uid_counter = 0;
  ApiHandler handler{store, [] { return *parse_rfc3339("2026-01-01T00:00:00Z"); },
                     [this] { return "00000000-0000-4000-8000-" + std::to_string(100000000000 + ++uid_counter); }};
  void SetUp() override { ASSERT_TRUE(handler.ensure_initial_namespaces()); }
  ApiResult call(const std::string& method, const std::string& target, const std::string& body,
                 const std::string& ct = "application/vnd.kubernetes.protobuf") {
    // kubectl's typed client asks for protobuf first, JSON second: JSON it gets.
    return handler.handle(ApiRequest{method, target, "application/vnd.kubernetes.protobuf, application/json", ct, body});
  }
  static json::object body(const ApiResult& r) { return json::parse(r.response.body).as_object(); }
};

TEST_F(ProtobufHandler, CreatesAndUpdatesFromProtobuf) {
  const std::string secrets = "/api/v1/namespaces/default/secrets";
  auto r = call("POST", secrets, envelope("v1", "Secret", ld(1, kubectl_meta("s1")) + entry(2, "k", "v") + ld(3, "Opaque")));
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(r.response.content_type, "application/json");
  EXPECT_EQ(body(r).at("data"), json::parse(R"({"k":"dg=="})"));
  EXPECT_EQ(body(r).at("metadata").at("namespace"), "default");

  r = call("POST", "/api/v1/namespaces/default/configmaps", envelope("v1", "ConfigMap", ld(1, kubectl_meta("c1")) + entry(2, "a", "b")));
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(body(r).at("data"), json::parse(R"({"a":"b"})"));
  const std::string rv(body(r).at("metadata").at("resourceVersion").as_string());

  r = call("POST", "/api/v1/namespaces", envelope("v1", "Namespace", ld(1, kubectl_meta("team-a")) + ld(2, "") + ld(3, ld(1, ""))));
  ASSERT_EQ(r.response.status, 201u) << r.response.body;
  EXPECT_EQ(body(r).at("spec"), json::parse(R"({"finalizers":["kubernetes"]})"));
  EXPECT_EQ(body(r).at("status"), json::parse(R"({"phase":"Active"})"));

  r = call("PUT", "/api/v1/namespaces/default/configmaps/c1",
           envelope("v1", "ConfigMap", ld(1, ld(1, "c1") + ld(6, rv)) + entry(2, "a", "c")));
  ASSERT_EQ(r.response.status, 200u) << r.response.body;
  EXPECT_EQ(body(r).at("data"), json::parse(R"({"a":"c"})"));
  for (const std::string target : {"/api/v1/namespaces/default/configmaps/c1", "/api/v1/namespaces/default/configmaps"}) {
    r = call("GET", target, "", "");
    EXPECT_EQ(r.response.status, 200u) << target;
    EXPECT_EQ(r.response.content_type, "application/json") << target;
  }
}

TEST_F(ProtobufHandler, Refusals) {
  const std::string configmaps = "/api/v1/namespaces/default/configmaps";
  auto r = call("POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", envelope("", "", ld(1, ld(1, "l"))));
  EXPECT_EQ(r.response.status, 415u);
  EXPECT_EQ(body(r).at("reason"), "UnsupportedMediaType");
  EXPECT_EQ(body(r).at("message"), "protobuf is not supported for coordination.k8s.io/v1 Lease; send JSON");
  r = call("POST", configmaps, std::string("k8s\0\x0a", 5));
  EXPECT_EQ(r.response.status, 400u);
  EXPECT_EQ(body(r).at("message"), "the request body is not valid: protobuf: Unknown field 1: length past the end of the data");
  r = call("POST", configmaps, envelope("v1", "Secret", ld(1, ld(1, "s"))));
  EXPECT_EQ(r.response.status, 400u) << "a Secret is not a ConfigMap";
  r = call("PATCH", configmaps + "/c1", envelope("v1", "ConfigMap", ""));
  EXPECT_EQ(r.response.status, 415u) << "protobuf is no patch type";
}

}  // namespace
}  // namespace ironboot::kube
