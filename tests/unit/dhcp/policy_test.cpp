#include "dhcp/policy.hpp"

#include <gtest/gtest.h>

#include "common/config.hpp"
#include "raw_packet.hpp"

namespace ironboot::dhcp {
namespace {

using testing::ByteVec;
using testing::RawPacket;

const Ipv4 kLocal{0x0a4d0002};  // 10.77.0.2

PolicyConfig config() {
  PolicyConfig c;
  c.bios = "undionly.kpxe";
  c.efi_x86_64 = "ipxe.efi";
  c.efi_arm64 = "";
  c.http_port = 8080;
  return c;
}

Receipt on67() { return Receipt{kLocal, false, Ipv4{}, 68}; }

Message parse_raw(const RawPacket& raw) {
  Message m;
  EXPECT_EQ(parse(raw.b, m), ParseError::ok);
  return m;
}

std::string str(Bytes b) { return std::string(b.begin(), b.end()); }

struct Answer {
  Decision decision;
  Message reply;
};

Answer run(const RawPacket& raw, const Receipt& receipt = on67(), const PolicyConfig& c = config()) {
  Answer a;
  a.decision = answer(parse_raw(raw), receipt, c, a.reply);
  return a;
}

void expect_common_reply_fields(const Message& req, const Message& reply) {
  EXPECT_EQ(reply.op, kBootReply);
  EXPECT_EQ(reply.xid, req.xid);
  EXPECT_EQ(reply.chaddr, req.chaddr);
  EXPECT_EQ(reply.flags, req.flags);
  EXPECT_EQ(reply.giaddr, req.giaddr);
  EXPECT_EQ(reply.yiaddr.value, 0u);
  EXPECT_EQ(reply.siaddr, kLocal);
  EXPECT_EQ(server_identifier(reply), kLocal);
  EXPECT_EQ(tftp_server_name(reply), "10.77.0.2");
  EXPECT_EQ(reply.sname_text(), "10.77.0.2");
  EXPECT_EQ(client_uuid(reply)->size(), 17u);  // echoed
  EXPECT_EQ(str(*client_uuid(reply)), str(*client_uuid(req)));
}

TEST(Policy, BiosGetsUndionlyWithDiscoveryControl) {
  const RawPacket raw = RawPacket::pxe_discover(0);
  const auto [d, reply] = run(raw);
  ASSERT_TRUE(d.answered()) << to_string(d.reason);
  EXPECT_EQ(d.reply_type, MessageType::offer);
  EXPECT_EQ(d.kind, BootKind::tftp_file);
  expect_common_reply_fields(parse_raw(raw), reply);
  EXPECT_EQ(message_type(reply), MessageType::offer);
  EXPECT_EQ(vendor_class(reply), "PXEClient");
  EXPECT_EQ(reply.file_text(), "undionly.kpxe");
  EXPECT_EQ(bootfile_name(reply), "undionly.kpxe");
  EXPECT_EQ(pxe_discovery_control(reply), pxe::kUseBootFile);
  EXPECT_EQ(reply.ciaddr.value, 0u);
  // The reply is a valid packet on the wire.
  const auto wire = serialize(reply);
  EXPECT_GE(wire.size(), kMinBootpSize);
  Message back;
  EXPECT_EQ(parse(wire, back), ParseError::ok);
  EXPECT_EQ(back.options, reply.options);
}

class UefiArch : public ::testing::TestWithParam<std::uint16_t> {};

TEST_P(UefiArch, X86_64GetsIpxeEfiWithoutVendorOptions) {
  const auto [d, reply] = run(RawPacket::pxe_discover(GetParam()));
  ASSERT_TRUE(d.answered()) << to_string(d.reason);
  EXPECT_EQ(d.arch, GetParam());
  EXPECT_EQ(reply.file_text(), "ipxe.efi");
  EXPECT_EQ(bootfile_name(reply), "ipxe.efi");
  EXPECT_EQ(vendor_class(reply), "PXEClient");
  EXPECT_FALSE(reply.options.has(opt::vendor_specific));  // no menu for UEFI
}

INSTANTIATE_TEST_SUITE_P(Arches, UefiArch, ::testing::Values(6, 7, 9));

TEST(Policy, Arm64WithoutConfiguredBinaryIsNotAnswered) {
  const auto [d, reply] = run(RawPacket::pxe_discover(11));
  EXPECT_EQ(d.reason, DropReason::unsupported_arch);
  EXPECT_EQ(d.arch, 11);
}

TEST(Policy, Arm64WithConfiguredBinary) {
  PolicyConfig c = config();
  c.efi_arm64 = "arm64/snp.efi";
  const auto [d, reply] = run(RawPacket::pxe_discover(11), on67(), c);
  ASSERT_TRUE(d.answered());
  EXPECT_EQ(reply.file_text(), "arm64/snp.efi");
}

TEST(Policy, UnknownArchIsNotAnswered) {
  EXPECT_EQ(run(RawPacket::pxe_discover(2)).decision.reason, DropReason::unsupported_arch);
  PolicyConfig no_bios = config();
  no_bios.bios.clear();
  EXPECT_EQ(run(RawPacket::pxe_discover(0), on67(), no_bios).decision.reason, DropReason::unsupported_arch);
}

TEST(Policy, HttpClientGetsBinaryUrlAndHttpClientVendorClass) {
  const auto [d, reply] = run(RawPacket::pxe_discover(16, "HTTPClient"));
  ASSERT_TRUE(d.answered()) << to_string(d.reason);
  EXPECT_EQ(d.kind, BootKind::http_binary);
  EXPECT_EQ(vendor_class(reply), "HTTPClient");
  EXPECT_EQ(bootfile_name(reply), "http://10.77.0.2:8080/assets/tftp/ipxe.efi");
  EXPECT_EQ(reply.file_text(), "http://10.77.0.2:8080/assets/tftp/ipxe.efi");
  EXPECT_FALSE(reply.options.has(opt::vendor_specific));
}

TEST(Policy, AdvertiseAddressIsUsedInUrlsButNotInServerIdentity) {
  PolicyConfig c = config();
  c.advertise = parse_ipv4("192.0.2.10");
  c.http_port = 80;
  const auto [d, reply] = run(RawPacket::pxe_discover(16, "HTTPClient"), on67(), c);
  EXPECT_EQ(bootfile_name(reply), "http://192.0.2.10:80/assets/tftp/ipxe.efi");
  EXPECT_EQ(server_identifier(reply), kLocal);
  EXPECT_EQ(reply.siaddr, kLocal);
}

TEST(Policy, IpxeUserClassGetsTheScriptUrl) {
  RawPacket raw;
  raw.opt(53, ByteVec{1}).opt(93, ByteVec{0, 0}).opt(60, "PXEClient:Arch:00000:UNDI:002001").opt(77, "iPXE").end();
  const auto [d, reply] = run(raw);
  ASSERT_TRUE(d.answered());
  EXPECT_EQ(d.kind, BootKind::ipxe_script);
  EXPECT_EQ(bootfile_name(reply), "http://10.77.0.2:8080/boot.ipxe");
  EXPECT_EQ(reply.file_text(), "http://10.77.0.2:8080/boot.ipxe");
  EXPECT_FALSE(reply.options.has(opt::client_uuid));  // none sent, none echoed
}

TEST(Policy, IpxeOnAnArchWithoutBinaryStillGetsTheScript) {
  RawPacket raw;
  raw.opt(53, ByteVec{1}).opt(93, ByteVec{0, 11}).opt(60, "PXEClient").opt(77, ByteVec{4, 'i', 'P', 'X', 'E'}).end();
  const auto [d, reply] = run(raw);
  ASSERT_TRUE(d.answered());
  EXPECT_EQ(d.kind, BootKind::ipxe_script);
}

TEST(Policy, QemuIpxeCaptureGetsTheScript) {
  RawPacket raw;
  raw.b = testing::read_file("tests/unit/dhcp/fixtures/qemu_ipxe_discover.bin");
  const auto [d, reply] = run(raw);
  ASSERT_TRUE(d.answered());
  EXPECT_EQ(d.kind, BootKind::ipxe_script);
  EXPECT_EQ(reply.xid, 0x315aa661u);
  EXPECT_EQ(str(*client_uuid(reply)), std::string(17, '\0'));
}

TEST(Policy, RequestOnPxePortGetsAck) {
  RawPacket raw = RawPacket::pxe_discover(7);
  raw.b[242] = 3;  // option 53 value: REQUEST
  raw.put32(12, 0x0a4d0064);  // ciaddr 10.77.0.100
  const Receipt receipt{kLocal, true, Ipv4{0x0a4d0064}, 68};
  const auto [d, reply] = run(raw, receipt);
  ASSERT_TRUE(d.answered()) << to_string(d.reason);
  EXPECT_EQ(d.reply_type, MessageType::ack);
  EXPECT_EQ(message_type(reply), MessageType::ack);
  EXPECT_EQ(reply.ciaddr.value, 0x0a4d0064u);
  EXPECT_EQ(reply.file_text(), "ipxe.efi");
  const Destination dst = reply_destination(parse_raw(raw), receipt);
  EXPECT_EQ(dst.address.value, 0x0a4d0064u);
  EXPECT_EQ(dst.port, 68);
  EXPECT_FALSE(dst.broadcast);
}

TEST(Policy, RequestOnPort67OnlyWhenItNamesUs) {
  RawPacket other = RawPacket::pxe_discover(7);
  other.b[242] = 3;
  other.b.pop_back();
  other.opt(54, ByteVec{10, 77, 0, 1}).end();
  EXPECT_EQ(run(other).decision.reason, DropReason::request_for_other_server);
  RawPacket none = RawPacket::pxe_discover(7);
  none.b[242] = 3;
  EXPECT_EQ(run(none).decision.reason, DropReason::request_for_other_server);
  RawPacket ours = RawPacket::pxe_discover(7);
  ours.b[242] = 3;
  ours.b.pop_back();
  ours.opt(54, ByteVec{10, 77, 0, 2}).end();
  EXPECT_EQ(run(ours).decision.reply_type, MessageType::ack);
}

TEST(Policy, DiscoverOnPxePortIsDropped) {
  const Receipt receipt{kLocal, true, Ipv4{}, 68};
  EXPECT_EQ(run(RawPacket::pxe_discover(7), receipt).decision.reason, DropReason::discover_on_pxe_port);
}

TEST(Policy, DropReasons) {
  EXPECT_EQ(run(RawPacket(2).opt(53, ByteVec{1}).end()).decision.reason, DropReason::not_boot_request);
  EXPECT_EQ(run(RawPacket().opt(60, "PXEClient").end()).decision.reason, DropReason::no_message_type);
  EXPECT_EQ(run(RawPacket().opt(53, ByteVec{7}).opt(60, "PXEClient").opt(93, ByteVec{0, 0}).end()).decision.reason,
            DropReason::not_discover_or_request);
  // A plain DISCOVER belongs to the site's DHCP server.
  EXPECT_EQ(run(RawPacket().opt(53, ByteVec{1}).end()).decision.reason, DropReason::not_pxe_client);
  EXPECT_EQ(run(RawPacket().opt(53, ByteVec{1}).opt(60, "MSFT 5.0").opt(93, ByteVec{0, 0}).end()).decision.reason,
            DropReason::not_pxe_client);
  EXPECT_EQ(run(RawPacket().opt(53, ByteVec{1}).opt(60, "PXEClient").end()).decision.reason, DropReason::no_client_arch);
  EXPECT_EQ(run(RawPacket().opt(53, ByteVec{1}).opt(60, "PXEClient").opt(93, ByteVec{0}).end()).decision.reason,
            DropReason::no_client_arch);
  EXPECT_EQ(run(RawPacket().opt(53, ByteVec{1}).opt(60, "PXEClient").opt(93, ByteVec{0, 0}).opt(97, ByteVec(17, 1)).end())
                .decision.reason,
            DropReason::bad_client_uuid);
  EXPECT_EQ(run(RawPacket().opt(53, ByteVec{1}).opt(60, "PXEClient").opt(93, ByteVec{0, 0}).opt(97, ByteVec(16, 0)).end())
                .decision.reason,
            DropReason::bad_client_uuid);
  // 97 absent is fine (some NICs omit it).
  EXPECT_TRUE(run(RawPacket().opt(53, ByteVec{1}).opt(60, "PXEClient").opt(93, ByteVec{0, 0}).end()).decision.answered());
}

TEST(Destination, RelayThenCiaddrThenBroadcast) {
  RawPacket relayed = RawPacket::pxe_discover(0);
  relayed.put32(24, 0x0a4d0003);
  relayed.put32(12, 0x0a4d0064);
  Destination d = reply_destination(parse_raw(relayed), on67());
  EXPECT_EQ(d.address.value, 0x0a4d0003u);
  EXPECT_EQ(d.port, 67);
  EXPECT_FALSE(d.broadcast);
  const auto [decision, reply] = run(relayed);
  EXPECT_EQ(reply.giaddr.value, 0x0a4d0003u);  // kept so the relay can forward it

  RawPacket renewing = RawPacket::pxe_discover(0);
  renewing.put32(12, 0x0a4d0064);
  d = reply_destination(parse_raw(renewing), on67());
  EXPECT_EQ(d.address.value, 0x0a4d0064u);
  EXPECT_EQ(d.port, 68);

  d = reply_destination(parse_raw(RawPacket::pxe_discover(0)), on67());
  EXPECT_TRUE(d.broadcast);
  EXPECT_EQ(d.address.value, 0xffffffffu);
  EXPECT_EQ(d.port, 68);

  // 4011 from a client that has no address yet: broadcast.
  d = reply_destination(parse_raw(RawPacket::pxe_discover(0)), Receipt{kLocal, true, Ipv4{}, 68});
  EXPECT_TRUE(d.broadcast);
  // 4011 from 10.77.0.100:4011 goes back there.
  d = reply_destination(parse_raw(RawPacket::pxe_discover(0)), Receipt{kLocal, true, Ipv4{0x0a4d0064}, 4011});
  EXPECT_EQ(d.address.value, 0x0a4d0064u);
  EXPECT_EQ(d.port, 4011);
}

TEST(Policy, LongUrlGoesInOption67Only) {
  PolicyConfig c = config();
  c.efi_x86_64 = std::string(120, 'x') + ".efi";
  const auto [d, reply] = run(RawPacket::pxe_discover(16, "HTTPClient"), on67(), c);
  ASSERT_TRUE(d.answered());
  EXPECT_EQ(reply.file_text(), "");
  EXPECT_EQ(bootfile_name(reply)->size(), std::string("http://10.77.0.2:8080/assets/tftp/").size() + 124);
}

TEST(PolicyConfig, FromConfig) {
  Config c;
  c.boot.binaries.efi_arm64 = "snp.efi";
  c.http.listen = "0.0.0.0:8081";
  std::string error;
  auto pc = policy_config_from(c, &error);
  ASSERT_TRUE(pc) << error;
  EXPECT_EQ(pc->bios, "undionly.kpxe");
  EXPECT_EQ(pc->efi_arm64, "snp.efi");
  EXPECT_EQ(pc->http_port, 8081);
  EXPECT_FALSE(pc->advertise);
  c.advertise_address = "10.0.0.300";
  EXPECT_FALSE(policy_config_from(c, &error));
  EXPECT_NE(error.find("advertise_address"), std::string::npos);
  c.advertise_address = "10.0.0.3";
  EXPECT_EQ(policy_config_from(c, &error)->advertise->to_string(), "10.0.0.3");
}

}  // namespace
}  // namespace ironboot::dhcp
