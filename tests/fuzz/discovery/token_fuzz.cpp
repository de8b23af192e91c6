// libFuzzer target for the agent tokens: parsing and verification of boot, session and
// ticket tokens, and the session policy's checks (token_fuzz_one.hpp).
#include "token_fuzz_one.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ironboot::discovery::fuzzing::fuzz_token_one(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
