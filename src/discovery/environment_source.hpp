// What an Environment's source may be and what a fetch may accept, as pure functions (no I/O):
// file:// only beneath the configured local directories, http:// only with a sha512 (unless
// the config allows unverified sources), https:// always verified by its certificate; a
// response head is a body within the size limit and the quota, a redirect, or a refusal.
#pragma once

#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::discovery {

// Condition reasons of a failed fetch (the Environment's Ready=False).
namespace fetch_reason {
inline constexpr const char* invalid_url = "InvalidURL";
inline constexpr const char* invalid_spec = "InvalidSpec";
inline constexpr const char* unsupported_scheme = "UnsupportedScheme";
inline constexpr const char* local_file_not_allowed = "LocalFileNotAllowed";
inline constexpr const char* checksum_required = "ChecksumRequired";
inline constexpr const char* checksum_mismatch = "ChecksumMismatch";
inline constexpr const char* file_too_large = "FileTooLarge";
inline constexpr const char* quota_exceeded = "QuotaExceeded";
inline constexpr const char* tls_failed = "TLSFailed";
inline constexpr const char* timeout = "FetchTimeout";
inline constexpr const char* failed = "FetchFailed";
inline constexpr const char* cancelled = "Cancelled";
}  // namespace fetch_reason

// What classify_source allows.
struct SourcePolicy {
  std::vector<std::string> local_dirs;  // absolute, no trailing '/'
  std::string data_dir;                 // never read from
  bool allow_unverified = false;        // http:// without sha512
};

struct Source {
  enum class Kind { local_file, http, https };
  Kind kind = Kind::http;
  // local_file: the configured directory and the path beneath it.
  std::string local_dir, relative;
  // http(s): host (without brackets), port, request target, Host header.
  std::string host, port, target, host_header;
};

struct SourceCheck {
  std::optional<Source> source;  // set when allowed
  std::string reason, message;   // why not
};

// `sha512` as given in the spec: "" or 128 hex digits (either case).
SourceCheck classify_source(std::string_view url, std::string_view sha512, const SourcePolicy& policy);

struct HeadCheck {
  enum class Outcome { body, redirect, refused };
  Outcome outcome = Outcome::refused;
  std::string reason, message;  // refused
  std::string location;         // redirect
};

// The response head of a GET: 200 with a body within `max_bytes` and `room` (what the quota
// leaves) when its length is announced; 301/302/303/307/308 with a Location are redirects.
HeadCheck check_response_head(unsigned status, std::optional<std::uint64_t> content_length, std::uint64_t max_bytes,
                              std::uint64_t room);
HeadCheck check_response_head(const boost::beast::http::response_header<>& head,
                              std::optional<std::uint64_t> content_length, std::uint64_t max_bytes, std::uint64_t room);

// The URL a redirect leads to: `location` resolved against `base`; nullopt when either is not
// a URL.
std::optional<std::string> redirect_target(std::string_view base, std::string_view location);

// The most a response head may take (status line and fields).
inline constexpr std::uint32_t kMaxResponseHeadBytes = 16 * 1024;

}  // namespace ironboot::discovery
