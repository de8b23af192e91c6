// TPM 2.0 wire primitives (big-endian integers, TPM2B sized buffers). Pure: a Reader never
// reads past its span and records the first failure instead of throwing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ironboot::tpm {

using Bytes = std::vector<std::uint8_t>;

struct Error {
  std::string message;
  std::uint32_t response_code = 0;  // the TPM's TPM_RC when it answered with one, else 0
};

template <class T>
using Result = std::variant<T, Error>;

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v);
  void u32(std::uint32_t v);
  void bytes(std::span<const std::uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void tpm2b(std::span<const std::uint8_t> b);  // UINT16 size, then the bytes
  std::size_t size() const { return out_.size(); }
  Bytes take() { return std::move(out_); }

 private:
  Bytes out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint8_t u8();
  std::uint16_t u16();
  std::uint32_t u32();
  std::span<const std::uint8_t> bytes(std::size_t n);
  std::span<const std::uint8_t> tpm2b(std::size_t max);  // refused when the size exceeds max
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string why);
  std::size_t remaining() const { return ok() ? in_.size() - at_ : 0; }
  std::size_t offset() const { return at_; }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t at_ = 0;
  std::string error_;
};

// Lower-case hex, the form TPM blobs travel in over the agent API (JSON strings).
std::string to_hex(std::span<const std::uint8_t> bytes);
// Upper or lower case, an even count of digits, at most `max_bytes` bytes; nullopt otherwise.
std::optional<Bytes> from_hex(std::string_view text, std::size_t max_bytes);

}  // namespace ironboot::tpm
