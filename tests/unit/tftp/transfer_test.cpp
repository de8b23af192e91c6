#include "tftp/transfer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes.hpp"

namespace ironboot::tftp {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::FakeClock;
using testing::memory_file;
using testing::RecordingSink;
using namespace std::chrono_literals;

constexpr int kOack = -6;
constexpr int kError = -5;

TransferLimits limits(std::uint32_t max_block = 1468) {
  TransferLimits l;
  l.max_block_size = max_block;
  return l;
}

std::vector<Option> oack_of(const std::vector<Option>& requested, TransferLimits l = limits(), std::uint64_t size = 1000) {
  return negotiate(requested, l, size).oack;
}

// ---- negotiation --------------------------------------------------------------------

TEST(TftpNegotiate, AcceptsValidOptionsCaseInsensitively) {
  auto n = negotiate({{"BLKSIZE", "1428"}, {"WindowSize", "16"}, {"TSIZE", "0"}, {"Timeout", "3"}}, limits(), 850528);
  EXPECT_EQ(n.block_size, 1428u);
  EXPECT_EQ(n.window_size, 16u);
  EXPECT_EQ(n.timeout, 3s);
  EXPECT_THAT(n.oack, ElementsAre(Option("blksize", "1428"), Option("tsize", "850528"), Option("timeout", "3"),
                                  Option("windowsize", "16")));
}

TEST(TftpNegotiate, BlockSizeEdgeCases) {
  EXPECT_THAT(oack_of({{"blksize", "7"}}), IsEmpty());       // below RFC 2348's minimum: ignored
  EXPECT_THAT(oack_of({{"blksize", "65465"}}), IsEmpty());   // above its maximum: ignored
  EXPECT_THAT(oack_of({{"blksize", "abc"}}), IsEmpty());
  EXPECT_THAT(oack_of({{"blksize", "-512"}}), IsEmpty());
  EXPECT_THAT(oack_of({{"blksize", "512 "}}), IsEmpty());
  EXPECT_THAT(oack_of({{"blksize", ""}}), IsEmpty());
  EXPECT_THAT(oack_of({{"blksize", "99999999999999999999999"}}), IsEmpty());
  EXPECT_THAT(oack_of({{"blksize", "8"}}), ElementsAre(Option("blksize", "8")));
  EXPECT_THAT(oack_of({{"blksize", "65464"}}), ElementsAre(Option("blksize", "1468")));  // clamped to the MTU
  EXPECT_THAT(oack_of({{"blksize", "65464"}}, limits(65464)), ElementsAre(Option("blksize", "65464")));
  EXPECT_EQ(negotiate({{"blksize", "7"}}, limits(), 10).block_size, 512u);
}

TEST(TftpNegotiate, WindowSizeEdgeCases) {
  EXPECT_THAT(oack_of({{"windowsize", "0"}}), IsEmpty());
  EXPECT_EQ(negotiate({{"windowsize", "0"}}, limits(), 10).window_size, 1u);
  EXPECT_THAT(oack_of({{"windowsize", "1"}}), ElementsAre(Option("windowsize", "1")));
  EXPECT_THAT(oack_of({{"windowsize", "65535"}}), ElementsAre(Option("windowsize", "64")));
  EXPECT_THAT(oack_of({{"windowsize", "65536"}}), IsEmpty());
}

TEST(TftpNegotiate, TimeoutAndTsizeAndUnknown) {
  EXPECT_THAT(oack_of({{"timeout", "0"}}), IsEmpty());
  EXPECT_THAT(oack_of({{"timeout", "256"}}), IsEmpty());
  EXPECT_THAT(oack_of({{"timeout", "255"}}), ElementsAre(Option("timeout", "255")));
  EXPECT_THAT(oack_of({{"tsize", "0"}}, limits(), 1), ElementsAre(Option("tsize", "1")));
  EXPECT_THAT(oack_of({{"tsize", "0"}}, limits(), 0), IsEmpty());  // curl refuses "tsize 0"
  EXPECT_THAT(oack_of({{"tsize", "x"}}), IsEmpty());
  EXPECT_THAT(oack_of({{"multicast", ""}, {"rollover", "0"}, {"utimeout", "500"}}), IsEmpty());
  // A repeated name: the first one counts.
  EXPECT_THAT(oack_of({{"blksize", "1024"}, {"BLKSIZE", "8"}}), ElementsAre(Option("blksize", "1024")));
}

// ---- transfers ----------------------------------------------------------------------

struct Harness {
  explicit Harness(std::size_t size, std::vector<Option> options = {}, TransferLimits l = limits())
      : transfer(memory_file(size), negotiate(options, l, size), l) {
    transfer.start(clock.now, sink);
  }
  void ack(std::uint16_t block) { transfer.on_packet(Packet{Ack{block}}, clock.now, sink); }
  void fire_after(std::chrono::milliseconds d) {
    clock.advance(d);
    transfer.on_timer(clock.now, sink);
  }
  FakeClock clock;
  RecordingSink sink;
  Transfer transfer;
};

TEST(TftpTransfer, LockStepWithoutOptions) {
  Harness h(1100);  // 512 + 512 + 76
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1));
  h.ack(1);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(2));
  h.ack(2);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(3));
  h.ack(3);
  EXPECT_EQ(h.transfer.outcome(), Outcome::completed);
  EXPECT_EQ(h.transfer.payload_bytes_sent(), 1100u);
  EXPECT_EQ(h.transfer.deadline(), TimePoint::max());
}

