// The RMCP+ session state machine driven by scripted packets: a scripted BMC (built on the
// codec, its keys derived by the crypto the vectors of ipmi_crypto_test.cpp check) answers,
// loses, repeats or corrupts packets; time is advanced by hand.
#include "bmc/ipmi_session.hpp"

#include <gtest/gtest.h>

#include <map>

namespace ironboot::bmc::ipmi {
namespace {

using namespace std::chrono_literals;

class ScriptedBmc {
 public:
  std::string password = "pw";
  std::vector<int> suites = {3, 17};
  bool reject_set_in_progress = false;
  bool power_on = false;
  int opens = 0;
  int closes = 0;
  std::vector<std::uint8_t> commands;  // command bytes of in-session requests, in order
  std::vector<Bytes> boot_writes;      // Set System Boot Options data
  std::uint32_t sequence = 1;
  int forgotten_session = 0;  // in session number N (1, 2, ...), answer for another session id

  std::vector<Bytes> answer(std::span<const std::uint8_t> datagram) {
    auto p = decode_packet(datagram, active_ ? &keys_ : nullptr);
    if (!p) return {};
    if (!p->v2) {
      auto rq = decode_request(p->payload);
      Packet out;
      out.v2 = false;
      out.payload = encode_response(LanResponse{7, rq->command, rq->rq_seq, 0, {0x01, 0x97, 0x04, 0x03, 0, 0, 0, 0}});
      return {encode_packet(out, nullptr, iv_)};
    }
    switch (p->type) {
      case PayloadType::OpenSessionRequest: {
        auto rq = decode_open_session_request(p->payload);
        ++opens;
        active_ = false;
        std::optional<CipherSuite> match;
        for (int id : suites) {
          if (cipher_suite(id)->auth == rq->auth) match = cipher_suite(id);
        }
        if (!match) return {setup(PayloadType::OpenSessionResponse, encode(OpenSessionResponse{rq->tag, 0x04, 0, rq->console_session_id}))};
        suite_ = *match;
        rakp_ = RakpInputs{};
        rakp_.console_session_id = rq->console_session_id;
        rakp_.bmc_session_id = 0x0a0b0c00u + static_cast<std::uint32_t>(opens);
        return {setup(PayloadType::OpenSessionResponse,
                      encode(OpenSessionResponse{rq->tag, 0, 4, rq->console_session_id, rakp_.bmc_session_id, suite_.auth,
                                                 suite_.integrity, suite_.confidentiality}))};
      }
      case PayloadType::Rakp1: {
        auto r1 = decode_rakp1(p->payload);
        rakp_.console_random = r1->console_random;
        rakp_.bmc_random.fill(static_cast<std::uint8_t>(0x60 + opens));
        rakp_.bmc_guid.fill(0xa1);
        rakp_.role = r1->role;
        rakp_.username = r1->username;
        const Bytes kuid = *user_key(password);
        return {setup(PayloadType::Rakp2, encode(Rakp2{r1->tag, 0, rakp_.console_session_id, rakp_.bmc_random, rakp_.bmc_guid,
                                                        rakp2_auth_code(suite_.auth, kuid, rakp_)}))};
      }
      case PayloadType::Rakp3: {
        auto r3 = decode_rakp3(p->payload);
        if (r3->status != 0) return {};
        const Bytes kuid = *user_key(password);
        if (!same_code(r3->auth_code, rakp3_auth_code(suite_.auth, kuid, rakp_))) {
          return {setup(PayloadType::Rakp4, encode(Rakp4{r3->tag, 0x0f, rakp_.console_session_id, {}}))};
        }
        const Bytes sik = session_integrity_key(suite_.auth, kuid, rakp_);
        keys_ = SessionKeys{suite_.integrity, suite_.confidentiality, derived_key(suite_.auth, sik, 1), derived_key(suite_.auth, sik, 2)};
        active_ = true;
        return {setup(PayloadType::Rakp4, encode(Rakp4{r3->tag, 0, rakp_.console_session_id, rakp4_check(suite_.auth, sik, rakp_)}))};
      }
      case PayloadType::IpmiMessage:
        return in_session(*p);
      default:
        return {};
    }
  }

