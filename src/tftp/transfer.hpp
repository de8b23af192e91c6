// One read transfer as a pure state machine: fed "packet in" and "timer fired" events with
// the current time, it writes the packets to send into a PacketSink. No sockets, no clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tftp/codec.hpp"
#include "tftp/source.hpp"

namespace ironboot::tftp {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// Gives out buffers for outgoing packets; the server batches them into one sendmmsg.
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  // A buffer of at least `max_len` bytes for the next packet.
  virtual std::span<std::uint8_t> next(std::size_t max_len) = 0;
  // The packet in the last buffer is `len` bytes long and is to be sent.
  virtual void commit(std::size_t len) = 0;
};

struct TransferLimits {
  std::uint32_t max_block_size = 1468;   // the interface MTU minus IP/UDP/TFTP headers
  std::uint32_t max_window_size = 64;
  std::chrono::milliseconds default_timeout{1000};  // when the client does not ask
  std::uint32_t max_retries = 5;         // retransmissions in a row without progress
  // Until the client's first ACK a transfer lives this long whatever `timeout` it
  // negotiated: a forged or abandoned request must not hold a slot for minutes.
  std::chrono::milliseconds first_ack_timeout{3000};
  // No transfer lives longer than this, progress or not (0 = no cap).
  std::chrono::milliseconds max_lifetime{600000};
};

// What RFC 2347 negotiation settled on, and the OACK that says so (empty: send no OACK).
struct Negotiated {
  std::uint32_t block_size = 512;
  std::uint32_t window_size = 1;
  std::chrono::milliseconds timeout{1000};
  std::vector<Option> oack;
};

// blksize 8..65464 (clamped to the limit), tsize (answered with `file_size`), timeout
// 1..255 s, windowsize 1..65535 (clamped to the limit). Names are case-insensitive; invalid
// values and unknown options are left out of the OACK, so the client falls back to defaults.
Negotiated negotiate(const std::vector<Option>& requested, const TransferLimits& limits, std::uint64_t file_size);

enum class Outcome {
  running,
  completed,
  timed_out,        // retry limit reached without an ACK, or no first ACK in time
  lifetime_exceeded,  // alive longer than TransferLimits::max_lifetime
  client_error,     // the client sent ERROR
  options_refused,  // the client answered our OACK with ERROR 8 (EDK2 probes tsize so)
  read_error,
  protocol_error,   // the client sent something a reader must never send
};
const char* to_string(Outcome o);

class Transfer {
 public:
  Transfer(std::shared_ptr<FileSource> source, Negotiated negotiated, const TransferLimits& limits);

  // Sends the OACK, or the first window when no option was accepted.
  void start(TimePoint now, PacketSink& sink);
  void on_packet(const Packet& packet, TimePoint now, PacketSink& sink);
  // Call when now >= deadline(): retransmits with backoff, or gives up.
  void on_timer(TimePoint now, PacketSink& sink);

  TimePoint deadline() const { return deadline_; }
  Outcome outcome() const { return outcome_; }
  bool finished() const { return outcome_ != Outcome::running; }

  const Negotiated& negotiated() const { return negotiated_; }
  std::uint64_t total_blocks() const { return total_blocks_; }
  std::uint64_t acked_blocks() const { return acked_; }
  std::uint64_t payload_bytes_sent() const { return payload_bytes_sent_; }
  std::uint64_t packets_sent() const { return packets_sent_; }
  std::uint64_t retransmitted_packets() const { return retransmitted_; }
  std::uint64_t ignored_acks() const { return ignored_acks_; }

 private:
  void send_oack(PacketSink& sink);
  // Sends blocks first..min(first+window-1, last) and remembers how far it got.
  void send_window(std::uint64_t first, TimePoint now, PacketSink& sink);
  bool send_block(std::uint64_t index, PacketSink& sink);
  void on_ack(std::uint16_t wire_block, TimePoint now, PacketSink& sink);
  void fail(Outcome why, ErrorCode code, const char* message, PacketSink& sink);
  void arm(TimePoint now);

  std::shared_ptr<FileSource> source_;
  Negotiated negotiated_;
  TransferLimits limits_;
  std::uint64_t size_ = 0;
  std::uint64_t total_blocks_ = 0;
  bool awaiting_oack_ack_ = false;
  std::uint64_t acked_ = 0;      // highest block the client acknowledged (0 = none / OACK)
  std::uint64_t sent_upto_ = 0;  // highest block of the current window
  std::uint32_t retries_ = 0;
  TimePoint started_{};
  bool acknowledged_ = false;  // the client has ACKed something (the OACK or a block)
  // When an ACK last made us send blocks again: at most once per timeout, so forged ACKs
  // cannot turn one packet into a window of retransmissions again and again.
  TimePoint last_ack_resend_{};
  bool ack_resent_ = false;
  TimePoint deadline_ = TimePoint::max();
  Outcome outcome_ = Outcome::running;
  std::uint64_t payload_bytes_sent_ = 0;
  std::uint64_t packets_sent_ = 0;
  std::uint64_t retransmitted_ = 0;
  std::uint64_t ignored_acks_ = 0;
};

}  // namespace ironboot::tftp
