// The body of the TPM response fuzz target, shared with the unit test that replays the corpus.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ironboot::tpm {

// Feeds `data` to every response parser (the first byte picks none: all of them run) and
// aborts when one accepts a response whose fields do not fit it. Returns how many accepted.
int fuzz_one(const std::uint8_t* data, std::size_t size);

}  // namespace ironboot::tpm
