#include "kube/names.hpp"

namespace ironboot::kube {

// [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* without std::regex (costly per create).
bool valid_dns_subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (!alnum(prev)) return false;
    } else if (c == '-') {
      if (prev == '.') return false;
    } else if (!alnum(c)) {
      return false;
    }
    prev = c;
  }
  return alnum(prev);
}

}  // namespace ironboot::kube
