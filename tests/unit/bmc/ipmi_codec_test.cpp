// The RMCP/RMCP+ codec: round trips, every malformed shape refused, and real ipmi_sim packets
// (captured with tcpdump on loopback while `ipmitool -I lanplus -C 3 -U admin -P pw power
// status` ran against the OpenIPMI 2.0.32 ipmi_sim of tests/lib/ipmi_sim.py).
#include "bmc/ipmi_codec.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <string>

#include "bmc/ipmi_commands.hpp"

namespace ironboot::bmc::ipmi {
namespace {

Bytes unhex(const std::string& text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2) out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  return out;
}

const std::array<std::uint8_t, 16> kIv = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

SessionKeys keys_for(int suite) {
  const CipherSuite s = *cipher_suite(suite);
  const Bytes sik(s.auth == AuthAlg::HmacSha1 ? 20 : 32, 0x42);
  return SessionKeys{s.integrity, s.confidentiality, derived_key(s.auth, sik, 1), derived_key(s.auth, sik, 2)};
}

TEST(IpmiLanMessage, RequestRoundTripWithBothChecksums) {
  const LanRequest r{kNetFnChassis, kCmdChassisControl, 0x2a, {0x01}};
  const Bytes wire = encode_request(r);
  ASSERT_EQ(wire.size(), 8u);
  EXPECT_EQ(checksum(std::span(wire).first(3)), 0);             // rsAddr, netFn, chk1 sum to 0
  EXPECT_EQ(checksum(std::span(wire).subspan(3)), 0);           // rqAddr .. chk2 sum to 0
  auto back = decode_request(wire);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->netfn, r.netfn);
  EXPECT_EQ(back->command, r.command);
  EXPECT_EQ(back->rq_seq, r.rq_seq);
  EXPECT_EQ(back->data, r.data);
}

TEST(IpmiLanMessage, ResponseRoundTripAndMalformedOnesRefused) {
  const LanResponse r{kNetFnChassis + 1, kCmdGetChassisStatus, 7, 0x00, {0x01, 0x00, 0x00}};
  Bytes wire = encode_response(r);
  auto back = decode_response(wire);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->data, r.data);
  EXPECT_EQ(back->rq_seq, 7);
  EXPECT_FALSE(decode_response(std::span(wire).first(7)));
  Bytes bad1 = wire;
  bad1[2] ^= 1;
  EXPECT_STREQ(decode_response(bad1).error(), "bad header checksum");
  Bytes bad2 = wire;
  bad2[7] ^= 1;
  EXPECT_STREQ(decode_response(bad2).error(), "bad data checksum");
  // A request is not a response, and the other way round.
  EXPECT_FALSE(decode_response(encode_request(LanRequest{kNetFnApp, kCmdGetDeviceId, 1, {}})));
  EXPECT_FALSE(decode_request(wire));
}

TEST(IpmiPacket, RealIpmiSimChannelAuthCapsAnswer) {
  // IPMI 1.5 session header, auth type none; Get Channel Authentication Capabilities answer.
  const Bytes wire = unhex("0600ff0700000000000000000010811c6320003800019704030000000009");
  auto packet = decode_packet(wire, nullptr);
  ASSERT_TRUE(packet) << packet.error();
  EXPECT_FALSE(packet->v2);
  auto response = decode_response(packet->payload);
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->command, kCmdGetChannelAuthCaps);
  EXPECT_EQ(response->completion, 0);
  auto caps = parse_channel_auth_caps(response->data);
  ASSERT_TRUE(caps);
  EXPECT_TRUE(caps->ipmi_v2);
  EXPECT_EQ(caps->channel, 1);
  // Our request, with ipmitool's rqSeq 0, is byte for byte what ipmitool sent.
  Packet request;
  request.v2 = false;
  request.payload = encode_request(LanRequest{kNetFnApp, kCmdGetChannelAuthCaps, 0, {0x8e, 0x04}});
  EXPECT_EQ(encode_packet(request, nullptr, kIv), unhex("0600ff07000000000000000000092018c88100388e04b5"));
}

