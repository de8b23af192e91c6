#include "kube/fuzz_entry.hpp"

#include <string>

#include "kube/api_handler.hpp"

namespace ironboot::kube {

void fuzz_api_request(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return;
  Store store;
  ApiHandler handler(store, [] { return std::chrono::system_clock::time_point{}; }, [] { return std::string("uid"); });
  const std::string base = std::string("/apis/") + kApiVersion + "/servers";
  handler.handle(ApiRequest{"POST", base, "", "application/json",
                            std::string(R"({"apiVersion":")") + kApiVersion +
                                R"(","kind":"Server","metadata":{"name":"s","labels":{"a":"b"}},"spec":{"accepted":false,"hardware":{"compute":{"processors":[{"speed":1}]}}}})"});
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  ApiRequest req;
  switch (data[0] % 7) {
    case 0: req = {"PATCH", base + "/s", "", "application/merge-patch+json", body}; break;
    case 1: req = {"PATCH", base + "/s", "", "application/json-patch+json", body}; break;
    case 2: req = {"PATCH", base + "/s?fieldValidation=Strict", "", "application/apply-patch+yaml", body}; break;
    case 3: req = {"PUT", base + "/s", "", "application/json", body}; break;
    case 4: req = {"POST", base, "", "application/json", body}; break;
    case 5: req = {"GET", base + "?labelSelector=" + body, "application/json;as=Table;v=v1;g=meta.k8s.io", "", ""}; break;
    default: req = {"PATCH", base + "/s/status", "", "application/merge-patch+json", body}; break;
  }
  ApiResult r = handler.handle(req);
  if (r.watch) handler.initial_events(*r.watch);
}

}  // namespace ironboot::kube
