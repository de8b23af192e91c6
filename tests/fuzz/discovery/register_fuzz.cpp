// libFuzzer target for the agent register body parser (and the smaller agent bodies).
#include "discovery/reports.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  (void)ironboot::discovery::parse_register(body);
  (void)ironboot::discovery::parse_wiped(body);
  (void)ironboot::discovery::parse_progress(body);
  (void)ironboot::discovery::parse_addresses(body);
  (void)ironboot::discovery::parse_challenge_request(body);
  return 0;
}