TEST(TftpTransfer, ExactMultipleEndsWithEmptyBlockAndEmptyFileIsOneEmptyBlock) {
  Harness h(1024);
  h.ack(1);
  h.ack(2);
  ASSERT_EQ(h.sink.packets.size(), 3u);
  EXPECT_EQ(h.sink.packets[2].size(), 4u);  // DATA 3, no payload
  h.ack(3);
  EXPECT_EQ(h.transfer.outcome(), Outcome::completed);

  Harness empty(0);
  ASSERT_EQ(empty.sink.packets.size(), 1u);
  EXPECT_EQ(empty.sink.packets[0].size(), 4u);
  empty.ack(1);
  EXPECT_EQ(empty.transfer.outcome(), Outcome::completed);
}

TEST(TftpTransfer, PayloadMatchesTheFile) {
  const std::size_t size = 5000;
  Harness h(size, {{"blksize", "1000"}});
  auto file = memory_file(size);
  std::vector<std::uint8_t> expected(size), got;
  file->read(0, expected);
  h.sink.packets.clear();
  for (std::uint16_t b = 0; !h.transfer.finished(); ++b) {
    h.ack(b);
    for (const auto& p : h.sink.packets) got.insert(got.end(), p.begin() + 4, p.end());
    h.sink.packets.clear();
  }
  EXPECT_EQ(got, expected);
}

TEST(TftpTransfer, OackThenWindowAfterAckZero) {
  Harness h(10 * 512, {{"windowsize", "4"}, {"tsize", "0"}});
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kOack));
  h.ack(0);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1, 2, 3, 4));
  h.ack(4);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(5, 6, 7, 8));
  h.ack(8);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(9, 10, 11));  // 11 is the empty last block
  h.ack(11);
  EXPECT_EQ(h.transfer.outcome(), Outcome::completed);
}

TEST(TftpTransfer, LostOackIsResentAndAckForOtherBlockIgnored) {
  Harness h(100, {{"tsize", "0"}});
  h.sink.take_blocks();
  h.ack(5);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  h.fire_after(1000ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kOack));
  EXPECT_EQ(h.transfer.retransmitted_packets(), 1u);
}

