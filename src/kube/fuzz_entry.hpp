// One fuzz input through the embedded API's request handling (JSON/YAML bodies, patches,
// schema validation, selectors). Shared by the libFuzzer target and the corpus unit test.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ironboot::kube {

void fuzz_api_request(const std::uint8_t* data, std::size_t size);

// One fuzz input through the protobuf request codec (kube_protobuf.hpp), with and without the
// URL's type as defaults; a decoded object must serialize to JSON that parses again.
void fuzz_kube_protobuf(const std::uint8_t* data, std::size_t size);

}  // namespace ironboot::kube
