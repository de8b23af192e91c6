// libFuzzer target for the IPMI 2.0 / RMCP+ codec (ipmi_fuzz_one.hpp says what it checks).
#include "ipmi_fuzz_one.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ironboot::bmc::ipmi::ipmi_fuzz_one(std::span(data, size));
  return 0;
}