TEST(IpmiPacket, RealIpmiSimSessionSetupAndRakp2AuthCode) {
  const Bytes open = unhex(
      "0600ff0706110000000000000000240000000000a4a3a2a082040000000000080100000001000008010000000200000801000000");
  auto packet = decode_packet(open, nullptr);
  ASSERT_TRUE(packet) << packet.error();
  EXPECT_EQ(packet->type, PayloadType::OpenSessionResponse);
  auto response = decode_open_session_response(packet->payload);
  ASSERT_TRUE(response) << response.error();
  EXPECT_EQ(response->status, 0);
  EXPECT_EQ(response->console_session_id, 0xa0a2a3a4u);
  EXPECT_EQ(response->bmc_session_id, 0x482u);
  EXPECT_EQ(response->auth, AuthAlg::HmacSha1);
  EXPECT_EQ(response->integrity, IntegrityAlg::HmacSha1_96);
  EXPECT_EQ(response->confidentiality, ConfidentialityAlg::AesCbc128);

  auto rakp1 = decode_packet(unhex("0600ff070612000000000000000021000000000082040000f117311f1330477a94b653fd227fe606"
                                   "1400000561646d696e"),
                             nullptr);
  ASSERT_TRUE(rakp1) << rakp1.error();
  auto r1 = decode_rakp1(rakp1->payload);
  ASSERT_TRUE(r1) << r1.error();
  EXPECT_EQ(r1->username, "admin");
  EXPECT_EQ(r1->role, 0x14);

  auto rakp2 = decode_packet(unhex("0600ff07061300000000000000003c0000000000a4a3a2a06bdbcb780e17ec32eecc44285e663619a12345"
                                   "6789abcdefa123456789abcdefdb8424686f87ca837c4092ade8f9197a0e2ff93a"),
                             nullptr);
  ASSERT_TRUE(rakp2) << rakp2.error();
  auto r2 = decode_rakp2(rakp2->payload);
  ASSERT_TRUE(r2) << r2.error();
  // ipmi_sim's RAKP 2 HMAC-SHA1 under password "pw", recomputed from the exchange.
  RakpInputs in;
  in.console_session_id = response->console_session_id;
  in.bmc_session_id = response->bmc_session_id;
  in.console_random = r1->console_random;
  in.bmc_random = r2->bmc_random;
  in.bmc_guid = r2->bmc_guid;
  in.role = r1->role;
  in.username = r1->username;
  EXPECT_TRUE(same_code(r2->auth_code, rakp2_auth_code(AuthAlg::HmacSha1, *user_key("pw"), in)));
  EXPECT_FALSE(same_code(r2->auth_code, rakp2_auth_code(AuthAlg::HmacSha1, *user_key("wrong"), in)));
}

TEST(IpmiPacket, V15AndUnauthenticatedV2RoundTrip) {
  Packet p;
  p.v2 = false;
  p.payload = {1, 2, 3};
  auto back = decode_packet(encode_packet(p, nullptr, kIv), nullptr);
  ASSERT_TRUE(back);
  EXPECT_FALSE(back->v2);
  EXPECT_EQ(back->payload, p.payload);

  Packet q;
  q.type = PayloadType::Rakp3;
  q.payload = encode(Rakp3{9, 0, 0x1234, Bytes(20, 7)});
  auto back2 = decode_packet(encode_packet(q, nullptr, kIv), nullptr);
  ASSERT_TRUE(back2);
  EXPECT_EQ(back2->type, PayloadType::Rakp3);
  EXPECT_FALSE(back2->authenticated);
  EXPECT_EQ(back2->payload, q.payload);
}

class SessionPacket : public ::testing::TestWithParam<int> {};

TEST_P(SessionPacket, AuthenticatedEncryptedRoundTripAndTamperingRefused) {
  const SessionKeys keys = keys_for(GetParam());
  for (std::size_t n = 0; n < 40; ++n) {
    Packet p;
    p.session_id = 0xdeadbeef;
    p.sequence = static_cast<std::uint32_t>(n + 1);
    p.payload.assign(n, static_cast<std::uint8_t>(n));
    const Bytes wire = encode_packet(p, &keys, kIv);
    // AuthType .. Next Header is whole 32-bit words.
    EXPECT_EQ((wire.size() - 4 - integrity_code_length(keys.integrity)) % 4, 0u);
    auto back = decode_packet(wire, &keys);
    ASSERT_TRUE(back) << n << ": " << back.error();
    EXPECT_TRUE(back->authenticated && back->encrypted);
    EXPECT_EQ(back->session_id, p.session_id);
    EXPECT_EQ(back->sequence, p.sequence);
    EXPECT_EQ(back->payload, p.payload);
    for (std::size_t i = 4; i < wire.size(); i += 7) {
      Bytes tampered = wire;
      tampered[i] ^= 0x10;
      EXPECT_FALSE(decode_packet(tampered, &keys)) << "byte " << i;
    }
    EXPECT_FALSE(decode_packet(std::span(wire).first(wire.size() - 1), &keys));
    EXPECT_FALSE(decode_packet(wire, nullptr));  // authenticated outside a session
  }
}

