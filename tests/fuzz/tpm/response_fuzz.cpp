// libFuzzer target for the TPM response parsers. Corpus: tests/fuzz/corpus/tpm_response/.
#include <cstddef>
#include <cstdint>

#include "tpm/fuzz_entry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  ironboot::tpm::fuzz_one(data, size);
  return 0;
}
