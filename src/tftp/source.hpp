// Where a transfer's bytes come from. Kept behind an interface so the state machine is
// pure (tests use in-memory sources) and the server can mix cached and pread-backed files.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace ironboot::tftp {

class FileSource {
 public:
  virtual ~FileSource() = default;
  virtual std::uint64_t size() const = 0;
  // Copies bytes starting at `offset` into `out`; returns the count (short only at the end
  // of the file) or -1 on a read error.
  virtual std::int64_t read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
};

// A file held in memory (the cache shares one buffer between all its transfers).
class MemorySource final : public FileSource {
 public:
  explicit MemorySource(std::shared_ptr<const std::vector<std::uint8_t>> bytes) : bytes_(std::move(bytes)) {}
  std::uint64_t size() const override { return bytes_->size(); }
  std::int64_t read(std::uint64_t offset, std::span<std::uint8_t> out) override;

 private:
  std::shared_ptr<const std::vector<std::uint8_t>> bytes_;
};

// RFC 764 netascii: LF -> CR LF, CR -> CR NUL.
std::vector<std::uint8_t> to_netascii(std::span<const std::uint8_t> in);

}  // namespace ironboot::tftp
