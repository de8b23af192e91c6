#include "discovery/environment_source.hpp"

#include "common/beneath.hpp"
#include "common/text.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>

namespace ironboot::discovery {

namespace {

constexpr std::size_t kMaxUrlBytes = 8192;

SourceCheck refused(const char* reason, std::string message) {
  SourceCheck c;
  c.reason = reason;
  c.message = std::move(message);
  return c;
}

bool is_hex_digest(std::string_view s) {
  if (s.size() != 128) return false;
  for (char ch : s) {
    const bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    if (!hex) return false;
  }
  return true;
}

std::string without_trailing_slash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

// Only plain host names: no percent-encoded or other bytes a resolver or a log would see
// differently from the operator.
bool plain_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char ch : host) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '.';
    if (!ok) return false;
  }
  return true;
}

SourceCheck classify_file(const boost::urls::url_view& url, const SourcePolicy& policy) {
  const std::string host(url.encoded_host());
  if (!host.empty() && ascii_lowercase(host) != "localhost")
    return refused(fetch_reason::invalid_url, "a file:// URL names no host");
  if (url.has_query() || url.has_userinfo() || url.has_port())
    return refused(fetch_reason::invalid_url, "a file:// URL has a path only");
  // Empty segments collapsed ("///a//b" is "/a/b"), so what lies beneath a dir is relative.
  std::string path;
  for (char ch : url.path()) {
    if (ch != '/' || path.empty() || path.back() != '/') path += ch;
  }
  if (path.empty() || path.front() != '/') return refused(fetch_reason::invalid_url, "a file:// path is absolute");
  if (path.back() == '/') return refused(fetch_reason::invalid_url, "a file:// URL names a file, not a directory");
  if (path.find('\0') != std::string::npos) return refused(fetch_reason::invalid_url, "NUL in the file:// path");
  // Decoded, so "%2e%2e" and "a%2f.." count too.
  for (std::size_t at = 0; at < path.size();) {
    const std::size_t end = std::min(path.find('/', at + 1), path.size());
    const std::string_view segment = std::string_view(path).substr(at + 1, end - at - 1);
    if (segment == "." || segment == "..")
      return refused(fetch_reason::local_file_not_allowed, "'.' and '..' are not allowed in a file:// path");
    at = end;
  }
  if (policy.local_dirs.empty())
    return refused(fetch_reason::local_file_not_allowed,
                   "file:// sources are not allowed: environments.local_dirs is empty");
  if (!policy.data_dir.empty() && path_within(path, without_trailing_slash(policy.data_dir)))
    return refused(fetch_reason::local_file_not_allowed, path + " is inside the data dir");
  for (const auto& configured : policy.local_dirs) {
    const std::string dir = without_trailing_slash(configured);
    if (dir.empty() || dir.front() != '/' || path == dir || !path_within(path, dir)) continue;
    SourceCheck c;
    Source s;
    s.kind = Source::Kind::local_file;
    s.local_dir = dir;
    s.relative = path.substr(dir == "/" ? 1 : dir.size() + 1);
    c.source = std::move(s);
    return c;
  }
  return refused(fetch_reason::local_file_not_allowed, path + " is not beneath any of environments.local_dirs");
}

SourceCheck classify_http(const boost::urls::url_view& url, bool tls, bool verified_by_digest,
                          const SourcePolicy& policy) {
  if (url.has_userinfo()) return refused(fetch_reason::invalid_url, "credentials in the URL are not supported");
  Source s;
  s.kind = tls ? Source::Kind::https : Source::Kind::http;
  switch (url.host_type()) {
    case boost::urls::host_type::ipv4:
      s.host = url.host_ipv4_address().to_string();
      break;
    case boost::urls::host_type::ipv6:
      s.host = url.host_ipv6_address().to_string();
      break;
    case boost::urls::host_type::name:
      s.host = std::string(url.encoded_host());
      if (!plain_host_name(s.host)) return refused(fetch_reason::invalid_url, "the host is not a plain name");
      s.host = ascii_lowercase(s.host);
      break;
    default:
      return refused(fetch_reason::invalid_url, "the URL names no host");
  }
  if (url.has_port()) {
    const std::string_view digits = url.port();
    unsigned long port = 0;
    for (char ch : digits) port = port * 10 + static_cast<unsigned long>(ch - '0');  // the URL grammar: digits only
    if (digits.empty() || digits.size() > 5 || port == 0 || port > 65535)
      return refused(fetch_reason::invalid_url, "the port is not a number from 1 to 65535");
    s.port = std::to_string(port);
  } else {
    s.port = tls ? "443" : "80";
  }
  s.target = std::string(url.encoded_path());
  if (s.target.empty()) s.target = "/";
  if (s.target.front() != '/') return refused(fetch_reason::invalid_url, "the path is not absolute");
  if (url.has_query()) s.target += "?" + std::string(url.encoded_query());
  s.host_header = std::string(url.encoded_host_and_port());
  if (!tls && !verified_by_digest && !policy.allow_unverified)
    return refused(fetch_reason::checksum_required,
                   "http:// without sha512 cannot be verified: give its sha512, use https://, or set "
                   "environments.allow_unverified");
  SourceCheck c;
  c.source = std::move(s);
  return c;
}

