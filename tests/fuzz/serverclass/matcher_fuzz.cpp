// libFuzzer target: a ServerClass and a Server (JSON, separated by a NUL byte) through
// CompiledClass::compile and matches(). Corpus: tests/fuzz/corpus/serverclass_matcher/.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <boost/json.hpp>

#include "serverclass/matcher.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto nul = in.find('\0');
  boost::system::error_code ec;
  const auto cls = boost::json::parse(in.substr(0, nul), ec);
  if (ec || !cls.is_object()) return 0;
  const auto compiled = ironboot::serverclass::CompiledClass::compile(cls.as_object());
  if (nul == std::string_view::npos) return 0;
  const auto server = boost::json::parse(in.substr(nul + 1), ec);
  if (ec || !server.is_object()) return 0;
  const bool m = compiled->matches(server.as_object());
  if (m && !compiled->valid()) __builtin_trap();  // an invalid class matches no server
  return 0;
}
