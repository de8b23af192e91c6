// libFuzzer target: arbitrary YAML text -> Config or ConfigError (src/common/config.*).
// Corpus: tests/fuzz/corpus/config/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    (void)ironboot::parse_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
  } catch (const ironboot::ConfigError&) {
  }
  return 0;
}
