// The signed tokens of the agent API (docs/agent-api.md "Tokens"): the codec (mint, verify,
// never throws, checks every field) and the key file. Who gets which token, and when, is the
// session policy's (agent_session.hpp).
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

// Three kinds of signed token (docs/agent-api.md "Tokens"), each "<kind>.<payload>.<mac>":
// payload = base64url of the claims' fields joined by '|', mac = base64url(HMAC-SHA256(key,
// "<kind>.<payload>")), so a token of one kind never passes as another.
enum class TokenKind {
  boot,     // "b2": minted by /ipxe for the agent's kernel command line; exchanged at register
  session,  // "s2": the agent's credential after register, renewed in answers
  ticket,   // "k2": in an Environment's kernel URL; its fetch records PXEBooted
};
const char* to_string(TokenKind kind);

struct TokenClaims {
  std::string uuid;  // as iPXE reported it (canonical lower case; all zeros for synthetic UUIDs)
  std::string mac;   // boot MAC, lower case with colons
  std::int64_t expiry = 0;  // Unix seconds
  TokenKind kind = TokenKind::boot;
  std::string address;      // the client address the token is bound to ("10.0.0.50", "fe80::1")
  std::string nonce;        // the boot: 32 lower-case hex digits (128 random bits)
  std::int64_t boot_time = 0;  // Unix milliseconds the boot token was minted: orders boots
  std::string environment;  // ticket: the Environment whose kernel it may fetch
  bool operator==(const TokenClaims&) const = default;
};

// Why a token or the request carrying it is refused: the `reason` of the 401 body and of
// ironboot_agent_token_rejections_total.
enum class TokenError {
  missing,        // no bearer token
  malformed,      // not a token of this format
  bad_signature,  // not signed with this appliance's key
  expired,
  wrong_kind,     // e.g. a boot token on a session route
  wrong_address,  // presented from another address than the one it is bound to
  superseded,     // a newer boot of the machine has registered
  wrong_machine,  // a register whose uuid / bootMac differ from the token's
};
const char* to_string(TokenError error);

// Claims of `kind` as a token; fields must hold no '|' (checked when parsing, never needed:
// uuids, MACs, addresses and Environment names do not have one).
std::string mint_token(const TokenKey& key, const TokenClaims& claims);
// Checks format, signature (constant time), kind and expiry against `now_unix`.
std::optional<TokenClaims> verify_token(const TokenKey& key, std::string_view token, TokenKind kind,
                                        std::int64_t now_unix, TokenError& error);

// The claims a token's payload states, signature and expiry NOT checked: only to name the
// Server a refused request claims to be (its AgentTokenRejected Event), never to trust it.
std::optional<TokenClaims> unverified_claims(std::string_view token);

// Fills a buffer with cryptographically random bytes; false on failure.
using RandomSource = std::function<bool(unsigned char* out, std::size_t size)>;
RandomSource openssl_random();
// 32 lower-case hex digits from 16 random bytes (a boot nonce, a wipe id); "" when the source fails.
std::string random_hex128(const RandomSource& random);
// Lower-case hex SHA-256 of `data` (how a wipe id is kept in the Server's status).
std::string sha256_hex(std::string_view data);

// Reads the 32-byte key at `path`, or creates it (0600) when missing. A key file that others
// can read, or of the wrong size, is an error (returned; callers fail startup with it).
struct KeyLoad {
  std::optional<TokenKey> key;
  bool created = false;
  std::string error;
};
KeyLoad load_or_create_key(FileSystem& fs, const std::string& path, const RandomSource& random);

}  // namespace ironboot::discovery
