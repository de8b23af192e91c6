// One RMCP+ session with one BMC, as a pure state machine: datagrams, timer expiries and
// operations go in; datagrams to send, the next wake-up time, operation results and log notes
// come out. No sockets, no clock, no RNG of its own (the caller passes `now` and a random
// source). Setup: Get Channel Authentication Capabilities, Open Session, RAKP 1-4, Set Session
// Privilege (admin); then the queued operations run one request at a time over the one
// session, which is kept for later operations and re-opened when idle too long or dead.
// docs/bmc-ipmi.md describes the exchange.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bmc/bmc.hpp"
#include "bmc/ipmi_codec.hpp"
#include "bmc/ipmi_commands.hpp"
#include "bmc/ipmi_crypto.hpp"

namespace ironboot::bmc::ipmi {

using Clock = std::chrono::steady_clock;

struct SessionConfig {
  std::string username;  // at most 16 bytes
  std::string password;  // at most 20 bytes
  std::optional<int> cipher_suite;  // 3 or 17; nullopt = auto: 17, then 3 (the one that worked is kept)
  Clock::duration retransmit = std::chrono::milliseconds(500);  // first wait; doubles per try
  Clock::duration max_retransmit = std::chrono::seconds(2);
  int attempts = 4;  // sends of one request before it counts as unanswered
  // BMCs end sessions idle for ~60 s (IPMI 2.0 §6.12.15); a session unused this long is
  // re-opened rather than risked.
  Clock::duration idle_limit = std::chrono::seconds(30);
  std::function<void(std::span<std::uint8_t>)> random;  // fills with cryptographic randomness
};

enum class OperationKind { DeviceId, PowerStatus, Power, SetBoot };

struct Operation {
  OperationKind kind = OperationKind::PowerStatus;
  PowerAction action = PowerAction::On;  // Power
  BootOverride boot;                     // SetBoot
  Clock::time_point deadline;            // the whole operation, queueing and session setup included
};

struct OperationResult {
  std::uint64_t id = 0;
  BmcStatus status;
  PowerState power = PowerState::Unknown;  // PowerStatus
  DeviceId device;                         // DeviceId
};

struct Output {
  std::vector<std::vector<std::uint8_t>> datagrams;
  std::vector<OperationResult> results;
  std::vector<std::string> notes;         // worth a log line (suite fallback, set-in-progress, drops)
  std::optional<Clock::time_point> wake;  // call on_timer then; nullopt = nothing pending
};

// RMCP+ inbound sequence numbers: a packet counts once, within 16 of the highest seen.
class SequenceWindow {
 public:
  bool accept(std::uint32_t sequence);
  void reset() { started_ = false; }

 private:
  bool started_ = false;
  std::uint32_t highest_ = 0;
  std::uint32_t seen_ = 0;  // bit i: highest_ - i was seen
};

class Session {
 public:
  explicit Session(SessionConfig config);

  std::uint64_t submit(const Operation& op, Clock::time_point now, Output& out);
  void on_datagram(std::span<const std::uint8_t> datagram, Clock::time_point now, Output& out);
  void on_timer(Clock::time_point now, Output& out);
  // Sends Close Session when a session is open; queued operations end "Cancelled".
  void close(Output& out);

  bool active() const { return phase_ == Phase::Active; }
  // The cipher suite the last session opened with (auto remembers it for the next one).
  std::optional<int> cipher_suite() const { return known_suite_; }

  struct Counters {
    std::uint64_t malformed = 0;
    std::uint64_t wrong_session = 0;
    std::uint64_t out_of_window = 0;
    std::uint64_t retransmits = 0;
    std::uint64_t sessions_opened = 0;
  };
  const Counters& counters() const { return counters_; }

 private:
  enum class Phase { Idle, AuthCaps, OpenSession, Rakp1, Rakp3, Privilege, Active };
  struct Pending {
    std::uint64_t id = 0;
    Operation op;
    int step = 0;
    bool holds_set_in_progress = false;
    BmcStatus failure;  // SetBoot: the error to report after releasing set-in-progress
  };
  // The one request in flight and its retransmit schedule.
  struct Exchange {
    bool active = false;
    bool in_session = false;       // re-encoded with a fresh session sequence on each send
    std::vector<std::uint8_t> wire;  // session-less: the bytes to resend
    LanRequest request;            // in-session / IPMI: the request (its rq_seq identifies the answer)
    std::uint8_t tag = 0;          // setup payloads: the message tag
    int sent = 0;
    Clock::time_point retry_at;
    const char* what = "";
  };

  void pump(Clock::time_point now, Output& out);
  void start_session(Clock::time_point now, Output& out);
  void send_open_session(Clock::time_point now, Output& out);
  void send_setup(PayloadType type, std::vector<std::uint8_t> payload, const char* what, Clock::time_point now,
                  Output& out);
  void send_request(std::uint8_t netfn, std::uint8_t command, std::vector<std::uint8_t> data, const char* what,
                    Clock::time_point now, Output& out);
  void transmit(Clock::time_point now, Output& out);
  void send_step(Clock::time_point now, Output& out);

  void on_auth_caps(const Packet& packet, Clock::time_point now, Output& out);
  void on_open_session(const Packet& packet, Clock::time_point now, Output& out);
  void on_rakp2(const Packet& packet, Clock::time_point now, Output& out);
  void on_rakp4(const Packet& packet, Clock::time_point now, Output& out);
  void on_response(const LanResponse& response, Clock::time_point now, Output& out);
  void on_step_response(const LanResponse& response, Clock::time_point now, Output& out);

  void finish_front(BmcStatus status, Output& out, PowerState power = PowerState::Unknown, DeviceId device = {});
  void fail_all(const BmcStatus& status, Output& out);
  void drop_session();
  void set_wake(Output& out) const;
  std::uint32_t random32();

  SessionConfig config_;
  Phase phase_ = Phase::Idle;
  CipherSuite suite_;
  std::optional<int> known_suite_;
  bool suite_fallback_done_ = false;
  bool set_in_progress_rejected_ = false;  // learned per BMC: skip the dance next time
  int setup_restarts_ = 0;
  std::uint32_t console_sid_ = 0;
  std::uint32_t bmc_sid_ = 0;
  RakpInputs rakp_;
  Bytes kuid_;
  Bytes sik_;  // between RAKP 2 and RAKP 4 only
  SessionKeys keys_;
  std::uint32_t out_seq_ = 0;
  SequenceWindow window_;
  std::uint8_t rq_seq_ = 0;
  std::uint8_t tag_ = 0;
  Exchange exchange_;
  std::deque<Pending> queue_;
  std::uint64_t next_id_ = 1;
  Clock::time_point last_activity_;
  Counters counters_;
};

}  // namespace ironboot::bmc::ipmi
