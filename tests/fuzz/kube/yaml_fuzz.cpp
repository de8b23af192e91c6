// libFuzzer target: YAML -> JSON (json_ops: aliases under a budget, long scalars), JSON
// parsing, and the round trip back to YAML. Corpus: tests/fuzz/corpus/kube_yaml/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/json_ops.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (const auto v = ironboot::kube::yaml_to_json(in, &error)) {
    const std::string yaml = ironboot::kube::json_to_yaml(*v);
    if (!ironboot::kube::yaml_to_json(yaml, &error)) __builtin_trap();  // our own YAML must re-read
  }
  if (const auto j = ironboot::kube::parse_json(in, &error)) (void)ironboot::kube::merge_patch(*j, *j);
  return 0;
}