  // An in-session answer with any session id / sequence (for the drop tests).
  Bytes forge(std::uint32_t session_id, std::uint32_t seq, std::uint8_t rq_seq, std::uint8_t command) {
    Packet out;
    out.session_id = session_id;
    out.sequence = seq;
    out.payload = encode_response(LanResponse{1, command, rq_seq, 0, {0x01, 0, 0}});
    return encode_packet(out, &keys_, iv_);
  }
  std::uint32_t console_session_id() const { return rakp_.console_session_id; }

 private:
  Bytes setup(PayloadType type, Bytes payload) {
    Packet out;
    out.type = type;
    out.payload = std::move(payload);
    return encode_packet(out, nullptr, iv_);
  }

  std::vector<Bytes> in_session(const Packet& p) {
    if (!active_ || p.session_id != rakp_.bmc_session_id) return {};
    auto rq = decode_request(p.payload);
    if (!rq) return {};
    commands.push_back(rq->command);
    LanResponse rs{static_cast<std::uint8_t>(rq->netfn + 1), rq->command, rq->rq_seq, 0, {}};
    if (rq->netfn == kNetFnApp && rq->command == kCmdSetSessionPrivilege) {
      rs.data = {rq->data.at(0)};
    } else if (rq->netfn == kNetFnApp && rq->command == kCmdCloseSession) {
      ++closes;
      active_ = false;
    } else if (rq->netfn == kNetFnApp && rq->command == kCmdGetDeviceId) {
      rs.data = {0x23, 0x09, 0x08, 0x00, 0x02, 0x9f, 0x91, 0x12, 0x00, 0x02, 0x0f};
    } else if (rq->command == kCmdGetChassisStatus) {
      rs.data = {static_cast<std::uint8_t>(power_on ? 1 : 0), 0, 0};
    } else if (rq->command == kCmdChassisControl) {
      power_on = rq->data.at(0) == 1 || rq->data.at(0) == 2 || rq->data.at(0) == 3;
    } else if (rq->command == kCmdSetBootOptions) {
      boot_writes.push_back(rq->data);
      if (rq->data.at(0) == 0 && reject_set_in_progress) rs.completion = 0x80;
    }
    Packet out;
    out.session_id = opens == forgotten_session ? rakp_.console_session_id + 1 : rakp_.console_session_id;
    out.sequence = sequence++;
    out.payload = encode_response(rs);
    return {encode_packet(out, &keys_, iv_)};
  }

  bool active_ = false;
  CipherSuite suite_;
  RakpInputs rakp_;
  SessionKeys keys_;
  std::array<std::uint8_t, 16> iv_{};
};

class SessionTest : public ::testing::Test {
 protected:
  SessionConfig config(std::optional<int> suite = std::nullopt) {
    SessionConfig c;
    c.username = "admin";
    c.password = "pw";
    c.cipher_suite = suite;
    c.random = [this](std::span<std::uint8_t> out) {
      for (auto& b : out) b = static_cast<std::uint8_t>(++counter_ * 37);
    };
    return c;
  }
  Operation op(OperationKind kind, std::chrono::milliseconds timeout = 5000ms) {
    Operation o;
    o.kind = kind;
    o.deadline = now + timeout;
    return o;
  }
  // Delivers datagrams both ways until nothing moves; `lose` drops the next n sent by us.
  void exchange(Session& s, Output& out) {
    for (int guard = 0; guard < 100 && !out.datagrams.empty(); ++guard) {
      auto sent = std::move(out.datagrams);
      out.datagrams.clear();
      for (auto& d : sent) {
        ++sent_count;
        if (lose > 0) {
          --lose;
          continue;
        }
        for (auto& reply : bmc.answer(d)) s.on_datagram(reply, now, out);
      }
    }
    for (auto& r : out.results) results[r.id] = r;
    for (auto& n : out.notes) notes += n + "\n";
    out.results.clear();
    out.notes.clear();
  }
  void advance_to_wake(Session& s, Output& out) {
    ASSERT_TRUE(out.wake);
    now = *out.wake;
    s.on_timer(now, out);
    exchange(s, out);
  }

