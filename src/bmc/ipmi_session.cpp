#include "bmc/ipmi_session.hpp"

#include <algorithm>
#include <cstdio>

namespace ironboot::bmc::ipmi {
namespace {

constexpr std::uint8_t kRoleAdminByName = 0x14;  // admin, name-only lookup (as ipmitool sends)
constexpr std::uint8_t kRakpStatusBadIntegrity = 0x0f;

std::string hex8(std::uint8_t v) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", v);
  return text;
}

std::string cc_text(const char* what, std::uint8_t cc) {
  return std::string(what) + ": completion code " + hex8(cc) + " (" + completion_code_text(cc) + ")";
}

std::string rmcp_text(const char* what, std::uint8_t status) {
  return std::string(what) + ": RMCP+ status " + hex8(status) + " (" + rmcp_status_text(status) + ")";
}

}  // namespace

bool SequenceWindow::accept(std::uint32_t s) {
  if (s == 0) return false;  // 0 is never a valid in-session number
  if (!started_) {
    started_ = true;
    highest_ = s;
    seen_ = 1;
    return true;
  }
  const std::uint32_t ahead = s - highest_;
  if (ahead != 0 && ahead <= 16) {
    seen_ = ahead >= 32 ? 1 : (seen_ << ahead) | 1;
    highest_ = s;
    return true;
  }
  const std::uint32_t behind = highest_ - s;
  if (behind < 16) {
    const std::uint32_t bit = 1u << behind;
    if (seen_ & bit) return false;  // a duplicate
    seen_ |= bit;
    return true;
  }
  return false;
}

Session::Session(SessionConfig config) : config_(std::move(config)) {
  if (config_.cipher_suite) known_suite_ = config_.cipher_suite;
}

std::uint32_t Session::random32() {
  std::uint8_t b[4];
  config_.random(b);
  return static_cast<std::uint32_t>(b[0] | (b[1] << 8) | (b[2] << 16)) | (static_cast<std::uint32_t>(b[3]) << 24);
}

std::uint64_t Session::submit(const Operation& op, Clock::time_point now, Output& out) {
  const std::uint64_t id = next_id_++;
  queue_.push_back(Pending{id, op, 0, false, {}});
  pump(now, out);
  set_wake(out);
  return id;
}

void Session::pump(Clock::time_point now, Output& out) {
  if (queue_.empty() || exchange_.active) return;
  if (phase_ == Phase::Active && now - last_activity_ > config_.idle_limit) {
    out.notes.push_back("session idle too long, re-opening");
    drop_session();
  }
  if (phase_ == Phase::Idle) {
    start_session(now, out);
  } else if (phase_ == Phase::Active) {
    send_step(now, out);
  }
}

void Session::drop_session() {
  phase_ = Phase::Idle;
  exchange_.active = false;
  keys_ = {};
  window_.reset();
}

void Session::start_session(Clock::time_point now, Output& out) {
  if (config_.username.size() > 16 || !user_key(config_.password)) {
    fail_all(BmcStatus::failure("Unsupported", "IPMI user names are at most 16 bytes and passwords at most 20"), out);
    return;
  }
  kuid_ = *user_key(config_.password);
  suite_ = *ipmi::cipher_suite(known_suite_.value_or(17));
  suite_fallback_done_ = known_suite_.has_value();
  do {
    console_sid_ = random32();
  } while (console_sid_ == 0);
  phase_ = Phase::AuthCaps;
  // Channel 0x0e (this one) with bit 7: ask for the IPMI 2.0 extended capabilities.
  LanRequest request{kNetFnApp, kCmdGetChannelAuthCaps, rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f),
                     {0x8e, kPrivilegeAdmin}};
  Packet packet;
  packet.v2 = false;
  packet.payload = encode_request(request);
  exchange_ = Exchange{};
  exchange_.active = true;
  exchange_.wire = encode_packet(packet, nullptr, std::array<std::uint8_t, 16>{});
  exchange_.request = std::move(request);
  exchange_.what = "Get Channel Authentication Capabilities";
  transmit(now, out);
}

void Session::send_open_session(Clock::time_point now, Output& out) {
  phase_ = Phase::OpenSession;
  OpenSessionRequest m{++tag_, kPrivilegeAdmin, console_sid_, suite_.auth, suite_.integrity, suite_.confidentiality};
  send_setup(PayloadType::OpenSessionRequest, encode(m), "Open Session", now, out);
}