TEST(TftpTransfer, Edk2TsizeProbeEndsCleanly) {
  // EDK2 asks for tsize, reads the OACK, then aborts with ERROR 8 and asks again.
  Harness h(850528, {{"tsize", "0"}, {"blksize", "1468"}});
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kOack));
  h.transfer.on_packet(Packet{Error{8, "User aborted the transfer"}}, h.clock.now, h.sink);
  EXPECT_EQ(h.transfer.outcome(), Outcome::options_refused);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());  // never answer an ERROR with an ERROR
  EXPECT_EQ(h.transfer.deadline(), TimePoint::max());
}

TEST(TftpTransfer, ClientErrorMidTransfer) {
  Harness h(5000);
  h.ack(1);
  h.transfer.on_packet(Packet{Error{0, "disk full"}}, h.clock.now, h.sink);
  EXPECT_EQ(h.transfer.outcome(), Outcome::client_error);
}

TEST(TftpTransfer, DataFromClientIsIllegal) {
  Harness h(5000);
  h.sink.take_blocks();
  const std::array<std::uint8_t, 1> one{0};
  h.transfer.on_packet(Packet{Data{1, one}}, h.clock.now, h.sink);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kError));
  EXPECT_EQ(h.transfer.outcome(), Outcome::protocol_error);
}

TEST(TftpTransfer, LostDataIsRetransmittedAfterTimeout) {
  Harness h(5000);
  h.ack(1);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1, 2));
  // DATA 2 lost: nothing arrives. Not yet at the deadline: nothing is sent.
  h.fire_after(999ms);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  h.fire_after(1ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(2));
  h.ack(2);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(3));
  EXPECT_EQ(h.transfer.retransmitted_packets(), 1u);
}

TEST(TftpTransfer, LostAckIsRecoveredByTheTimer) {
  Harness h(5000);
  h.ack(1);
  h.sink.take_blocks();
  // The client's ACK 2 is lost; our timer resends DATA 2; the client ACKs it again.
  h.fire_after(1000ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(2));
  h.ack(2);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(3));
}

TEST(TftpTransfer, DuplicateAckDoesNotDuplicateData) {
  // Sorcerer's Apprentice: a delayed duplicate ACK must not trigger a second send.
  Harness h(5000);
  h.ack(1);
  h.ack(2);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1, 2, 3));
  h.ack(2);
  h.ack(2);
  h.ack(1);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  EXPECT_EQ(h.transfer.ignored_acks(), 3u);
  h.ack(3);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(4));
}

TEST(TftpTransfer, DuplicateWindowAckDoesNotDuplicateWindow) {
  Harness h(100 * 512, {{"windowsize", "4"}});
  h.ack(0);
  h.ack(4);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kOack, 1, 2, 3, 4, 5, 6, 7, 8));
  h.ack(4);
  h.ack(4);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
}

TEST(TftpTransfer, AckForEarlierBlockInWindowResendsFromTheNextBlock) {
  // RFC 7440: block 3 of window 1..4 was lost; the client ACKs 2.
  Harness h(100 * 512, {{"windowsize", "4"}});
  h.ack(0);
  h.sink.take_blocks();
  h.ack(2);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(3, 4, 5, 6));
  EXPECT_EQ(h.transfer.retransmitted_packets(), 2u);  // 3 and 4 went out before
  h.ack(2);  // the same gap reported twice: no second resend
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  h.ack(6);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(7, 8, 9, 10));
}

TEST(TftpTransfer, OutOfWindowAckIsIgnored) {
  Harness h(100 * 512, {{"windowsize", "4"}});
  h.ack(0);
  h.sink.take_blocks();
  h.ack(9);      // beyond what was sent
  h.ack(60000);  // far away
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  EXPECT_EQ(h.transfer.ignored_acks(), 2u);
  EXPECT_EQ(h.transfer.acked_blocks(), 0u);
  h.ack(4);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(5, 6, 7, 8));
}

TEST(TftpTransfer, WindowTimeoutResendsTheWholeUnackedWindow) {
  Harness h(100 * 512, {{"windowsize", "3"}});
  h.ack(0);
  h.sink.take_blocks();
  h.fire_after(1000ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1, 2, 3));
}

