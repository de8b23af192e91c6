#include <cstddef>
#include <cstdint>

#include "kube/fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ironboot::kube::fuzz_kube_protobuf(data, size);
  return 0;
}
