#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/assets.hpp"
#include "http/file_response.hpp"
#include "ipxe/boot_query.hpp"
#include "ipxe/script.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto q = ironboot::parse_boot_query(text);
  if (q.query) {
    // Accepted values are canonical: parsing them again gives the same thing.
    if (ironboot::canonical_uuid(q.query->uuid) != q.query->uuid) std::abort();
    if (ironboot::canonical_mac(q.query->mac) != q.query->mac) std::abort();
    if (!ironboot::safe_script_word(q.query->uuid) || !ironboot::safe_script_word(q.query->mac)) std::abort();
  }
  if (auto p = ironboot::http::clean_asset_path(text)) {
    if (("/" + *p + "/").find("/../") != std::string::npos) std::abort();
  }
  auto r = ironboot::http::parse_range(text, 1000);
  if (r.kind == ironboot::http::RangeResult::Kind::partial && (r.length == 0 || r.offset + r.length > 1000)) std::abort();
  return 0;
}