INSTANTIATE_TEST_SUITE_P(Suites, SessionPacket, ::testing::Values(3, 17));

TEST(IpmiPacket, KeysOfTheOtherSuiteDoNotVerify) {
  const SessionKeys k3 = keys_for(3), k17 = keys_for(17);
  Packet p;
  p.payload = {1, 2, 3, 4};
  EXPECT_FALSE(decode_packet(encode_packet(p, &k3, kIv), &k17));
  EXPECT_FALSE(decode_packet(encode_packet(p, &k17, kIv), &k3));
}

TEST(IpmiPacket, MalformedHeadersRefused) {
  EXPECT_FALSE(decode_packet(Bytes{}, nullptr));
  EXPECT_FALSE(decode_packet(Bytes{0x06, 0x00, 0xff, 0x07}, nullptr));
  EXPECT_STREQ(decode_packet(unhex("0500ff0700"), nullptr).error(), "not RMCP version 1.0");
  EXPECT_STREQ(decode_packet(unhex("0600ff0600"), nullptr).error(), "not an IPMI-class RMCP message");
  // 1.5 with MD5 auth: not spoken.
  EXPECT_FALSE(decode_packet(unhex("0600ff0702000000000000000000"), nullptr));
  // 1.5 payload length beyond the datagram.
  EXPECT_FALSE(decode_packet(unhex("0600ff070000000000000000000501"), nullptr));
  // RMCP+ OEM payload type and an unknown one.
  EXPECT_FALSE(decode_packet(unhex("0600ff07060200000000000000000000"), nullptr));
  EXPECT_FALSE(decode_packet(unhex("0600ff07060100000000000000000000"), nullptr));
  // RMCP+ length beyond the datagram.
  EXPECT_FALSE(decode_packet(unhex("0600ff0706000000000000000000050001"), nullptr));
}

