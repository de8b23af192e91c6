// The body of the codec fuzz target, shared with the unit test that replays the corpus.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ironboot::tftp {

// Parses `data`; for a valid packet re-encodes it, parses that again and negotiates its
// options, aborting on any inconsistency. Returns whether the input was a valid packet.
bool fuzz_one(const std::uint8_t* data, std::size_t size);

}  // namespace ironboot::tftp
