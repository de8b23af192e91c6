#include "fuzz/agent/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ironboot::agent::fuzz::wire_one(data, size);
  return 0;
}
