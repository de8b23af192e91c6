#include "discovery/token.hpp"

#include "common/base64.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>

namespace ironboot::discovery {

namespace {

constexpr std::string_view kPrefix = "v1.";
constexpr std::size_t kMaxTokenSize = 512;

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

// "uuid|mac|expiry" from the base64url payload, or nullopt when it is not that.
std::optional<TokenClaims> parse_payload(std::string_view payload) {
  const auto decoded = base64url_decode(payload);
  if (!decoded) return std::nullopt;
  const std::string_view text = *decoded;
  const auto first = text.find('|');
  const auto last = text.rfind('|');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  TokenClaims claims;
  claims.uuid = std::string(text.substr(0, first));
  claims.mac = std::string(text.substr(first + 1, last - first - 1));
  const std::string_view expiry = text.substr(last + 1);
  const auto [end, ec] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), claims.expiry);
  if (ec != std::errc{} || end != expiry.data() + expiry.size() || claims.mac.find('|') != std::string::npos)
    return std::nullopt;
  return claims;
}

}  // namespace

const char* to_string(TokenError error) {
  switch (error) {
    case TokenError::missing: return "missing";
    case TokenError::malformed: return "malformed";
    case TokenError::bad_signature: return "bad-signature";
    case TokenError::expired: return "expired";
  }
  return "unknown";
}

std::string mint_token(const TokenKey& key, const TokenClaims& claims) {
  const std::string payload =
      base64url_encode(claims.uuid + "|" + claims.mac + "|" + std::to_string(claims.expiry));
  return std::string(kPrefix) + payload + "." + base64url_encode(hmac(key, payload));
}

std::optional<TokenClaims> unverified_claims(std::string_view token) {
  if (token.size() > kMaxTokenSize || token.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  token.remove_prefix(kPrefix.size());
  return parse_payload(token.substr(0, token.find('.')));
}

std::optional<TokenClaims> verify_token(const TokenKey& key, std::string_view token, std::int64_t now_unix,
                                        TokenError& error) {
  if (token.empty()) {
    error = TokenError::missing;
    return std::nullopt;
  }
  error = TokenError::malformed;
  if (token.size() > kMaxTokenSize || token.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  token.remove_prefix(kPrefix.size());
  const auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const std::string_view payload = token.substr(0, dot);
  const auto signature = base64url_decode(token.substr(dot + 1));
  if (!signature || signature->size() != 32) return std::nullopt;
  const std::string expected = hmac(key, payload);
  if (CRYPTO_memcmp(expected.data(), signature->data(), expected.size()) != 0) {
    error = TokenError::bad_signature;
    return std::nullopt;
  }
  // Signed by us: the payload can still be checked strictly (keys could be shared by mistake).
  auto claims = parse_payload(payload);
  if (!claims) return std::nullopt;
  if (claims->expiry <= now_unix) {
    error = TokenError::expired;
    return std::nullopt;
  }
  return claims;
}

std::string TokenAuthority::issue(std::string_view uuid, std::string_view mac) const {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch());
  return mint_token(key_, TokenClaims{std::string(uuid), std::string(mac), (now + lifetime_).count()});
}

std::optional<TokenClaims> TokenAuthority::verify(std::string_view token, TokenError& error) const {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(clock_.now().time_since_epoch());
  return verify_token(key_, token, now.count(), error);
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
