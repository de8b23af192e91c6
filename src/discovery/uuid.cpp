#include "discovery/uuid.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>

namespace ironboot::discovery {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHex[] = "0123456789abcdef";

std::string format_uuid(const unsigned char* bytes) {
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

}  // namespace

std::optional<std::string> canonical_uuid(std::string_view text) {
  std::array<unsigned char, 16> bytes{};
  std::size_t nibbles = 0;
  if (text.size() == 36) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash_position != (text[i] == '-')) return std::nullopt;
    }
  } else if (text.size() != 32) {
    return std::nullopt;
  }
  for (const char c : text) {
    if (c == '-') continue;
    const int v = hex_value(c);
    if (v < 0) return std::nullopt;
    bytes[nibbles / 2] = static_cast<unsigned char>(bytes[nibbles / 2] | (nibbles % 2 ? v : v << 4));
    ++nibbles;
  }
  return format_uuid(bytes.data());
}

std::optional<std::string> canonical_mac(std::string_view text) {
  std::string digits;
  if (text.size() == 17) {
    const char sep = text[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (i % 3 == 2) {
        if (text[i] != sep) return std::nullopt;
      } else {
        digits += text[i];
      }
    }
  } else if (text.size() == 12) {
    digits = std::string(text);
  } else {
    return std::nullopt;
  }
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (hex_value(digits[i]) < 0) return std::nullopt;
    if (i && i % 2 == 0) out += ':';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(digits[i])));
  }
  return out;
}

bool is_placeholder_uuid(std::string_view canonical) {
  return canonical == "00000000-0000-0000-0000-000000000000" || canonical == "ffffffff-ffff-ffff-ffff-ffffffffffff";
}

std::string uuid_v5(std::string_view namespace_uuid, std::string_view name) {
  unsigned char input_ns[16] = {};
  std::size_t n = 0;
  for (std::size_t i = 0; i < namespace_uuid.size() && n < 32; ++i) {
    const int v = hex_value(namespace_uuid[i]);
    if (v < 0) continue;
    input_ns[n / 2] = static_cast<unsigned char>(input_ns[n / 2] | (n % 2 ? v : v << 4));
    ++n;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
  EVP_DigestUpdate(ctx, input_ns, sizeof input_ns);
  EVP_DigestUpdate(ctx, name.data(), name.size());
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return format_uuid(digest);
}

std::string synthetic_server_name(std::string_view boot_mac) {
  return uuid_v5(kDnsNamespace, "ironboot:" + std::string(boot_mac));
}

ServerIdentity server_identity(std::string_view uuid, std::string_view boot_mac) {
  if (uuid.empty() || is_placeholder_uuid(uuid)) return {synthetic_server_name(boot_mac), true};
  return {std::string(uuid), false};
}

}  // namespace ironboot::discovery