bool is_redirect(unsigned status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

SourceCheck classify_source(std::string_view url_text, std::string_view sha512, const SourcePolicy& policy) {
  if (url_text.empty()) return refused(fetch_reason::invalid_spec, "the URL is empty");
  if (url_text.size() > kMaxUrlBytes) return refused(fetch_reason::invalid_url, "the URL is longer than 8192 bytes");
  if (!sha512.empty() && !is_hex_digest(sha512))
    return refused(fetch_reason::invalid_spec, "sha512 is not 128 hexadecimal digits");
  auto parsed = boost::urls::parse_uri(url_text);
  if (!parsed) return refused(fetch_reason::invalid_url, "not a URL: " + parsed.error().message());
  const auto& url = *parsed;
  const std::string scheme = ascii_lowercase(std::string(url.scheme()));
  if (scheme == "file") return classify_file(url, policy);
  if (scheme == "http" || scheme == "https") return classify_http(url, scheme == "https", !sha512.empty(), policy);
  return refused(fetch_reason::unsupported_scheme, "scheme '" + scheme + "' is not fetched (file, http, https)");
}

HeadCheck check_response_head(unsigned status, std::optional<std::uint64_t> content_length, std::uint64_t max_bytes,
                              std::uint64_t room) {
  HeadCheck c;
  if (is_redirect(status)) {
    c.outcome = HeadCheck::Outcome::redirect;
    return c;
  }
  if (status != 200) {
    c.reason = fetch_reason::failed;
    c.message = "HTTP status " + std::to_string(status);
    return c;
  }
  if (content_length && *content_length > max_bytes) {
    c.reason = fetch_reason::file_too_large;
    c.message = "the server announces " + std::to_string(*content_length) + " bytes, more than environments.max_file_bytes (" +
                std::to_string(max_bytes) + ")";
    return c;
  }
  if (content_length && *content_length > room) {
    c.reason = fetch_reason::quota_exceeded;
    c.message = "the server announces " + std::to_string(*content_length) + " bytes; environments.quota_bytes leaves " +
                std::to_string(room);
    return c;
  }
  c.outcome = HeadCheck::Outcome::body;
  return c;
}

HeadCheck check_response_head(const boost::beast::http::response_header<>& head,
                              std::optional<std::uint64_t> content_length, std::uint64_t max_bytes, std::uint64_t room) {
  HeadCheck c = check_response_head(head.result_int(), content_length, max_bytes, room);
  if (c.outcome != HeadCheck::Outcome::redirect) return c;
  c.location = std::string(head[boost::beast::http::field::location]);
  if (c.location.empty()) {
    c.outcome = HeadCheck::Outcome::refused;
    c.reason = fetch_reason::failed;
    c.message = "HTTP status " + std::to_string(head.result_int()) + " without a Location";
  }
  return c;
}

std::optional<std::string> redirect_target(std::string_view base, std::string_view location) {
  if (location.size() > kMaxUrlBytes) return std::nullopt;
  auto from = boost::urls::parse_uri(base);
  auto to = boost::urls::parse_uri_reference(location);
  if (!from || !to) return std::nullopt;
  boost::urls::url resolved;
  if (!boost::urls::resolve(*from, *to, resolved)) return std::nullopt;
  return std::string(resolved.buffer());
}

}  // namespace ironboot::discovery
