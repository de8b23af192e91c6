#include "tftp/transfer.hpp"

#include <algorithm>
#include <charconv>

#include "common/text.hpp"

namespace ironboot::tftp {
namespace {

// Strict decimal: digits only, no sign, no spaces, fits in 64 bits.
bool parse_number(const std::string& text, std::uint64_t& out) {
  if (text.empty() || text.size() > 19) return false;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && p == end;
}

const Option* find_option(const std::vector<Option>& options, const char* name) {
  // First occurrence wins when a client repeats a name.
  for (const auto& o : options) {
    if (iequals(o.first, name)) return &o;
  }
  return nullptr;
}

}  // namespace

Negotiated negotiate(const std::vector<Option>& requested, const TransferLimits& limits, std::uint64_t file_size) {
  Negotiated n;
  n.timeout = limits.default_timeout;
  std::uint64_t v = 0;
  // OACK order follows the RFCs' order, independent of the client's.
  if (const auto* o = find_option(requested, "blksize"); o && parse_number(o->second, v) && v >= 8 && v <= 65464) {
    n.block_size = static_cast<std::uint32_t>(std::min<std::uint64_t>(v, limits.max_block_size));
    n.oack.emplace_back("blksize", std::to_string(n.block_size));
  }
  // An empty file's "tsize 0" is left out: curl rejects it in an OACK ("invalid tsize"),
  // and the client learns the size from the empty first block anyway.
  if (const auto* o = find_option(requested, "tsize"); o && parse_number(o->second, v) && file_size > 0) {
    n.oack.emplace_back("tsize", std::to_string(file_size));
  }
  if (const auto* o = find_option(requested, "timeout"); o && parse_number(o->second, v) && v >= 1 && v <= 255) {
    n.timeout = std::chrono::seconds(v);
    n.oack.emplace_back("timeout", std::to_string(v));
  }
  if (const auto* o = find_option(requested, "windowsize"); o && parse_number(o->second, v) && v >= 1 && v <= 65535) {
    n.window_size = static_cast<std::uint32_t>(std::min<std::uint64_t>(v, limits.max_window_size));
    n.oack.emplace_back("windowsize", std::to_string(n.window_size));
  }
  return n;
}

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::running: return "running";
    case Outcome::completed: return "completed";
    case Outcome::timed_out: return "timed_out";
    case Outcome::client_error: return "client_error";
    case Outcome::options_refused: return "options_refused";
    case Outcome::read_error: return "read_error";
    case Outcome::protocol_error: return "protocol_error";
    case Outcome::lifetime_exceeded: return "lifetime_exceeded";
  }
  return "unknown";
}

Transfer::Transfer(std::shared_ptr<FileSource> source, Negotiated negotiated, const TransferLimits& limits)
    : source_(std::move(source)), negotiated_(std::move(negotiated)), limits_(limits) {
  size_ = source_->size();
  // The last block is always short, so a size that is a multiple of the block size ends
  // with an empty block.
  total_blocks_ = size_ / negotiated_.block_size + 1;
  if (negotiated_.window_size == 0) negotiated_.window_size = 1;
}

void Transfer::start(TimePoint now, PacketSink& sink) {
  started_ = now;
  if (!negotiated_.oack.empty()) {
    awaiting_oack_ack_ = true;
    send_oack(sink);
    arm(now);
    return;
  }
  send_window(1, now, sink);
}

void Transfer::arm(TimePoint now) {
  // Backoff: the interval doubles with each retransmission in a row, up to 8x.
  const auto shift = std::min<std::uint32_t>(retries_, 3);
  deadline_ = now + negotiated_.timeout * (1u << shift);
  if (!acknowledged_) deadline_ = std::min(deadline_, started_ + limits_.first_ack_timeout);
  if (limits_.max_lifetime.count() > 0) deadline_ = std::min(deadline_, started_ + limits_.max_lifetime);
}

void Transfer::send_oack(PacketSink& sink) {
  auto buf = sink.next(2 + 512);
  const auto len = write_oack(buf, negotiated_.oack);
  sink.commit(len);
  ++packets_sent_;
}

bool Transfer::send_block(std::uint64_t index, PacketSink& sink) {
  const std::uint64_t offset = (index - 1) * negotiated_.block_size;
  const std::uint64_t want = offset >= size_ ? 0 : std::min<std::uint64_t>(negotiated_.block_size, size_ - offset);
  auto buf = sink.next(data_header_size + negotiated_.block_size);
  write_data_header(buf, static_cast<std::uint16_t>(index & 0xffff));  // wraps 65535 -> 0
  if (want > 0) {
    const auto got = source_->read(offset, buf.subspan(data_header_size, want));
    if (got != static_cast<std::int64_t>(want)) return false;  // error, or the file shrank
  }
  sink.commit(data_header_size + want);
  payload_bytes_sent_ += want;
  ++packets_sent_;
  return true;
}

