// libFuzzer target: Range, If-None-Match and HTTP-date parsing (src/http/file_response.*).
// Input: three header values separated by '\n' (Range, If-None-Match, If-Modified-Since).
// Corpus: tests/fuzz/corpus/http_conditional/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/file_response.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  for (auto& p : parts) {
    const auto nl = in.find('\n');
    p = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  }
  for (std::uint64_t file_size : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1000}, ~std::uint64_t{0}}) {
    const auto r = ironboot::http::parse_range(parts[0], file_size);
    if (r.kind == ironboot::http::RangeResult::Kind::partial &&
        (r.length == 0 || r.offset >= file_size || r.length > file_size - r.offset))
      __builtin_trap();
  }
  (void)ironboot::http::etag_matches(parts[1], "\"5-3e8\"");
  if (const auto t = ironboot::http::parse_http_date(parts[2])) (void)ironboot::http::http_date(*t);
  return 0;
}
