// One fuzz input through the IPMI codec and session machine; aborts on a broken invariant.
// Shared by the libFuzzer target (ipmi_codec_fuzz.cpp) and the corpus unit test.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>

#include "bmc/ipmi_codec.hpp"
#include "bmc/ipmi_commands.hpp"
#include "bmc/ipmi_session.hpp"

namespace ironboot::bmc::ipmi {

inline SessionKeys fuzz_keys(int suite) {
  const CipherSuite s = *cipher_suite(suite);
  const Bytes sik(s.auth == AuthAlg::HmacSha1 ? 20 : 32, 0x42);
  return SessionKeys{s.integrity, s.confidentiality, derived_key(s.auth, sik, 1), derived_key(s.auth, sik, 2)};
}

template <class Decode>
void fuzz_payload_round_trip(std::span<const std::uint8_t> p, Decode decode) {
  auto first = decode(p);
  if (!first) return;
  const Bytes again = encode(*first);
  if (!decode(again)) std::abort();  // what decoded must encode to something that decodes
}

inline void ipmi_fuzz_one(std::span<const std::uint8_t> data) {
  static const SessionKeys k3 = fuzz_keys(3), k17 = fuzz_keys(17);
  static const std::array<std::uint8_t, 16> iv{};
  for (const SessionKeys* keys : {static_cast<const SessionKeys*>(nullptr), &k3, &k17}) {
    auto packet = decode_packet(data, keys);
    if (!packet) continue;
    // Re-encoded under the same keys, the packet decodes to the same fields.
    const SessionKeys* rekey = packet->authenticated || packet->encrypted ? keys : nullptr;
    if (rekey != nullptr && !(packet->authenticated && packet->encrypted)) continue;  // half-keyed: not ours to re-make
    auto back = decode_packet(encode_packet(*packet, rekey, iv), rekey);
    if (!back || back->payload != packet->payload || back->session_id != packet->session_id ||
        back->sequence != packet->sequence || back->type != packet->type) {
      std::abort();
    }
  }
  // Every payload decoder on the raw bytes.
  if (auto r = decode_request(data)) {
    if (!decode_request(encode_request(*r))) std::abort();
  }
  if (auto r = decode_response(data)) {
    if (!decode_response(encode_response(*r))) std::abort();
    (void)parse_boot_flags(r->data);
    (void)parse_chassis_status(r->data);
    (void)parse_device_id(r->data);
    (void)parse_channel_auth_caps(r->data);
  }
  fuzz_payload_round_trip(data, decode_open_session_request);
  fuzz_payload_round_trip(data, decode_open_session_response);
  fuzz_payload_round_trip(data, decode_rakp1);
  fuzz_payload_round_trip(data, decode_rakp2);
  fuzz_payload_round_trip(data, decode_rakp3);
  fuzz_payload_round_trip(data, decode_rakp4);
  // A session waiting for its first answer takes the bytes as a datagram without harm.
  SessionConfig config;
  config.username = "admin";
  config.password = "pw";
  config.random = [](std::span<std::uint8_t> out) {
    for (auto& b : out) b = 0x5a;
  };
  Session session(config);
  Output out;
  const auto now = Clock::time_point{} + std::chrono::seconds(100);
  Operation op;
  op.deadline = now + std::chrono::seconds(5);
  session.submit(op, now, out);
  session.on_datagram(data, now, out);
  if (!out.results.empty() && out.results.front().status.ok()) std::abort();  // no success without a session
}

}  // namespace ironboot::bmc::ipmi