void Transfer::send_window(std::uint64_t first, TimePoint now, PacketSink& sink) {
  const std::uint64_t last = std::min<std::uint64_t>(first + negotiated_.window_size - 1, total_blocks_);
  for (std::uint64_t i = first; i <= last; ++i) {
    if (!send_block(i, sink)) {
      fail(Outcome::read_error, ErrorCode::not_defined, "read error", sink);
      return;
    }
    if (i <= sent_upto_) ++retransmitted_;  // sent before: a retransmission
  }
  sent_upto_ = last;
  arm(now);
}

void Transfer::fail(Outcome why, ErrorCode code, const char* message, PacketSink& sink) {
  auto buf = sink.next(4 + 64);
  sink.commit(write_error(buf, static_cast<std::uint16_t>(code), message));
  ++packets_sent_;
  outcome_ = why;
  deadline_ = TimePoint::max();
}

void Transfer::on_packet(const Packet& packet, TimePoint now, PacketSink& sink) {
  if (finished()) return;
  if (const auto* ack = std::get_if<Ack>(&packet)) {
    on_ack(ack->block, now, sink);
  } else if (const auto* err = std::get_if<Error>(&packet)) {
    // The client ends the transfer; answering an ERROR with an ERROR is not allowed.
    outcome_ = (awaiting_oack_ack_ && err->code == static_cast<std::uint16_t>(ErrorCode::option_refused))
                   ? Outcome::options_refused
                   : Outcome::client_error;
    deadline_ = TimePoint::max();
  } else if (std::holds_alternative<Request>(packet)) {
    // A retransmitted request that reached the transfer (single-port mode): already served.
  } else {
    fail(Outcome::protocol_error, ErrorCode::illegal_operation, "illegal operation", sink);
  }
}

void Transfer::on_ack(std::uint16_t wire_block, TimePoint now, PacketSink& sink) {
  if (awaiting_oack_ack_) {
    if (wire_block != 0) {
      ++ignored_acks_;
      return;
    }
    awaiting_oack_ack_ = false;
    acknowledged_ = true;
    retries_ = 0;
    send_window(1, now, sink);
    return;
  }
  // Map the 16-bit block number into the current window (acked_, sent_upto_]. Anything else
  // is a duplicate or stale ACK and is ignored: answering duplicates is what doubles
  // the traffic in the Sorcerer's Apprentice bug.
  const auto distance = static_cast<std::uint16_t>(wire_block - static_cast<std::uint16_t>(acked_ & 0xffff));
  if (distance == 0 || distance > sent_upto_ - acked_) {
    ++ignored_acks_;
    return;
  }
  acked_ += distance;
  acknowledged_ = true;
  retries_ = 0;
  if (acked_ == total_blocks_) {
    outcome_ = Outcome::completed;
    deadline_ = TimePoint::max();
    return;
  }
  // A full window acknowledged: next window. An earlier block (RFC 7440): the client lost
  // one, resend from the block after it — once per timeout; until then the timer resends.
  if (acked_ < sent_upto_) {
    if (ack_resent_ && now < last_ack_resend_ + negotiated_.timeout) return;
    ack_resent_ = true;
    last_ack_resend_ = now;
  }
  send_window(acked_ + 1, now, sink);
}

void Transfer::on_timer(TimePoint now, PacketSink& sink) {
  if (finished() || now < deadline_) return;
  if (limits_.max_lifetime.count() > 0 && now >= started_ + limits_.max_lifetime) {
    outcome_ = Outcome::lifetime_exceeded;
    deadline_ = TimePoint::max();
    return;
  }
  if (!acknowledged_ && now >= started_ + limits_.first_ack_timeout) {
    outcome_ = Outcome::timed_out;
    deadline_ = TimePoint::max();
    return;
  }
  if (retries_ >= limits_.max_retries) {
    outcome_ = Outcome::timed_out;
    deadline_ = TimePoint::max();
    return;
  }
  ++retries_;
  if (awaiting_oack_ack_) {
    send_oack(sink);
    ++retransmitted_;
    arm(now);
    return;
  }
  send_window(acked_ + 1, now, sink);
}

}  // namespace ironboot::tftp
