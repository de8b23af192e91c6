// A PacketSink that collects a transfer's outgoing packets in one preallocated buffer and
// sends them with one sendmmsg: a window of 16 blocks is one system call, no allocation.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>

#include "tftp/transfer.hpp"

namespace ironboot::tftp {

class BatchSink final : public PacketSink {
 public:
  static constexpr std::size_t max_packets = 64;
  static constexpr std::size_t max_packet_size = 65464 + 4;

  BatchSink();
  // Where the packets of the next events go.
  void begin(int fd, const sockaddr_in& peer);
  std::span<std::uint8_t> next(std::size_t max_len) override;
  void commit(std::size_t len) override;
  // Sends what was committed. Returns the packets the kernel refused (the retransmission
  // timer covers them).
  std::size_t flush();

 private:
  // Not zero-initialised on purpose: only the pages a window uses are ever touched.
  std::unique_ptr<std::uint8_t[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t used_ = 0;
  std::size_t count_ = 0;
  std::size_t pending_len_ = 0;
  int fd_ = -1;
  sockaddr_in peer_{};
  std::array<mmsghdr, max_packets> msgs_{};
  std::array<iovec, max_packets> iovs_{};
};

}  // namespace ironboot::tftp
