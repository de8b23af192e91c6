// One fuzz input through the Environment source rules and the response head checks the
// fetcher applies; aborts on a broken invariant. Shared by the libFuzzer target
// (environment_fuzz.cpp) and the corpus unit test (environment_fetcher_test.cpp).
//
// Input: URL '\n' sha512 '\n' one flags byte, then the raw bytes of an HTTP response.
// Flags: bit 0 allow_unverified, bit 1 local dirs configured, bit 2 a full quota.
#pragma once

#include "common/beneath.hpp"
#include "discovery/environment_source.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ironboot::discovery {

inline void check_source_invariants(const SourceCheck& c, const SourcePolicy& policy) {
  if (!c.source) {
    if (c.reason.empty() || c.message.empty()) std::abort();
    return;
  }
  if (!c.reason.empty()) std::abort();
  const Source& s = *c.source;
  if (s.kind == Source::Kind::local_file) {
    const std::string path = s.local_dir + "/" + s.relative;
    // Beneath a configured dir, never the data dir, no ".." left for the kernel to resolve.
    if (s.relative.empty() || s.relative.front() == '/' || policy.local_dirs.empty()) std::abort();
    if (path_within(path, policy.data_dir)) std::abort();
    if (("/" + s.relative + "/").find("/../") != std::string::npos) std::abort();
    return;
  }
  if (s.host.empty() || s.port.empty() || s.target.empty() || s.target.front() != '/') std::abort();
}

inline void environment_fuzz_one(std::string_view data) {
  const auto first = data.find('\n');
  if (first == std::string_view::npos) return;
  const std::string_view url = data.substr(0, first);
  data.remove_prefix(first + 1);
  const auto second = data.find('\n');
  if (second == std::string_view::npos || second + 1 >= data.size()) return;
  const std::string_view sha512 = data.substr(0, second);
  const auto flags = static_cast<std::uint8_t>(data[second + 1]);
  const std::string_view response = data.substr(second + 2);

  SourcePolicy policy;
  policy.allow_unverified = (flags & 1) != 0;
  if (flags & 2) policy.local_dirs = {"/srv/images", "/var/lib/"};
  policy.data_dir = "/var/lib/ironboot";
  const SourceCheck c = classify_source(url, sha512, policy);
  check_source_invariants(c, policy);
  if (c.source && c.source->kind == Source::Kind::http && sha512.empty() && !policy.allow_unverified) std::abort();

  constexpr std::uint64_t kMax = 1 << 20;
  const std::uint64_t room = (flags & 4) ? 0 : kMax / 2;
  namespace bhttp = boost::beast::http;
  bhttp::response_parser<bhttp::empty_body> parser;
  parser.header_limit(kMaxResponseHeadBytes);
  parser.body_limit(kMax);
  boost::system::error_code ec;
  std::size_t used = 0;
  while (!parser.is_header_done() && used < response.size()) {
    const std::size_t n = parser.put(boost::asio::buffer(response.data() + used, response.size() - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return;
  const auto length = parser.content_length();
  const std::optional<std::uint64_t> announced = length ? std::optional<std::uint64_t>(*length) : std::nullopt;
  const HeadCheck head = check_response_head(parser.get().base(), announced, kMax, room);
  switch (head.outcome) {
    case HeadCheck::Outcome::body:
      if (parser.get().result_int() != 200) std::abort();
      if (announced && (*announced > kMax || *announced > room)) std::abort();
      break;
    case HeadCheck::Outcome::redirect: {
      if (head.location.empty()) std::abort();
      const std::string base = c.source ? std::string(url) : std::string("https://fuzz.example/a/b");
      if (auto next = redirect_target(base, head.location)) check_source_invariants(classify_source(*next, sha512, policy), policy);
      break;
    }
    case HeadCheck::Outcome::refused:
      if (head.reason.empty() || head.message.empty()) std::abort();
      break;
  }
}

}  // namespace ironboot::discovery
