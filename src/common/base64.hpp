// Base64 (RFC 4648 §4, padded) and base64url (§5, unpadded) on OpenSSL's EVP coder.
// Decoding is strict: only the canonical spelling of some bytes is accepted (right alphabet,
// right padding, zero leftover bits), so a value has exactly one text form.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ironboot {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

std::string base64url_encode(std::string_view bytes);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace ironboot
