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

}  // namespace ironboot::tpm
