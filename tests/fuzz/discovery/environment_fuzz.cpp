// libFuzzer target for the Environment source rules and the response head handling of the
// fetcher (environment_fuzz_one.hpp).
#include "environment_fuzz_one.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ironboot::discovery::environment_fuzz_one(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