  ScriptedBmc bmc;
  Clock::time_point now = Clock::time_point{} + 1000s;
  std::map<std::uint64_t, OperationResult> results;
  std::string notes;
  int lose = 0;
  int sent_count = 0;
  unsigned counter_ = 0;
};

TEST_F(SessionTest, OpensOnceAndReusesTheSessionForLaterOperations) {
  Session s(config(3));
  Output out;
  const auto a = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  ASSERT_TRUE(results.count(a));
  EXPECT_TRUE(results[a].status.ok()) << results[a].status.message;
  EXPECT_EQ(results[a].power, PowerState::Off);
  EXPECT_TRUE(s.active());
  const auto b = s.submit(op(OperationKind::Power), now, out);
  exchange(s, out);
  const auto c = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  EXPECT_TRUE(results[b].status.ok());
  EXPECT_EQ(results[c].power, PowerState::On);
  EXPECT_EQ(bmc.opens, 1);
  EXPECT_EQ(s.counters().sessions_opened, 1u);
  EXPECT_EQ(bmc.commands, (std::vector<std::uint8_t>{kCmdSetSessionPrivilege, kCmdGetChassisStatus, kCmdChassisControl,
                                                      kCmdGetChassisStatus}));
  EXPECT_FALSE(out.wake);  // nothing pending, no timer
}

TEST_F(SessionTest, QueuedOperationsRunInOrderOverOneSession) {
  Session s(config(17));
  Output out;
  const auto a = s.submit(op(OperationKind::DeviceId), now, out);
  const auto b = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  ASSERT_TRUE(results[a].status.ok()) << results[a].status.message;
  EXPECT_EQ(results[a].device.manufacturer, 0x1291u);
  EXPECT_TRUE(results[b].status.ok());
  EXPECT_EQ(s.cipher_suite(), 17);
  EXPECT_EQ(bmc.opens, 1);
}

TEST_F(SessionTest, AutoTriesSuite17ThenFallsBackTo3AndRemembers) {
  bmc.suites = {3};  // like ipmi_sim: no suite 17
  Session s(config());
  Output out;
  const auto a = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  ASSERT_TRUE(results[a].status.ok()) << results[a].status.message;
  EXPECT_EQ(s.cipher_suite(), 3);
  EXPECT_NE(notes.find("cipher suite 17 refused"), std::string::npos) << notes;
  EXPECT_EQ(bmc.opens, 2);
  // A later session starts with the suite that worked.
  s.close(out);
  exchange(s, out);
  const auto b = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  EXPECT_TRUE(results[b].status.ok());
  EXPECT_EQ(bmc.opens, 3);
}

TEST_F(SessionTest, GivenSuiteIsNotSilentlyDowngraded) {
  bmc.suites = {3};
  Session s(config(17));
  Output out;
  const auto a = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  EXPECT_EQ(results[a].status.reason, "Rejected");
  EXPECT_NE(results[a].status.message.find("cipher suite 17"), std::string::npos);
  EXPECT_EQ(bmc.opens, 1);
}

TEST_F(SessionTest, WrongPasswordIsAuthFailed) {
  bmc.password = "other";
  Session s(config(3));
  Output out;
  const auto a = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  EXPECT_EQ(results[a].status.reason, "AuthFailed");
  EXPECT_FALSE(s.active());
}

TEST_F(SessionTest, LostPacketsAreRetransmittedWithBackoff) {
  Session s(config(3));
  Output out;
  lose = 1;  // the first Get Channel Authentication Capabilities
  const auto a = s.submit(op(OperationKind::PowerStatus), now, out);
  const auto t0 = now;
  exchange(s, out);
  EXPECT_FALSE(results.count(a));
  ASSERT_TRUE(out.wake);
  EXPECT_EQ(*out.wake - t0, 500ms);
  advance_to_wake(s, out);
  ASSERT_TRUE(results.count(a));
  EXPECT_TRUE(results[a].status.ok());
  EXPECT_EQ(s.counters().retransmits, 1u);
  // In the session, a lost request is resent with a new session sequence number.
  lose = 2;
  const auto b = s.submit(op(OperationKind::PowerStatus), now, out);
  const auto t1 = now;
  exchange(s, out);
  advance_to_wake(s, out);
  EXPECT_EQ(now - t1, 500ms);
  advance_to_wake(s, out);
  EXPECT_EQ(now - t1, 1500ms);  // 500 ms, then 1 s
  ASSERT_TRUE(results.count(b));
  EXPECT_TRUE(results[b].status.ok());
}

TEST_F(SessionTest, NoAnswerEndsInTimeoutAtTheDeadline) {
  Session s(config(3));
  Output out;
  lose = 1000;
  const auto start = now;
  const auto a = s.submit(op(OperationKind::PowerStatus, 2000ms), now, out);
  exchange(s, out);
  for (int i = 0; i < 10 && !results.count(a); ++i) advance_to_wake(s, out);
  ASSERT_TRUE(results.count(a));
  EXPECT_EQ(results[a].status.reason, "Timeout");
  EXPECT_LE(now - start, 2000ms);
  EXPECT_FALSE(out.wake);
}

TEST_F(SessionTest, AttemptsExhaustedFailsBeforeTheDeadline) {
  SessionConfig c = config(3);
  c.attempts = 2;
  Session s(c);
  Output out;
  lose = 1000;
  const auto a = s.submit(op(OperationKind::PowerStatus, 60000ms), now, out);
  exchange(s, out);
  for (int i = 0; i < 5 && !results.count(a); ++i) advance_to_wake(s, out);
  ASSERT_TRUE(results.count(a));
  EXPECT_EQ(results[a].status.reason, "Timeout");
  EXPECT_NE(results[a].status.message.find("after 2 tries"), std::string::npos);
  EXPECT_EQ(sent_count, 2);
}

TEST_F(SessionTest, PacketsForAnotherSessionAndOutsideTheWindowAreDropped) {
  Session s(config(3));
  Output out;
  s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  ASSERT_TRUE(s.active());
  // A request in flight; forged answers arrive before the real one.
  lose = 1;
  const auto a = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  const std::uint8_t rq_seq = 4;  // auth caps 1, privilege 2, first status 3
  s.on_datagram(bmc.forge(bmc.console_session_id() + 1, bmc.sequence + 1, rq_seq, kCmdGetChassisStatus), now, out);
  EXPECT_EQ(s.counters().wrong_session, 1u);
  s.on_datagram(bmc.forge(bmc.console_session_id(), bmc.sequence + 40, rq_seq, kCmdGetChassisStatus), now, out);
  EXPECT_EQ(s.counters().out_of_window, 1u);
  s.on_datagram(bmc.forge(bmc.console_session_id(), bmc.sequence - 1, rq_seq, kCmdGetChassisStatus), now, out);  // a replay
  EXPECT_EQ(s.counters().out_of_window, 2u);
  EXPECT_TRUE(out.results.empty());
  // The genuine answer still completes the operation.
  advance_to_wake(s, out);
  ASSERT_TRUE(results.count(a));
  EXPECT_TRUE(results[a].status.ok());
}

TEST_F(SessionTest, SequenceWindowAcceptsReorderingOnceWithin16) {
  SequenceWindow w;
  EXPECT_FALSE(w.accept(0));
  EXPECT_TRUE(w.accept(10));
  EXPECT_TRUE(w.accept(12));
  EXPECT_TRUE(w.accept(11));   // late, first time
  EXPECT_FALSE(w.accept(11));  // again
  EXPECT_FALSE(w.accept(12));
  EXPECT_TRUE(w.accept(28));   // 16 ahead
  EXPECT_FALSE(w.accept(45));  // 17 ahead
  EXPECT_FALSE(w.accept(12));  // 16 behind
  EXPECT_TRUE(w.accept(13));   // 15 behind
}

TEST_F(SessionTest, BootFlagsWithTheSetInProgressDance) {
  Session s(config(3));
  Output out;
  Operation o = op(OperationKind::SetBoot);
  o.boot = BootOverride{BootDevice::Pxe, BootMode::Uefi, false};
  const auto a = s.submit(o, now, out);
  exchange(s, out);
  ASSERT_TRUE(results[a].status.ok()) << results[a].status.message;
  ASSERT_EQ(bmc.boot_writes.size(), 3u);
  EXPECT_EQ(bmc.boot_writes[0], (Bytes{0, 1}));
  EXPECT_EQ(bmc.boot_writes[1], (Bytes{5, 0xa0, 0x04, 0, 0, 0}));
  EXPECT_EQ(bmc.boot_writes[2], (Bytes{0, 0}));
  EXPECT_NE(notes.find("accepted set-in-progress"), std::string::npos);
}

TEST_F(SessionTest, RejectedSetInProgressIsToleratedLoggedAndSkippedNextTime) {
  bmc.reject_set_in_progress = true;
  Session s(config(3));
  Output out;
  Operation o = op(OperationKind::SetBoot);
  o.boot = BootOverride{BootDevice::Disk, BootMode::Legacy, true};
  const auto a = s.submit(o, now, out);
  exchange(s, out);
  ASSERT_TRUE(results[a].status.ok()) << results[a].status.message;
  ASSERT_EQ(bmc.boot_writes.size(), 2u);  // param 0 refused, param 5, no set complete
  EXPECT_EQ(bmc.boot_writes[1], (Bytes{5, 0xc0, 0x08, 0, 0, 0}));
  EXPECT_NE(notes.find("rejected set-in-progress"), std::string::npos) << notes;
  const auto b = s.submit(o, now, out);
  exchange(s, out);
  EXPECT_TRUE(results[b].status.ok());
  EXPECT_EQ(bmc.boot_writes.size(), 3u);  // only param 5 this time
}

TEST_F(SessionTest, IdleSessionIsReopened) {
  Session s(config(3));
  Output out;
  s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  now += 31s;
  const auto b = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  EXPECT_TRUE(results[b].status.ok());
  EXPECT_EQ(bmc.opens, 2);
}

TEST_F(SessionTest, DeadSessionIsReopenedForTheQueuedOperation) {
  Session s(config(3));
  Output out;
  s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  bmc.forgotten_session = 1;  // the BMC lost the first session: its answers do not reach it
  const auto b = s.submit(op(OperationKind::PowerStatus, 20000ms), now, out);
  exchange(s, out);
  for (int i = 0; i < 8 && !results.count(b); ++i) advance_to_wake(s, out);
  ASSERT_TRUE(results.count(b));
  EXPECT_TRUE(results[b].status.ok()) << results[b].status.message;
  EXPECT_EQ(bmc.opens, 2);
  EXPECT_NE(notes.find("re-opening"), std::string::npos);
}

TEST_F(SessionTest, CloseSendsCloseSessionAndCancelsQueuedOperations) {
  Session s(config(3));
  Output out;
  s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  lose = 1;
  const auto b = s.submit(op(OperationKind::PowerStatus), now, out);
  exchange(s, out);
  s.close(out);
  exchange(s, out);
  EXPECT_EQ(results[b].status.reason, "Cancelled");
  EXPECT_EQ(bmc.closes, 1);
  EXPECT_FALSE(s.active());
  EXPECT_FALSE(out.wake);
}

TEST_F(SessionTest, OverlongCredentialsAreRefusedBeforeSending) {
  SessionConfig c = config(3);
  c.password = std::string(21, 'p');
  Session s(c);
  Output out;
  const auto a = s.submit(op(OperationKind::PowerStatus), now, out);
  EXPECT_TRUE(out.datagrams.empty());
  exchange(s, out);
  EXPECT_EQ(results[a].status.reason, "Unsupported");
}

}  // namespace
}  // namespace ironboot::bmc::ipmi