void Session::send_setup(PayloadType type, std::vector<std::uint8_t> payload, const char* what, Clock::time_point now,
                         Output& out) {
  Packet packet;
  packet.type = type;
  packet.payload = std::move(payload);
  exchange_ = Exchange{};
  exchange_.active = true;
  exchange_.tag = packet.payload.empty() ? 0 : packet.payload[0];
  exchange_.wire = encode_packet(packet, nullptr, std::array<std::uint8_t, 16>{});
  exchange_.what = what;
  transmit(now, out);
}

void Session::send_request(std::uint8_t netfn, std::uint8_t command, std::vector<std::uint8_t> data, const char* what,
                           Clock::time_point now, Output& out) {
  rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f);
  exchange_ = Exchange{};
  exchange_.active = true;
  exchange_.in_session = true;
  exchange_.request = LanRequest{netfn, command, rq_seq_, std::move(data)};
  exchange_.what = what;
  transmit(now, out);
}

void Session::transmit(Clock::time_point now, Output& out) {
  if (exchange_.in_session) {
    // A retransmit is a new packet to the session layer: the BMC drops a repeated sequence.
    Packet packet;
    packet.session_id = bmc_sid_;
    packet.sequence = out_seq_++;
    if (out_seq_ == 0) out_seq_ = 1;
    packet.payload = encode_request(exchange_.request);
    std::array<std::uint8_t, 16> iv;
    config_.random(iv);
    out.datagrams.push_back(encode_packet(packet, &keys_, iv));
  } else {
    out.datagrams.push_back(exchange_.wire);
  }
  if (exchange_.sent > 0) ++counters_.retransmits;
  auto wait = config_.retransmit;
  for (int i = 0; i < exchange_.sent && wait < config_.max_retransmit; ++i) wait *= 2;
  exchange_.retry_at = now + std::min(wait, config_.max_retransmit);
  ++exchange_.sent;
}

void Session::send_step(Clock::time_point now, Output& out) {
  Pending& p = queue_.front();
  switch (p.op.kind) {
    case OperationKind::DeviceId:
      send_request(kNetFnApp, kCmdGetDeviceId, {}, "Get Device ID", now, out);
      return;
    case OperationKind::PowerStatus:
      send_request(kNetFnChassis, kCmdGetChassisStatus, {}, "Get Chassis Status", now, out);
      return;
    case OperationKind::Power:
      send_request(kNetFnChassis, kCmdChassisControl, {chassis_control_code(p.op.action)}, "Chassis Control", now, out);
      return;
    case OperationKind::SetBoot:
      if (p.step == 0 && set_in_progress_rejected_) p.step = 1;
      if (p.step == 0) {
        send_request(kNetFnChassis, kCmdSetBootOptions, set_in_progress_data(true), "Set System Boot Options (set in progress)",
                     now, out);
      } else if (p.step == 1) {
        send_request(kNetFnChassis, kCmdSetBootOptions, set_boot_flags_data(p.op.boot), "Set System Boot Options (boot flags)",
                     now, out);
      } else {
        send_request(kNetFnChassis, kCmdSetBootOptions, set_in_progress_data(false), "Set System Boot Options (set complete)",
                     now, out);
      }
      return;
  }
}

void Session::on_datagram(std::span<const std::uint8_t> datagram, Clock::time_point now, Output& out) {
  if (phase_ == Phase::Idle) return;  // no session: e.g. the answer to Close Session
  const bool keyed = phase_ == Phase::Privilege || phase_ == Phase::Active;
  auto packet = decode_packet(datagram, keyed ? &keys_ : nullptr);
  if (!packet) {
    ++counters_.malformed;
    out.notes.push_back(std::string("dropped a datagram: ") + packet.error());
  } else if (!exchange_.active) {
    // Nothing asked: a late duplicate.
  } else if (keyed) {
    if (!packet->v2 || packet->type != PayloadType::IpmiMessage || !packet->authenticated) {
      ++counters_.malformed;
    } else if (packet->session_id != console_sid_) {
      ++counters_.wrong_session;
      out.notes.push_back("dropped a packet for another session");
    } else if (!window_.accept(packet->sequence)) {
      ++counters_.out_of_window;
      out.notes.push_back("dropped a packet outside the sequence window");
    } else if (auto response = decode_response(packet->payload)) {
      on_response(*response, now, out);
    } else {
      ++counters_.malformed;
    }
  } else if (phase_ == Phase::AuthCaps && packet->type == PayloadType::IpmiMessage) {
    on_auth_caps(*packet, now, out);
  } else if (phase_ == Phase::OpenSession && packet->type == PayloadType::OpenSessionResponse) {
    on_open_session(*packet, now, out);
  } else if (phase_ == Phase::Rakp1 && packet->type == PayloadType::Rakp2) {
    on_rakp2(*packet, now, out);
  } else if (phase_ == Phase::Rakp3 && packet->type == PayloadType::Rakp4) {
    on_rakp4(*packet, now, out);
  }
  set_wake(out);
}