TEST(IpmiPayloads, OpenSessionRoundTrip) {
  const OpenSessionRequest rq{3, 4, 0x01020304, AuthAlg::HmacSha256, IntegrityAlg::HmacSha256_128,
                              ConfidentialityAlg::AesCbc128};
  const Bytes wire = encode(rq);
  ASSERT_EQ(wire.size(), 32u);
  auto back = decode_open_session_request(wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->auth, AuthAlg::HmacSha256);
  EXPECT_EQ(back->integrity, IntegrityAlg::HmacSha256_128);
  EXPECT_EQ(back->console_session_id, 0x01020304u);
  EXPECT_FALSE(decode_open_session_request(std::span(wire).first(31)));
  Bytes bad = wire;
  bad[16] = 0x02;  // integrity record typed as confidentiality
  EXPECT_FALSE(decode_open_session_request(bad));

  const OpenSessionResponse rs{3, 0, 4, 0x01020304, 0x0a0b0c0d, AuthAlg::HmacSha1, IntegrityAlg::HmacSha1_96,
                               ConfidentialityAlg::AesCbc128};
  auto rs_back = decode_open_session_response(encode(rs));
  ASSERT_TRUE(rs_back);
  EXPECT_EQ(rs_back->bmc_session_id, 0x0a0b0c0du);
  // An error answer is short and still decodes to its status.
  auto refused = decode_open_session_response(encode(OpenSessionResponse{3, 0x11, 0, 0x01020304}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 0x11);
  EXPECT_FALSE(decode_open_session_response(std::span<const std::uint8_t>(encode(rs)).first(20)));
}

TEST(IpmiPayloads, RakpRoundTripsAndLengths) {
  Rakp1 r1{5, 0x1234, {}, 0x14, "admin"};
  std::iota(r1.console_random.begin(), r1.console_random.end(), std::uint8_t{1});
  auto b1 = decode_rakp1(encode(r1));
  ASSERT_TRUE(b1);
  EXPECT_EQ(b1->console_random, r1.console_random);
  EXPECT_EQ(b1->username, "admin");
  Bytes long_name = encode(Rakp1{5, 1, {}, 0x14, std::string(16, 'u')});
  long_name[27] = 17;
  EXPECT_FALSE(decode_rakp1(long_name));
  EXPECT_FALSE(decode_rakp1(std::span<const std::uint8_t>(encode(r1)).first(30)));

  Rakp2 r2{5, 0, 0x99, {}, {}, Bytes(32, 0xab)};
  auto b2 = decode_rakp2(encode(r2));
  ASSERT_TRUE(b2);
  EXPECT_EQ(b2->auth_code, r2.auth_code);
  EXPECT_FALSE(decode_rakp2(std::span<const std::uint8_t>(encode(r2)).first(39)));
  auto refused = decode_rakp2(encode(Rakp2{5, 0x0d, 0x99, {}, {}, {}}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 0x0d);

  auto b3 = decode_rakp3(encode(Rakp3{6, 0, 0x77, Bytes(20, 1)}));
  ASSERT_TRUE(b3);
  EXPECT_EQ(b3->auth_code.size(), 20u);
  EXPECT_FALSE(decode_rakp3(Bytes(7, 0)));

  auto b4 = decode_rakp4(encode(Rakp4{6, 0, 0x99, Bytes(16, 2)}));
  ASSERT_TRUE(b4);
  EXPECT_EQ(b4->integrity_check.size(), 16u);
  EXPECT_FALSE(decode_rakp4(Bytes(1, 0)));
}

TEST(IpmiCommands, BootFlagsAndChassisAnswers) {
  BootOverride pxe_efi_once{BootDevice::Pxe, BootMode::Uefi, false};
  EXPECT_EQ(set_boot_flags_data(pxe_efi_once), (Bytes{5, 0xa0, 0x04, 0, 0, 0}));
  BootOverride disk_legacy_always{BootDevice::Disk, BootMode::Legacy, true};
  EXPECT_EQ(set_boot_flags_data(disk_legacy_always), (Bytes{5, 0xc0, 0x08, 0, 0, 0}));
  EXPECT_EQ(set_in_progress_data(true), (Bytes{0, 1}));
  auto flags = parse_boot_flags(Bytes{1, 5, 0xa0, 0x04, 0, 0, 0});
  ASSERT_TRUE(flags);
  EXPECT_TRUE(flags->valid && flags->efi && !flags->persistent);
  EXPECT_EQ(flags->device, kBootDevicePxe);
  EXPECT_FALSE(parse_boot_flags(Bytes{1, 4, 0, 0, 0, 0, 0}));
  EXPECT_EQ(*parse_chassis_status(Bytes{0x01, 0, 0}), PowerState::On);
  EXPECT_EQ(*parse_chassis_status(Bytes{0x60, 0, 0}), PowerState::Off);
  EXPECT_FALSE(parse_chassis_status(Bytes{0x01}));
  EXPECT_EQ(chassis_control_code(PowerAction::Off), 0);
  EXPECT_EQ(chassis_control_code(PowerAction::On), 1);
  EXPECT_EQ(chassis_control_code(PowerAction::Cycle), 2);
  EXPECT_EQ(chassis_control_code(PowerAction::HardReset), 3);
  EXPECT_EQ(chassis_control_code(PowerAction::SoftOff), 5);
  // The answer of tests/lib/ipmi_sim.py's BMC (mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02).
  auto id = parse_device_id(Bytes{0x00, 0x23, 0x09, 0x08, 0x02, 0x9f, 0x91, 0x12, 0x00, 0x02, 0x0f});
  ASSERT_TRUE(id);
  EXPECT_EQ(to_string(*id), "device_id=0x00 revision=3 firmware=9.08 ipmi=2.0 manufacturer=4753 product=0x0f02");
  EXPECT_EQ(id->product, 0x0f02);
  EXPECT_FALSE(parse_device_id(Bytes(10, 0)));
}

}  // namespace
}  // namespace ironboot::bmc::ipmi
