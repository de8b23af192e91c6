#include "discovery/token.hpp"

#include "common/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <memory>

namespace ironboot::discovery {

namespace {

// Long enough for a ticket naming a 253-character Environment; anything longer is not ours.
constexpr std::size_t kMaxTokenSize = 1024;
constexpr std::size_t kFields = 7;  // uuid|mac|address|nonce|boot_time|environment|expiry

struct KindSpelling {
  TokenKind kind;
  std::string_view prefix;
};
constexpr KindSpelling kKinds[] = {{TokenKind::boot, "b2"}, {TokenKind::session, "s2"}, {TokenKind::ticket, "k2"}};

std::optional<TokenKind> kind_of(std::string_view prefix) {
  for (const auto& k : kKinds)
    if (k.prefix == prefix) return k.kind;
  return std::nullopt;
}

std::string_view prefix_of(TokenKind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k.prefix;
  return "b2";
}

std::string one_shot_hmac(const TokenKey& key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

using MacContext = std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)>;

// HMAC-SHA256 keyed with `key`, or null when OpenSSL cannot provide it.
MacContext keyed_context(const TokenKey& key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  MacContext ctx{mac ? EVP_MAC_CTX_new(mac) : nullptr, EVP_MAC_CTX_free};
  EVP_MAC_free(mac);  // the context holds its own reference
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
  if (ctx && EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) ctx.reset();
  return ctx;
}

// OpenSSL 3's one-shot HMAC() looks the algorithms up and hashes the key on every call; a
// context keyed once and copied per message costs a fraction of that, and a token is minted
// for every /ipxe request that boots the agent.
std::string hmac(const TokenKey& key, std::string_view data) {
  thread_local TokenKey cached_key{};
  thread_local MacContext keyed{nullptr, EVP_MAC_CTX_free};
  if (!keyed || cached_key != key) {
    keyed = keyed_context(key);
    cached_key = key;
  }
  MacContext ctx{keyed ? EVP_MAC_CTX_dup(keyed.get()) : nullptr, EVP_MAC_CTX_free};
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  if (!ctx || EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out, &len, sizeof out) != 1) {
    return one_shot_hmac(key, data);
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool only(std::string_view text, std::string_view allowed) {
  return text.find_first_not_of(allowed) == std::string_view::npos;
}

bool parse_int(std::string_view text, std::int64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() && out >= 0;
}

// The claims of a `kind` token from its base64url payload, or nullopt when it is not that
// shape: each field is checked for what may stand there, so nothing odd is ever trusted.
std::optional<TokenClaims> parse_payload(TokenKind kind, std::string_view payload) {
  const auto decoded = base64url_decode(payload);
  if (!decoded) return std::nullopt;
  std::string_view text = *decoded;
  std::array<std::string_view, kFields> f;
  for (std::size_t i = 0; i < kFields; ++i) {
    const auto bar = text.find('|');
    if ((bar == std::string_view::npos) != (i + 1 == kFields)) return std::nullopt;
    f[i] = text.substr(0, bar);
    text = bar == std::string_view::npos ? std::string_view{} : text.substr(bar + 1);
  }
  TokenClaims c;
  c.kind = kind;
  c.uuid = std::string(f[0]);
  c.mac = std::string(f[1]);
  c.address = std::string(f[2]);
  c.nonce = std::string(f[3]);
  c.environment = std::string(f[5]);
  constexpr std::string_view kHex = "0123456789abcdef";
  if (c.uuid.size() > 36 || !only(c.uuid, "0123456789abcdefABCDEF-")) return std::nullopt;
  if (c.address.empty() || c.address.size() > 45 || !only(c.address, "0123456789abcdefABCDEF.:")) return std::nullopt;
  if (c.nonce.size() != 32 || !only(c.nonce, kHex)) return std::nullopt;
  if (!parse_int(f[4], c.boot_time) || !parse_int(f[6], c.expiry)) return std::nullopt;
  const bool mac_ok = c.mac.size() == 17 && only(c.mac, "0123456789abcdef:");
  if (!mac_ok) return std::nullopt;
  if (kind == TokenKind::ticket) {
    if (c.environment.empty() || c.environment.size() > 253 ||
        !only(c.environment, "abcdefghijklmnopqrstuvwxyz0123456789.-"))
      return std::nullopt;
  } else if (!c.environment.empty()) {
    return std::nullopt;
  }
  return c;
}

}  // namespace

const char* to_string(TokenKind kind) {
  switch (kind) {
    case TokenKind::boot: return "boot";
    case TokenKind::session: return "session";
    case TokenKind::ticket: return "ticket";
  }
  return "unknown";
}

const char* to_string(TokenError error) {
  switch (error) {
    case TokenError::missing: return "missing";
    case TokenError::malformed: return "malformed";
    case TokenError::bad_signature: return "bad_signature";
    case TokenError::expired: return "expired";
    case TokenError::wrong_kind: return "wrong_kind";
    case TokenError::wrong_address: return "wrong_address";
    case TokenError::superseded: return "superseded";
    case TokenError::wrong_machine: return "wrong_machine";
  }
  return "unknown";
}

std::string mint_token(const TokenKey& key, const TokenClaims& c) {
  const std::string payload = base64url_encode(c.uuid + "|" + c.mac + "|" + c.address + "|" + c.nonce + "|" +
                                               std::to_string(c.boot_time) + "|" + c.environment + "|" +
                                               std::to_string(c.expiry));
  const std::string signed_part = std::string(prefix_of(c.kind)) + "." + payload;
  return signed_part + "." + base64url_encode(hmac(key, signed_part));
}

namespace {

struct TokenParts {
  TokenKind kind;
  std::string_view signed_part;  // "<kind>.<payload>"
  std::string_view payload;
  std::string_view signature;    // base64url
};

std::optional<TokenParts> split(std::string_view token) {
  if (token.size() > kMaxTokenSize) return std::nullopt;
  const auto first = token.find('.');
  const auto last = token.rfind('.');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  const auto kind = kind_of(token.substr(0, first));
  if (!kind) return std::nullopt;
  return TokenParts{*kind, token.substr(0, last), token.substr(first + 1, last - first - 1), token.substr(last + 1)};
}

}  // namespace

std::optional<TokenClaims> unverified_claims(std::string_view token) {
  const auto parts = split(token);
  if (!parts) return std::nullopt;
  return parse_payload(parts->kind, parts->payload);
}

std::optional<TokenClaims> verify_token(const TokenKey& key, std::string_view token, TokenKind kind,
                                        std::int64_t now_unix, TokenError& error) {
  if (token.empty()) {
    error = TokenError::missing;
    return std::nullopt;
  }
  error = TokenError::malformed;
  const auto parts = split(token);
  if (!parts) return std::nullopt;
  const auto signature = base64url_decode(parts->signature);
  if (!signature || signature->size() != 32 || !base64url_decode(parts->payload)) return std::nullopt;
  const std::string expected = hmac(key, parts->signed_part);
  if (CRYPTO_memcmp(expected.data(), signature->data(), expected.size()) != 0) {
    error = TokenError::bad_signature;
    return std::nullopt;
  }
  // Signed by us: the payload can still be checked strictly (keys could be shared by mistake).
  auto claims = parse_payload(parts->kind, parts->payload);
  if (!claims) return std::nullopt;
  if (claims->kind != kind) {
    error = TokenError::wrong_kind;
    return std::nullopt;
  }
  if (claims->expiry <= now_unix) {
    error = TokenError::expired;
    return std::nullopt;
  }
  return claims;
}

namespace {
std::string lower_hex(const unsigned char* bytes, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}
}  // namespace

std::string random_hex128(const RandomSource& random) {
  unsigned char bytes[16];
  if (!random || !random(bytes, sizeof bytes)) return {};
  return lower_hex(bytes, sizeof bytes);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) return {};
  return lower_hex(digest, len);
}

RandomSource openssl_random() {
  return [](unsigned char* out, std::size_t size) { return RAND_bytes(out, static_cast<int>(size)) == 1; };
}

KeyLoad load_or_create_key(FileSystem& fs, const std::string& path, const RandomSource& random) {
  KeyLoad result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool missing = false;
    std::string error;
    if (auto data = fs.read(path, missing, error)) {
      if (data->size() != TokenKey{}.size()) {
        result.error = path + ": agent token key must be exactly 32 bytes, found " + std::to_string(data->size());
        return result;
      }
      if (const auto mode = fs.mode(path); mode && (*mode & 077) != 0) {
        char octal[16];
        std::snprintf(octal, sizeof octal, "%04o", *mode);
        result.error = path + ": agent token key is accessible by group or others (mode " + octal + "); chmod 600 it";
        return result;
      }
      TokenKey key{};
      std::copy(data->begin(), data->end(), key.begin());
      result.key = key;
      return result;
    }
    if (!missing) {
      result.error = error;
      return result;
    }
    TokenKey key{};
    if (!random(key.data(), key.size())) {
      result.error = "cannot get random bytes for the agent token key";
      return result;
    }
    switch (fs.create_private(path, std::string(key.begin(), key.end()), error)) {
      case FileSystem::WriteResult::written:
        result.key = key;
        result.created = true;
        return result;
      case FileSystem::WriteResult::exists:
        continue;  // another process made it between our read and create: read theirs
      case FileSystem::WriteResult::failed:
        result.error = error;
        return result;
    }
  }
  result.error = path + ": agent token key appeared and vanished while loading";
  return result;
}

}  // namespace ironboot::discovery