void Session::on_auth_caps(const Packet& packet, Clock::time_point now, Output& out) {
  auto response = decode_response(packet.payload);
  if (!response || response->rq_seq != exchange_.request.rq_seq || response->command != kCmdGetChannelAuthCaps) return;
  exchange_.active = false;
  if (response->completion != 0) {
    fail_all(BmcStatus::failure("Rejected", cc_text("Get Channel Authentication Capabilities", response->completion)), out);
    return;
  }
  auto caps = parse_channel_auth_caps(response->data);
  if (!caps) {
    fail_all(BmcStatus::failure("Protocol", std::string("Get Channel Authentication Capabilities: ") + caps.error()), out);
    return;
  }
  if (!caps->ipmi_v2) {
    fail_all(BmcStatus::failure("Unsupported", "the BMC's LAN channel does not offer IPMI 2.0 (RMCP+)"), out);
    return;
  }
  send_open_session(now, out);
}

void Session::on_open_session(const Packet& packet, Clock::time_point now, Output& out) {
  auto m = decode_open_session_response(packet.payload);
  if (!m || m->tag != exchange_.tag) return;
  exchange_.active = false;
  if (m->status != 0) {
    if (!suite_fallback_done_ && suite_.id == 17 && m->status != 0x01) {
      out.notes.push_back(rmcp_text("cipher suite 17 refused", m->status) + "; trying cipher suite 3");
      suite_ = *ipmi::cipher_suite(3);
      suite_fallback_done_ = true;
      send_open_session(now, out);
      return;
    }
    const bool busy = m->status == 0x01 || m->status == 0x0b;
    fail_all(BmcStatus::failure(busy ? "Busy" : "Rejected", rmcp_text("Open Session", m->status) + " (cipher suite " +
                                                               std::to_string(suite_.id) + ")"),
             out);
    return;
  }
  if (m->console_session_id != console_sid_ || m->bmc_session_id == 0 || m->auth != suite_.auth ||
      m->integrity != suite_.integrity || m->confidentiality != suite_.confidentiality) {
    fail_all(BmcStatus::failure("Protocol", "Open Session Response does not match the request"), out);
    return;
  }
  bmc_sid_ = m->bmc_session_id;
  rakp_ = RakpInputs{};
  rakp_.console_session_id = console_sid_;
  rakp_.bmc_session_id = bmc_sid_;
  config_.random(rakp_.console_random);
  rakp_.role = kRoleAdminByName;
  rakp_.username = config_.username;
  phase_ = Phase::Rakp1;
  Rakp1 r{++tag_, bmc_sid_, rakp_.console_random, rakp_.role, config_.username};
  send_setup(PayloadType::Rakp1, encode(r), "RAKP 1", now, out);
}

void Session::on_rakp2(const Packet& packet, Clock::time_point now, Output& out) {
  auto m = decode_rakp2(packet.payload);
  if (!m || m->tag != exchange_.tag) return;
  exchange_.active = false;
  if (m->status != 0) {
    const bool auth = m->status == 0x0d || m->status == 0x09 || m->status == 0x0a;
    fail_all(BmcStatus::failure(auth ? "AuthFailed" : "Rejected", rmcp_text("RAKP 2", m->status)), out);
    return;
  }
  if (m->console_session_id != console_sid_) {
    fail_all(BmcStatus::failure("Protocol", "RAKP 2 names another session"), out);
    return;
  }
  rakp_.bmc_random = m->bmc_random;
  rakp_.bmc_guid = m->bmc_guid;
  if (!same_code(m->auth_code, rakp2_auth_code(suite_.auth, kuid_, rakp_))) {
    // Tell the BMC, so it frees the half-open session, then give up: the password is wrong.
    Rakp3 r{++tag_, kRakpStatusBadIntegrity, bmc_sid_, {}};
    Packet p;
    p.type = PayloadType::Rakp3;
    p.payload = encode(r);
    out.datagrams.push_back(encode_packet(p, nullptr, std::array<std::uint8_t, 16>{}));
    fail_all(BmcStatus::failure("AuthFailed", "RAKP 2 auth code does not match: wrong password for user \"" +
                                                  config_.username + "\""),
             out);
    return;
  }
  const Bytes sik = session_integrity_key(suite_.auth, kuid_, rakp_);
  keys_ = SessionKeys{suite_.integrity, suite_.confidentiality, derived_key(suite_.auth, sik, 1),
                      derived_key(suite_.auth, sik, 2)};
  sik_ = sik;
  phase_ = Phase::Rakp3;
  Rakp3 r{++tag_, 0, bmc_sid_, rakp3_auth_code(suite_.auth, kuid_, rakp_)};
  send_setup(PayloadType::Rakp3, encode(r), "RAKP 3", now, out);
}

