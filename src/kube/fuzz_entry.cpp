#include "kube/fuzz_entry.hpp"

#include <boost/json.hpp>

#include <string>
#include <utility>

#include "kube/api_handler.hpp"
#include "kube/kube_protobuf.hpp"

namespace ironboot::kube {

void fuzz_api_request(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  Store store;
  ApiHandler handler(store, [] { return std::chrono::system_clock::time_point{}; }, [] { return std::string("uid"); });
  handler.ensure_initial_namespaces();
  const std::string base = std::string("/apis/") + kApiVersion + "/servers";
  handler.handle(ApiRequest{"POST", base, "", "application/json",
                            std::string(R"({"apiVersion":")") + kApiVersion +
                                R"(","kind":"Server","metadata":{"name":"s","labels":{"a":"b"}},"spec":{"accepted":false,"hardware":{"compute":{"processors":[{"speed":1}]}}}})"});
  const std::string core = "/api/v1/namespaces/default";
  handler.handle(ApiRequest{"POST", core + "/secrets", "", "application/json",
                            R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a":"b"}})"});
  handler.handle(ApiRequest{"POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", "", "application/json",
                            R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l"},"spec":{"holderIdentity":"a"}})"});
  handler.handle(ApiRequest{"POST", core + "/events", "", "application/json",
                            R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},"involvedObject":{"kind":"Server","name":"s"},"reason":"R"})"});
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string table = "application/json;as=Table;v=v1;g=meta.k8s.io";
  ApiRequest req;
  // 0-6: the metal.sidero.dev routes; 7-15: the built-in types and free-form paths.
  switch (data[0] % 16) {
    case 0: req = {"PATCH", base + "/s", "", "application/merge-patch+json", body}; break;
    case 1: req = {"PATCH", base + "/s", "", "application/json-patch+json", body}; break;
    case 2: req = {"PATCH", base + "/s?fieldValidation=Strict", "", "application/apply-patch+yaml", body}; break;
    case 3: req = {"PUT", base + "/s", "", "application/json", body}; break;
    case 4: req = {"POST", base, "", "application/json", body}; break;
    case 5: req = {"GET", base + "?labelSelector=" + body, table, "", ""}; break;
    case 6: req = {"PATCH", base + "/s/status", "", "application/merge-patch+json", body}; break;
    case 7: req = {"POST", core + "/secrets", "", "application/json", body}; break;
    case 8: req = {"PATCH", core + "/secrets/s", "", "application/merge-patch+json", body}; break;
    case 9: req = {"POST", core + "/events", "", "application/json", body}; break;
    case 10: req = {"POST", "/apis/events.k8s.io/v1/namespaces/default/events", "", "application/json", body}; break;
    case 11: req = {"GET", "/api/v1/events?fieldSelector=" + body, table, "", ""}; break;
    case 12: req = {"PUT", "/apis/coordination.k8s.io/v1/namespaces/default/leases/l", "", "application/json", body}; break;
    case 13: req = {"GET", "/api/v1/" + body, "", "", ""}; break;
    case 14: req = {"DELETE", "/api/v1/namespaces/" + body, "", "", ""}; break;
    default: req = {"POST", core + "/configmaps", "", "application/json", body}; break;
  }
  ApiResult r = handler.handle(req);
  if (r.watch) handler.initial_events(*r.watch);
}

namespace json = boost::json;

void fuzz_kube_protobuf(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const auto& [api_version, kind] : {std::pair<std::string_view, std::string_view>{"", ""},
                                          {"v1", "Secret"},
                                          {"authorization.k8s.io/v1", "SelfSubjectAccessReview"}}) {
    std::string error;
    auto obj = decode_kube_protobuf(body, &error, api_version, kind);
    if (!obj) {
      if (error.empty()) __builtin_trap();
      continue;
    }
    boost::system::error_code ec;
    const json::value again = json::parse(json::serialize(*obj), ec);
    if (ec || again != json::value(*obj) || !obj->at("apiVersion").is_string() || !obj->at("kind").is_string())
      __builtin_trap();
  }
}

}  // namespace ironboot::kube