TEST(TftpTransfer, BlockNumbersRollOverPast65535) {
  // 70000 blocks of 8 bytes: wire numbers go ..., 65535, 0, 1, ...
  const std::size_t blocks = 70000;
  Harness h(blocks * 8 - 3, {{"blksize", "8"}, {"windowsize", "7"}});
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kOack));
  std::uint64_t expected_index = 1;
  std::uint16_t last_acked = 0;
  h.ack(0);
  while (!h.transfer.finished()) {
    const auto sent = h.sink.take_blocks();
    ASSERT_FALSE(sent.empty());
    for (int b : sent) {
      ASSERT_EQ(b, static_cast<int>(expected_index & 0xffff)) << "index " << expected_index;
      ++expected_index;
    }
    last_acked = static_cast<std::uint16_t>(sent.back());
    h.ack(last_acked);
  }
  EXPECT_EQ(h.transfer.outcome(), Outcome::completed);
  EXPECT_EQ(expected_index - 1, blocks);
  EXPECT_EQ(h.transfer.payload_bytes_sent(), blocks * 8 - 3);
}

TEST(TftpTransfer, GapAckAcrossRollover) {
  Harness h(70000 * 8, {{"blksize", "8"}, {"windowsize", "4"}});
  h.ack(0);
  // Advance to the window that spans 65535 -> 0.
  for (std::uint32_t b = 4; b <= 65532; b += 4) h.ack(static_cast<std::uint16_t>(b));
  h.sink.take_blocks();
  h.ack(65532);  // duplicate: ignored
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  h.ack(static_cast<std::uint16_t>(65532 + 4));  // full window 65533..65536, acked as 65536 -> wire 0
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1, 2, 3, 4));
  h.ack(1);  // gap after wire block 1 (index 65537)
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(2, 3, 4, 5));
  EXPECT_EQ(h.transfer.acked_blocks(), 65537u);
}

TEST(TftpTransfer, BackoffThenGiveUp) {
  TransferLimits l = limits();
  l.max_retries = 3;
  l.first_ack_timeout = std::chrono::hours(1);  // the backoff, not the first-ACK limit, is tested here
  Harness h(5000, {}, l);
  h.sink.take_blocks();
  // Intervals double: 1 s, 2 s, 4 s, then the limit is reached.
  h.fire_after(1000ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1));
  h.fire_after(1999ms);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  h.fire_after(1ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1));
  h.fire_after(4000ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1));
  EXPECT_EQ(h.transfer.outcome(), Outcome::running);
  h.fire_after(8000ms);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  EXPECT_EQ(h.transfer.outcome(), Outcome::timed_out);
  EXPECT_EQ(h.transfer.retransmitted_packets(), 3u);
}

TEST(TftpTransfer, ProgressResetsBackoffWithoutALifetimeCap) {
  TransferLimits l = limits();
  l.max_retries = 2;
  l.first_ack_timeout = std::chrono::hours(1);
  l.max_lifetime = std::chrono::milliseconds(0);  // no cap: see LifetimeCapEndsASlowTransfer
  Harness h(2000 * 512, {}, l);
  // A slow client: each ACK comes after two retransmissions, for 2000 blocks (hours of
  // simulated time). The transfer must never give up while it makes progress.
  for (std::uint16_t b = 1; b <= 2000; ++b) {
    h.fire_after(1000ms);
    h.fire_after(2000ms);
    ASSERT_EQ(h.transfer.outcome(), Outcome::running) << b;
    h.ack(b);
  }
  h.ack(2001);
  EXPECT_EQ(h.transfer.outcome(), Outcome::completed);
}

// A forged or abandoned request asking for timeout 255 holds its slot for the first-ACK
// limit (3 s), not for 255 s times the backoff and the retries.
TEST(TftpTransfer, FirstAckTimeoutEndsAnUnansweredRequestWhateverItsTimeout) {
  Harness h(5000, {{"timeout", "255"}});
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kOack));
  EXPECT_EQ(h.transfer.deadline(), h.clock.now + 3000ms);
  h.fire_after(3000ms);
  EXPECT_EQ(h.transfer.outcome(), Outcome::timed_out);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
}