void Session::on_rakp4(const Packet& packet, Clock::time_point now, Output& out) {
  auto m = decode_rakp4(packet.payload);
  if (!m || m->tag != exchange_.tag) return;
  const bool retransmitted = exchange_.sent > 1;
  exchange_.active = false;
  if (m->status != 0) {
    if (retransmitted && setup_restarts_ == 0) {
      // Our RAKP 1 or 3 was repeated: the BMC may have answered the copy with a new random.
      ++setup_restarts_;
      out.notes.push_back(rmcp_text("RAKP 4 after a retransmit", m->status) + "; opening a new session");
      drop_session();
      start_session(now, out);
      return;
    }
    const bool auth = m->status == kRakpStatusBadIntegrity || m->status == 0x0d;
    fail_all(BmcStatus::failure(auth ? "AuthFailed" : "Rejected", rmcp_text("RAKP 4", m->status)), out);
    return;
  }
  if (m->console_session_id != console_sid_ || !same_code(m->integrity_check, rakp4_check(suite_.auth, sik_, rakp_))) {
    fail_all(BmcStatus::failure("AuthFailed", "RAKP 4 integrity check value does not match"), out);
    return;
  }
  sik_.clear();
  phase_ = Phase::Privilege;
  out_seq_ = 1;
  window_.reset();
  send_request(kNetFnApp, kCmdSetSessionPrivilege, {kPrivilegeAdmin}, "Set Session Privilege Level", now, out);
}

void Session::on_response(const LanResponse& response, Clock::time_point now, Output& out) {
  if (response.rq_seq != exchange_.request.rq_seq || response.command != exchange_.request.command ||
      response.netfn != exchange_.request.netfn + 1) {
    return;  // an answer to an earlier request
  }
  exchange_.active = false;
  last_activity_ = now;
  if (phase_ == Phase::Privilege) {
    if (response.completion != 0) {
      fail_all(BmcStatus::failure(response.completion == 0x80 || response.completion == 0x81 ? "AuthFailed" : "Rejected",
                                  cc_text("Set Session Privilege Level (administrator)", response.completion)),
               out);
      drop_session();
      return;
    }
    phase_ = Phase::Active;
    known_suite_ = suite_.id;
    setup_restarts_ = 0;
    ++counters_.sessions_opened;
    out.notes.push_back("session open, cipher suite " + std::to_string(suite_.id));
    pump(now, out);
    return;
  }
  if (!queue_.empty()) on_step_response(response, now, out);
  pump(now, out);
}

