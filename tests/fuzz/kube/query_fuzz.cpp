// libFuzzer target: request targets with their query parameters (fieldSelector,
// labelSelector, continue, timeoutSeconds, ...) through parse_request_info, and the
// selectors through their parsers and matchers. Input: "METHOD TARGET" or raw selector text.
// Corpus: tests/fuzz/corpus/kube_query/.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "kube/request_info.hpp"
#include "kube/selector.hpp"

using namespace ironboot::kube;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto sp = in.find(' ');
  std::string error;
  boost::json::object labels{{"app", "web"}, {"zone", "z1"}};
  const auto check = [&](std::string_view label, std::string_view field) {
    std::string e;
    if (const auto l = parse_label_selector(label, &e)) {
      (void)l->matches(&labels);
      (void)l->matches(nullptr);
    }
    if (const auto f = parse_field_selector(field, &e, {"metadata.name", "metadata.namespace", "spec.nodeName"})) {
      (void)f->matches("web-1");
      (void)f->pinned("metadata.name");
    }
  };
  if (sp != std::string_view::npos) {
    if (const auto info = parse_request_info(in.substr(0, sp), in.substr(sp + 1), &error)) {
      const auto get = [&](const char* k) {
        const auto it = info->query.find(k);
        return it == info->query.end() ? std::string{} : it->second;
      };
      check(get("labelSelector"), get("fieldSelector"));
    }
  }
  check(in, in);
  return 0;
}
