// Agent tokens (docs/agent-api.md): "v1.<payload>.<mac>", payload = base64url("uuid|mac|expiry"),
// mac = base64url(HMAC-SHA256(key, payload)). Minted when ironboot renders an agent boot,
// verified on every /agent/v1/ request.
#pragma once

#include "discovery/environment.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot::discovery {

using TokenKey = std::array<unsigned char, 32>;

struct TokenClaims {
  std::string uuid;  // as iPXE reported it (canonical lower case; all zeros for synthetic UUIDs)
  std::string mac;   // boot MAC, lower case with colons
  std::int64_t expiry = 0;  // Unix seconds
};

enum class TokenError { missing, malformed, bad_signature, expired };
const char* to_string(TokenError error);

std::string mint_token(const TokenKey& key, const TokenClaims& claims);
// Checks format, signature (constant time) and expiry against `now_unix`.
std::optional<TokenClaims> verify_token(const TokenKey& key, std::string_view token, std::int64_t now_unix,
                                        TokenError& error);

// The claims a token's payload states, signature and expiry NOT checked: only to name the
// Server a refused request claims to be (its AgentTokenRejected Event), never to trust it.
std::optional<TokenClaims> unverified_claims(std::string_view token);

// Mints with the injected clock and a fixed lifetime (24 h by default).
class TokenAuthority {
 public:
  TokenAuthority(TokenKey key, const Clock& clock, std::chrono::seconds lifetime = std::chrono::hours(24))
      : key_(key), clock_(clock), lifetime_(lifetime) {}
  std::string issue(std::string_view uuid, std::string_view mac) const;
  std::optional<TokenClaims> verify(std::string_view token, TokenError& error) const;

 private:
  TokenKey key_;
  const Clock& clock_;
  std::chrono::seconds lifetime_;
};

// Fills a buffer with cryptographically random bytes; false on failure.
using RandomSource = std::function<bool(unsigned char* out, std::size_t size)>;
RandomSource openssl_random();

// Reads the 32-byte key at `path`, or creates it (0600) when missing. A key file that others
// can read, or of the wrong size, is an error (returned; callers fail startup with it).
struct KeyLoad {
  std::optional<TokenKey> key;
  bool created = false;
  std::string error;
};
KeyLoad load_or_create_key(FileSystem& fs, const std::string& path, const RandomSource& random);

}  // namespace ironboot::discovery