TEST(TftpTransfer, FirstAckLimitNoLongerAppliesOnceTheClientAcked) {
  Harness h(100 * 512, {{"timeout", "5"}});
  h.ack(0);
  h.sink.take_blocks();
  h.fire_after(4999ms);
  EXPECT_EQ(h.transfer.outcome(), Outcome::running);
  h.fire_after(1ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1));  // the negotiated timeout again
}

TEST(TftpTransfer, LifetimeCapEndsASlowTransfer) {
  TransferLimits l = limits();
  l.max_lifetime = 10s;
  Harness h(100 * 512, {}, l);
  for (std::uint16_t b = 1; b <= 4; ++b) {
    h.clock.advance(2000ms);
    h.ack(b);
  }
  ASSERT_EQ(h.transfer.outcome(), Outcome::running);
  EXPECT_LE(h.transfer.deadline(), h.clock.now + 2000ms);  // never past the cap
  h.fire_after(2000ms);
  EXPECT_EQ(h.transfer.outcome(), Outcome::lifetime_exceeded);
  EXPECT_STREQ(to_string(Outcome::lifetime_exceeded), "lifetime_exceeded");
}

// Gap ACKs (RFC 7440) make the window go out again at most once per timeout: a flood of
// forged ACKs for ever-later blocks inside the window cannot multiply the traffic.
TEST(TftpTransfer, GapAcksResendAtMostOncePerTimeout) {
  Harness h(100 * 512, {{"windowsize", "8"}});
  h.ack(0);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(kOack, 1, 2, 3, 4, 5, 6, 7, 8));
  h.ack(2);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(3, 4, 5, 6, 7, 8, 9, 10));
  h.ack(4);
  h.ack(6);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());  // within the timeout of the last resend
  EXPECT_EQ(h.transfer.acked_blocks(), 6u);
  h.ack(10);  // the whole window: the next one goes out at once
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(11, 12, 13, 14, 15, 16, 17, 18));
  h.clock.advance(1000ms);
  h.ack(12);  // a timeout later, a gap may be resent again
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(13, 14, 15, 16, 17, 18, 19, 20));
}

TEST(TftpTransfer, NegotiatedTimeoutDrivesRetransmission) {
  Harness h(5000, {{"timeout", "3"}});
  h.ack(0);
  h.sink.take_blocks();
  h.fire_after(2999ms);
  EXPECT_THAT(h.sink.take_blocks(), IsEmpty());
  h.fire_after(1ms);
  EXPECT_THAT(h.sink.take_blocks(), ElementsAre(1));
}

class FailingSource final : public FileSource {
 public:
  std::uint64_t size() const override { return 2000; }
  std::int64_t read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    return offset == 0 ? static_cast<std::int64_t>(out.size()) : -1;
  }
};

TEST(TftpTransfer, ReadErrorSendsErrorAndFails) {
  FakeClock clock;
  RecordingSink sink;
  Transfer t(std::make_shared<FailingSource>(), negotiate({}, limits(), 2000), limits());
  t.start(clock.now, sink);
  t.on_packet(Packet{Ack{1}}, clock.now, sink);
  EXPECT_THAT(sink.take_blocks(), ElementsAre(1, kError));
  EXPECT_EQ(t.outcome(), Outcome::read_error);
}

TEST(TftpNetascii, ConvertsLineEnds) {
  const std::string in = "a\nb\rc\r\n";
  const auto out = to_netascii(std::span(reinterpret_cast<const std::uint8_t*>(in.data()), in.size()));
  EXPECT_EQ(std::string(out.begin(), out.end()), std::string("a\r\nb\r\0c\r\0\r\n", 11));
}

}  // namespace
}  // namespace ironboot::tftp