void Session::on_step_response(const LanResponse& r, Clock::time_point now, Output& out) {
  (void)now;
  Pending& p = queue_.front();
  const std::uint8_t cc = r.completion;
  switch (p.op.kind) {
    case OperationKind::DeviceId: {
      if (cc != 0) return finish_front(BmcStatus::failure("Rejected", cc_text("Get Device ID", cc)), out);
      auto id = parse_device_id(r.data);
      if (!id) return finish_front(BmcStatus::failure("Protocol", std::string("Get Device ID: ") + id.error()), out);
      return finish_front(BmcStatus::success(), out, PowerState::Unknown, *id);
    }
    case OperationKind::PowerStatus: {
      if (cc != 0) return finish_front(BmcStatus::failure("Rejected", cc_text("Get Chassis Status", cc)), out);
      auto power = parse_chassis_status(r.data);
      if (!power) return finish_front(BmcStatus::failure("Protocol", std::string("Get Chassis Status: ") + power.error()), out);
      return finish_front(BmcStatus::success(), out, *power);
    }
    case OperationKind::Power:
      if (cc != 0) return finish_front(BmcStatus::failure("Rejected", cc_text("Chassis Control", cc)), out);
      return finish_front(BmcStatus::success(), out);
    case OperationKind::SetBoot:
      if (p.step == 0) {
        if (cc == 0) {
          out.notes.push_back("BMC accepted set-in-progress (boot options parameter 0)");
          p.holds_set_in_progress = true;
        } else {
          // Some BMCs do not implement parameter 0, others need it: go on without it.
          out.notes.push_back(cc_text("BMC rejected set-in-progress (boot options parameter 0)", cc) +
                              "; setting the boot flags without it");
          if (cc != 0x81) set_in_progress_rejected_ = true;
        }
        p.step = 1;
      } else if (p.step == 1) {
        if (cc != 0) p.failure = BmcStatus::failure("Rejected", cc_text("Set System Boot Options (boot flags)", cc));
        if (!p.holds_set_in_progress) return finish_front(p.failure, out);
        p.step = 2;
      } else {
        if (cc != 0) out.notes.push_back(cc_text("BMC rejected set complete (boot options parameter 0)", cc));
        return finish_front(p.failure, out);
      }
      return;
  }
}

void Session::finish_front(BmcStatus status, Output& out, PowerState power, DeviceId device) {
  out.results.push_back(OperationResult{queue_.front().id, std::move(status), power, device});
  queue_.pop_front();
}

void Session::fail_all(const BmcStatus& status, Output& out) {
  for (const Pending& p : queue_) out.results.push_back(OperationResult{p.id, status, PowerState::Unknown, {}});
  queue_.clear();
  drop_session();
}

void Session::on_timer(Clock::time_point now, Output& out) {
  // Operations past their deadline end first; the exchange of the front one goes with it.
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->op.deadline > now) {
      ++it;
      continue;
    }
    const bool front = it == queue_.begin();
    const char* during = exchange_.active ? exchange_.what : "waiting in the queue";
    out.results.push_back(OperationResult{it->id, BmcStatus::failure("Timeout", std::string("no answer in time (") + during + ")"),
                                          PowerState::Unknown, {}});
    it = queue_.erase(it);
    if (front && exchange_.active && phase_ == Phase::Active) exchange_.active = false;
  }
  if (queue_.empty() && phase_ != Phase::Active && phase_ != Phase::Idle) drop_session();
  if (exchange_.active && now >= exchange_.retry_at) {
    if (exchange_.sent < config_.attempts) {
      transmit(now, out);
    } else if (phase_ == Phase::Active) {
      // The session is gone (BMC restarted or timed it out): re-open for what is queued.
      out.notes.push_back(std::string("no answer to ") + exchange_.what + " in the session; re-opening it");
      drop_session();
    } else {
      fail_all(BmcStatus::failure("Timeout", std::string("no answer to ") + exchange_.what + " after " +
                                                 std::to_string(config_.attempts) + " tries"),
               out);
    }
  }
  pump(now, out);
  set_wake(out);
}

void Session::close(Output& out) {
  if (phase_ == Phase::Active || phase_ == Phase::Privilege) {
    Packet packet;
    packet.session_id = bmc_sid_;
    packet.sequence = out_seq_++;
    rq_seq_ = static_cast<std::uint8_t>((rq_seq_ + 1) & 0x3f);
    const std::vector<std::uint8_t> sid = {static_cast<std::uint8_t>(bmc_sid_), static_cast<std::uint8_t>(bmc_sid_ >> 8),
                                           static_cast<std::uint8_t>(bmc_sid_ >> 16), static_cast<std::uint8_t>(bmc_sid_ >> 24)};
    packet.payload = encode_request(LanRequest{kNetFnApp, kCmdCloseSession, rq_seq_, sid});
    std::array<std::uint8_t, 16> iv;
    config_.random(iv);
    out.datagrams.push_back(encode_packet(packet, &keys_, iv));
  }
  fail_all(BmcStatus::failure("Cancelled", "the client was closed"), out);
  set_wake(out);
}

void Session::set_wake(Output& out) const {
  std::optional<Clock::time_point> wake;
  if (exchange_.active) wake = exchange_.retry_at;
  for (const Pending& p : queue_) {
    if (!wake || p.op.deadline < *wake) wake = p.op.deadline;
  }
  out.wake = wake;
}

}  // namespace ironboot::bmc::ipmi
