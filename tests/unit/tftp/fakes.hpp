// Test doubles for the TFTP state machine: a sink that records packets, a fake clock.
#pragma once

#include <chrono>
#include <vector>

#include "tftp/codec.hpp"
#include "tftp/source.hpp"
#include "tftp/transfer.hpp"

namespace ironboot::tftp::testing {

class RecordingSink final : public PacketSink {
 public:
  std::span<std::uint8_t> next(std::size_t max_len) override {
    buf_.assign(max_len, 0xAA);
    return buf_;
  }
  void commit(std::size_t len) override { packets.emplace_back(buf_.begin(), buf_.begin() + len); }

  // DATA block numbers sent since the last take(); other packets as -opcode.
  std::vector<int> take_blocks() {
    std::vector<int> out;
    for (const auto& p : packets) {
      const auto parsed = parse(p);
      if (parsed.ok() && std::holds_alternative<Data>(parsed.packet())) {
        out.push_back(std::get<Data>(parsed.packet()).block);
      } else {
        out.push_back(-static_cast<int>(p.size() >= 2 ? p[1] : 0));
      }
    }
    packets.clear();
    return out;
  }

  std::vector<std::vector<std::uint8_t>> packets;

 private:
  std::vector<std::uint8_t> buf_;
};

struct FakeClock {
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  void advance(std::chrono::milliseconds d) { now += d; }
};

inline std::shared_ptr<FileSource> memory_file(std::size_t size) {
  auto bytes = std::make_shared<std::vector<std::uint8_t>>(size);
  for (std::size_t i = 0; i < size; ++i) (*bytes)[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
  return std::make_shared<MemorySource>(bytes);
}

}  // namespace ironboot::tftp::testing
