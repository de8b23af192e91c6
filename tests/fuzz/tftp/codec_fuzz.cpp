// libFuzzer target for the TFTP codec. Corpus: tests/fuzz/corpus/tftp_codec/.
#include <cstddef>
#include <cstdint>

#include "tftp/fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ironboot::tftp::fuzz_one(data, size);
  return 0;
}
