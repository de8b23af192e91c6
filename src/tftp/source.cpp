#include "tftp/source.hpp"

#include <algorithm>
#include <cstring>

namespace ironboot::tftp {

std::int64_t MemorySource::read(std::uint64_t offset, std::span<std::uint8_t> out) {
  if (offset >= bytes_->size()) return 0;
  const auto n = std::min<std::uint64_t>(out.size(), bytes_->size() - offset);
  std::memcpy(out.data(), bytes_->data() + offset, n);
  return static_cast<std::int64_t>(n);
}

std::vector<std::uint8_t> to_netascii(std::span<const std::uint8_t> in) {
  std::vector<std::uint8_t> out;
  out.reserve(in.size() + in.size() / 16);
  for (auto c : in) {
    if (c == '\n') {
      out.push_back('\r');
      out.push_back('\n');
    } else if (c == '\r') {
      out.push_back('\r');
      out.push_back(0);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace ironboot::tftp
