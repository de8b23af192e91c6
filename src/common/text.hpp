// Text helpers shared by every protocol: ASCII only, no locale, no allocation.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot {

// Space, tab, CR, LF, vertical tab, form feed.
inline constexpr std::string_view kAsciiWhitespace = " \t\r\n\v\f";

constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` with ASCII letters lower-cased (hex digests, MACs, header values); other bytes kept.
inline std::string ascii_lowercase(std::string s) {
  for (auto& c : s) c = ascii_lower(c);
  return s;
}

// Case-insensitive equality over ASCII letters (header names, TFTP modes and options).
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// `s` without leading and trailing characters from `set`.
constexpr std::string_view trim(std::string_view s, std::string_view set = kAsciiWhitespace) {
  const auto first = s.find_first_not_of(set);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(set) - first + 1);
}

// The credentials of an "Authorization: Bearer <token>" value (RFC 6750 §2.1; the scheme is
// case-insensitive, RFC 9110 §11.1), without surrounding spaces; nullopt for any other
// scheme or an empty token.
constexpr std::optional<std::string_view> bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "Bearer ";
  if (authorization.size() <= scheme.size() || !iequals(authorization.substr(0, scheme.size()), scheme))
    return std::nullopt;
  const auto token = trim(authorization.substr(scheme.size()), " ");
  if (token.empty()) return std::nullopt;
  return token;
}

// The spellings Go's strconv.ParseBool accepts, as kube-apiserver reads boolean query
// parameters (`watch=True`, `watch=1`): 1 t T TRUE true True / 0 f F FALSE false False.
constexpr std::optional<bool> parse_go_bool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"})
    if (text == yes) return true;
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"})
    if (text == no) return false;
  return std::nullopt;
}

}  // namespace ironboot
