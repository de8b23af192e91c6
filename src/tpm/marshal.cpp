#include "tpm/marshal.hpp"

namespace ironboot::tpm {

void Writer::u16(std::uint16_t v) {
  out_.push_back(static_cast<std::uint8_t>(v >> 8));
  out_.push_back(static_cast<std::uint8_t>(v));
}

void Writer::u32(std::uint32_t v) {
  u16(static_cast<std::uint16_t>(v >> 16));
  u16(static_cast<std::uint16_t>(v));
}

void Writer::tpm2b(std::span<const std::uint8_t> b) {
  u16(static_cast<std::uint16_t>(b.size()));
  bytes(b);
}

void Reader::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
}

std::span<const std::uint8_t> Reader::bytes(std::size_t n) {
  if (!ok()) return {};
  if (in_.size() - at_ < n) {
    fail("truncated: " + std::to_string(n) + " bytes wanted at offset " + std::to_string(at_) + ", " +
         std::to_string(in_.size() - at_) + " left");
    return {};
  }
  auto out = in_.subspan(at_, n);
  at_ += n;
  return out;
}

std::uint8_t Reader::u8() {
  auto b = bytes(1);
  return b.empty() ? 0 : b[0];
}

std::uint16_t Reader::u16() {
  auto b = bytes(2);
  return b.empty() ? 0 : static_cast<std::uint16_t>(b[0] << 8 | b[1]);
}

std::uint32_t Reader::u32() {
  auto b = bytes(4);
  if (b.empty()) return 0;
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
}

std::span<const std::uint8_t> Reader::tpm2b(std::size_t max) {
  const std::size_t n = u16();
  if (n > max) {
    fail("a sized buffer of " + std::to_string(n) + " bytes at offset " + std::to_string(at_ - 2) + ", at most " +
         std::to_string(max) + " allowed");
    return {};
  }
  return bytes(n);
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

std::optional<Bytes> from_hex(std::string_view text, std::size_t max_bytes) {
  if (text.size() % 2 != 0 || text.size() / 2 > max_bytes) return std::nullopt;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

}  // namespace ironboot::tpm
