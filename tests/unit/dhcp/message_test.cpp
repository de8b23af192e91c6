#include "dhcp/message.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>

#include "raw_packet.hpp"

namespace ironboot::dhcp {
namespace {

using testing::ByteVec;
using testing::RawPacket;

Message parse_ok(const ByteVec& bytes) {
  ParseError e = ParseError::ok;
  auto m = parse(bytes, &e);
  EXPECT_EQ(e, ParseError::ok) << to_string(e);
  return m ? *m : Message{};
}

ParseError parse_err(const ByteVec& bytes) {
  Message m;
  return parse(bytes, m);
}

ByteVec vec(Bytes b) { return ByteVec(b.begin(), b.end()); }

// ---- fixed fields and PXE options, one fixture per architecture --------------------------

struct ArchCase {
  std::uint16_t arch;
  const char* vendor;
};

class ArchFixture : public ::testing::TestWithParam<ArchCase> {};

TEST_P(ArchFixture, ParsesEveryFieldOfAFirmwareDiscover) {
  const auto [arch, vendor] = GetParam();
  RawPacket raw = RawPacket::pxe_discover(arch, vendor);
  raw.b[8] = 0x00;
  raw.b[9] = 0x04;   // secs 4
  raw.b[10] = 0x80;  // broadcast flag
  const Message m = parse_ok(raw.b);
  EXPECT_EQ(m.op, kBootRequest);
  EXPECT_EQ(m.htype, 1);
  EXPECT_EQ(m.hlen, 6);
  EXPECT_EQ(m.hops, 0);
  EXPECT_EQ(m.xid, 0x11223344u);
  EXPECT_EQ(m.secs, 4);
  EXPECT_EQ(m.flags, kBroadcastFlag);
  EXPECT_EQ(m.ciaddr.value, 0u);
  EXPECT_EQ(m.giaddr.value, 0u);
  EXPECT_EQ(m.mac(), "52:54:00:ab:cd:ef");
  EXPECT_EQ(m.sname_text(), "");
  EXPECT_EQ(m.file_text(), "");
  EXPECT_EQ(message_type(m), MessageType::discover);
  ASSERT_TRUE(client_architectures(m));
  EXPECT_EQ(client_architectures(m)->count, 1u);
  EXPECT_EQ(client_architectures(m)->first(), arch);
  EXPECT_EQ(client_ndi(m), (ClientNdi{1, 3, 16}));
  char expected_vendor[64];
  std::snprintf(expected_vendor, sizeof expected_vendor, "%s:Arch:%05u:UNDI:003016", vendor, arch);
  EXPECT_EQ(vendor_class(m), expected_vendor);
  ASSERT_TRUE(client_uuid(m));
  EXPECT_TRUE(client_uuid_well_formed(*client_uuid(m)));
  EXPECT_EQ((*client_uuid(m))[1], 0x4c);
  EXPECT_EQ(m.options.size(), 5u);
  EXPECT_EQ(user_classes(m).count, 0u);
}

INSTANTIATE_TEST_SUITE_P(Arches, ArchFixture,
                         ::testing::Values(ArchCase{0, "PXEClient"}, ArchCase{6, "PXEClient"}, ArchCase{7, "PXEClient"},
                                           ArchCase{9, "PXEClient"}, ArchCase{11, "PXEClient"},
                                           ArchCase{16, "HTTPClient"}, ArchCase{19, "HTTPClient"}),
                         [](const auto& info) { return "arch" + std::to_string(info.param.arch); });

TEST(Message, ParsesAddressesAndNames) {
  RawPacket raw(2, 0xdeadbeef);
  raw.put32(12, 0x0a000001);
  raw.put32(16, 0x0a000002);
  raw.put32(20, 0x0a000003);
  raw.put32(24, 0x0a000004);
  const std::string sname = "boot-server";
  const std::string file = "undionly.kpxe";
  std::copy(sname.begin(), sname.end(), raw.b.begin() + 44);
  std::copy(file.begin(), file.end(), raw.b.begin() + 108);
  raw.opt(53, ByteVec{2}).opt(54, ByteVec{10, 0, 0, 3}).end();
  const Message m = parse_ok(raw.b);
  EXPECT_EQ(m.op, kBootReply);
  EXPECT_EQ(m.xid, 0xdeadbeefu);
  EXPECT_EQ(m.ciaddr.to_string(), "10.0.0.1");
  EXPECT_EQ(m.yiaddr.to_string(), "10.0.0.2");
  EXPECT_EQ(m.siaddr.to_string(), "10.0.0.3");
  EXPECT_EQ(m.giaddr.to_string(), "10.0.0.4");
  EXPECT_EQ(m.sname_text(), "boot-server");
  EXPECT_EQ(m.file_text(), "undionly.kpxe");
  EXPECT_EQ(message_type(m), MessageType::offer);
  EXPECT_EQ(server_identifier(m)->to_string(), "10.0.0.3");
}

// ---- the DISCOVER of QEMU's iPXE ROM (efi-virtio.rom, SeaBIOS), captured with tcpdump ------

const char* kQemuCapture = "tests/unit/dhcp/fixtures/qemu_ipxe_discover.bin";

TEST(QemuIpxeCapture, EveryField) {
  const ByteVec bytes = testing::read_file(kQemuCapture);
  ASSERT_EQ(bytes.size(), 400u);
  const Message m = parse_ok(bytes);
  EXPECT_EQ(m.op, kBootRequest);
  EXPECT_EQ(m.htype, 1);
  EXPECT_EQ(m.hlen, 6);
  EXPECT_EQ(m.hops, 0);
  EXPECT_EQ(m.xid, 0x315aa661u);
  EXPECT_EQ(m.secs, 4);
  EXPECT_EQ(m.flags, 0);
  EXPECT_EQ(m.ciaddr.value, 0u);
  EXPECT_EQ(m.yiaddr.value, 0u);
  EXPECT_EQ(m.siaddr.value, 0u);
  EXPECT_EQ(m.giaddr.value, 0u);
  EXPECT_EQ(m.mac(), "52:54:00:12:34:56");
  EXPECT_EQ(m.sname_text(), "");
  EXPECT_EQ(m.file_text(), "");
  EXPECT_EQ(m.overloaded, 0);

  const std::uint8_t codes[] = {53, 57, 93, 94, 60, 77, 55, 175, 61, 97};
  ASSERT_EQ(m.options.size(), std::size(codes));
  for (std::size_t i = 0; i < std::size(codes); ++i) EXPECT_EQ(m.options.codes()[i], codes[i]);

  EXPECT_EQ(message_type(m), MessageType::discover);
  EXPECT_EQ(vec(*m.options.get(opt::max_message_size)), (ByteVec{0x05, 0xc0}));  // 1472
  EXPECT_EQ(client_architectures(m)->first(), 0);
  EXPECT_EQ(client_ndi(m), (ClientNdi{1, 2, 1}));
  EXPECT_EQ(vendor_class(m), "PXEClient:Arch:00000:UNDI:002001");
  // iPXE sends a bare "iPXE", not an RFC 3004 list.
  const UserClasses uc = user_classes(m);
  ASSERT_EQ(uc.count, 1u);
  EXPECT_EQ(uc.items[0], "iPXE");
  EXPECT_TRUE(uc.contains("iPXE"));
  const ByteVec prl = vec(*m.options.get(opt::parameter_request_list));
  EXPECT_EQ(prl.size(), 23u);
  EXPECT_EQ(prl.front(), 1);
  EXPECT_EQ(prl.back(), 203);
  EXPECT_EQ(m.options.get(opt::ipxe_encap)->size(), 48u);
  EXPECT_TRUE(ipxe_has_feature(m, ipxe_feature::http));
  EXPECT_TRUE(ipxe_has_feature(m, ipxe_feature::tftp));
  EXPECT_FALSE(ipxe_has_feature(m, ipxe_feature::https));
  EXPECT_FALSE(ipxe_has_feature(m, ipxe_feature::efi));  // a BIOS build
  EXPECT_EQ(vec(*m.options.get(opt::client_identifier)), (ByteVec{1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56}));
  ASSERT_TRUE(client_uuid(m));
  EXPECT_EQ(vec(*client_uuid(m)), ByteVec(17, 0));
  EXPECT_TRUE(client_uuid_well_formed(*client_uuid(m)));
}

TEST(QemuIpxeCapture, SerializesBackToTheSameBytes) {
  const ByteVec bytes = testing::read_file(kQemuCapture);
  const Message m = parse_ok(bytes);
  EXPECT_EQ(serialize(m), bytes);
}

// ---- round trips -----------------------------------------------------------------------

TEST(Message, RoundTripOfABuiltReply) {
  Message m;
  m.op = kBootReply;
  m.xid = 42;
  m.flags = kBroadcastFlag;
  m.siaddr = Ipv4{0x0a4d0002};
  m.chaddr = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(m.set_file("undionly.kpxe"));
  ASSERT_TRUE(m.set_sname("10.77.0.2"));
  set_message_type(m, MessageType::offer);
  set_server_identifier(m, Ipv4{0x0a4d0002});
  m.options.set(opt::vendor_class, std::string_view("PXEClient"));
  const std::uint8_t control = pxe::kUseBootFile;
  const SubOption subs[] = {{pxe::discovery_control, Bytes(&control, 1)}};
  ASSERT_TRUE(set_suboptions(m, opt::vendor_specific, subs));
  const std::string_view classes[] = {"iPXE", "ironboot"};
  ASSERT_TRUE(set_user_classes(m, classes));
  const std::uint16_t arches[] = {7, 16};
  set_client_architectures(m, arches);
  set_client_ndi(m, {1, 3, 16});

  const ByteVec wire = serialize(m);
  EXPECT_EQ(wire.size(), kMinBootpSize);
  EXPECT_EQ(wire[0], 2);
  EXPECT_EQ(wire[10], 0x80);
  EXPECT_EQ(ByteVec(wire.begin() + 236, wire.begin() + 240), (ByteVec{0x63, 0x82, 0x53, 0x63}));
  // Options in the order set, then end.
  EXPECT_EQ(ByteVec(wire.begin() + 240, wire.begin() + 249), (ByteVec{53, 1, 2, 54, 4, 10, 77, 0, 2}));

  const Message back = parse_ok(wire);
  EXPECT_EQ(back.xid, 42u);
  EXPECT_EQ(back.flags, kBroadcastFlag);
  EXPECT_EQ(back.siaddr, m.siaddr);
  EXPECT_EQ(back.chaddr, m.chaddr);
  EXPECT_EQ(back.file_text(), "undionly.kpxe");
  EXPECT_EQ(back.sname_text(), "10.77.0.2");
  EXPECT_EQ(back.options, m.options);
  EXPECT_EQ(pxe_discovery_control(back), 8);
  EXPECT_EQ(vec(*back.options.get(opt::vendor_specific)), (ByteVec{6, 1, 8, 255}));
  EXPECT_EQ(vec(*back.options.get(opt::user_class)), (ByteVec{4, 'i', 'P', 'X', 'E', 8, 'i', 'r', 'o', 'n', 'b', 'o', 'o', 't'}));
  const UserClasses uc = user_classes(back);
  ASSERT_EQ(uc.count, 2u);
  EXPECT_EQ(uc.items[0], "iPXE");
  EXPECT_EQ(uc.items[1], "ironboot");
  ASSERT_EQ(client_architectures(back)->count, 2u);
  EXPECT_EQ(client_architectures(back)->types[1], 16);
  EXPECT_EQ(serialize(back), wire);
}

TEST(Message, SerializeIntoTooSmallBufferWritesNothing) {
  Message m;
  std::array<std::uint8_t, 299> small{};
  EXPECT_EQ(serialize(m, small), 0u);
  std::array<std::uint8_t, 300> enough{};
  EXPECT_EQ(serialize(m, enough), 300u);
  EXPECT_EQ(enough[240], 255);
}

// ---- long options (RFC 3396) and overload (option 52) ----------------------------------

TEST(LongOptions, InstancesAreConcatenatedInOrder) {
  RawPacket raw;
  raw.opt(53, ByteVec{1}).opt(43, ByteVec{6, 1}).opt(60, "PXE").opt(43, ByteVec{8, 255}).opt(60, "Client").end();
  const Message m = parse_ok(raw.b);
  EXPECT_EQ(vec(*m.options.get(43)), (ByteVec{6, 1, 8, 255}));
  EXPECT_EQ(vendor_class(m), "PXEClient");
  EXPECT_EQ(pxe_discovery_control(m), 8);
  EXPECT_EQ(m.options.size(), 3u);
}

TEST(LongOptions, ValuesOver255BytesAreSplitAndJoined) {
  Message m;
  ByteVec big(600);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i);
  m.options.set(43, big);
  const ByteVec wire = serialize(m);
  EXPECT_EQ(wire[240], 43);
  EXPECT_EQ(wire[241], 255);
  EXPECT_EQ(wire[240 + 257], 43);
  EXPECT_EQ(wire[240 + 258], 255);
  EXPECT_EQ(wire[240 + 514], 43);
  EXPECT_EQ(wire[240 + 515], 90);
  EXPECT_EQ(wire.size(), 240u + 600 + 6 + 1);
  EXPECT_EQ(vec(*parse_ok(wire).options.get(43)), big);
}

// Interleaved one-byte instances of two options: the cap on instances stops the parser
// before the packet can make it move the growing values again and again.
TEST(LongOptions, InstancesBeyondTheLimitAreRefused) {
  RawPacket raw;
  raw.opt(53, ByteVec{1});
  for (int i = 0; i < 300; ++i) raw.opt(i % 2 == 0 ? 43 : 60, ByteVec{static_cast<std::uint8_t>(i)});
  raw.end();
  Message m;
  EXPECT_EQ(parse(raw.b, m), ParseError::too_many_options);
  EXPECT_STREQ(to_string(ParseError::too_many_options), "too_many_options");
  EXPECT_EQ(parse(raw.b, m, ParseLimits{301}), ParseError::ok);  // 301 instances: exactly the cap
  EXPECT_EQ(m.options.get(43)->size(), 150u);
  EXPECT_EQ(parse(raw.b, m, ParseLimits{300}), ParseError::too_many_options);
}

TEST(Overload, OptionsInFileThenSnameAreRead) {
  RawPacket raw;
  // file: 67 "a.efi" + end; sname: 66 "10.0.0.9" + end
  const ByteVec file_opts = {67, 5, 'a', '.', 'e', 'f', 'i', 60, 3, 'X', 'Y', 'Z', 255};
  const ByteVec sname_opts = {66, 8, '1', '0', '.', '0', '.', '0', '.', '9', 60, 1, '!', 255};
  std::copy(file_opts.begin(), file_opts.end(), raw.b.begin() + 108);
  std::copy(sname_opts.begin(), sname_opts.end(), raw.b.begin() + 44);
  raw.opt(53, ByteVec{2}).opt(52, ByteVec{3}).opt(60, "PXE").end();
  const Message m = parse_ok(raw.b);
  EXPECT_EQ(m.overloaded, 3);
  EXPECT_FALSE(m.options.has(opt::overload));
  EXPECT_EQ(bootfile_name(m), "a.efi");
  EXPECT_EQ(tftp_server_name(m), "10.0.0.9");
  EXPECT_EQ(vendor_class(m), "PXEXYZ!");  // options, then file, then sname
  EXPECT_EQ(m.file_text(), "");
  EXPECT_EQ(m.sname_text(), "");
}

TEST(Overload, FileOnlyLeavesSnameAsText) {
  RawPacket raw;
  const ByteVec file_opts = {67, 3, 'x', '.', 'y', 255};
  std::copy(file_opts.begin(), file_opts.end(), raw.b.begin() + 108);
  raw.b[44] = 's';
  raw.opt(52, ByteVec{1}).end();
  const Message m = parse_ok(raw.b);
  EXPECT_EQ(m.overloaded, 1);
  EXPECT_EQ(bootfile_name(m), "x.y");
  EXPECT_EQ(m.sname_text(), "s");
}

TEST(Overload, BadValuesAreRejected) {
  EXPECT_EQ(parse_err(RawPacket().opt(52, ByteVec{4}).end().b), ParseError::bad_overload);
  EXPECT_EQ(parse_err(RawPacket().opt(52, ByteVec{0}).end().b), ParseError::bad_overload);
  EXPECT_EQ(parse_err(RawPacket().opt(52, ByteVec{1, 1}).end().b), ParseError::bad_overload);
  RawPacket truncated_in_file;
  truncated_in_file.b[108 + 126] = 67;  // code at 126, length at 127 says 9: runs past file
  truncated_in_file.b[108 + 127] = 9;
  truncated_in_file.opt(52, ByteVec{1}).end();
  EXPECT_EQ(parse_err(truncated_in_file.b), ParseError::truncated_option);
}

// ---- truncated and over-long input -----------------------------------------------------

TEST(Malformed, TooShortAndBadHeader) {
  EXPECT_EQ(parse_err({}), ParseError::too_short);
  EXPECT_EQ(parse_err(ByteVec(239, 0)), ParseError::too_short);
  RawPacket bad_cookie;
  bad_cookie.b[239] = 0x64;
  EXPECT_EQ(parse_err(bad_cookie.b), ParseError::bad_magic_cookie);
  RawPacket bad_hlen;
  bad_hlen.b[2] = 17;
  EXPECT_EQ(parse_err(bad_hlen.b), ParseError::bad_hlen);
  RawPacket max_hlen;
  max_hlen.b[2] = 16;
  EXPECT_EQ(parse_err(max_hlen.b), ParseError::ok);
}

TEST(Malformed, OptionLengthPastTheEnd) {
  EXPECT_EQ(parse_err(RawPacket().raw({53, 1, 1, 60, 10, 'P', 'X'}).b), ParseError::truncated_option);
  EXPECT_EQ(parse_err(RawPacket().raw({53, 1, 1, 60}).b), ParseError::truncated_option);
  EXPECT_EQ(parse_err(RawPacket().raw({43, 255}).raw(ByteVec(254, 1)).b), ParseError::truncated_option);
  EXPECT_EQ(parse_err(RawPacket().raw({43, 255}).raw(ByteVec(255, 1)).b), ParseError::ok);
}

TEST(Malformed, EveryPrefixOfAValidPacketIsHandled) {
  const ByteVec full = testing::read_file(kQemuCapture);
  ASSERT_FALSE(full.empty());
  for (std::size_t n = 0; n < full.size(); ++n) {
    const ByteVec prefix(full.begin(), full.begin() + n);
    const ParseError e = parse_err(prefix);
    if (n < kOptionsOffset) {
      EXPECT_EQ(e, ParseError::too_short) << n;
    } else {
      EXPECT_TRUE(e == ParseError::ok || e == ParseError::truncated_option) << n;
    }
  }
}

TEST(Malformed, MissingEndOptionIsTolerated) {
  const Message m = parse_ok(RawPacket().opt(53, ByteVec{1}).b);
  EXPECT_EQ(message_type(m), MessageType::discover);
}

TEST(TypedAccessors, RejectWrongLengths) {
  const Message m = parse_ok(RawPacket()
                                 .opt(53, ByteVec{1, 1})
                                 .opt(54, ByteVec{1, 2, 3})
                                 .opt(93, ByteVec{0, 7, 0})
                                 .opt(94, ByteVec{1, 2})
                                 .opt(97, ByteVec(16, 0))
                                 .end()
                                 .b);
  EXPECT_FALSE(message_type(m));
  EXPECT_FALSE(server_identifier(m));
  EXPECT_FALSE(client_architectures(m));
  EXPECT_FALSE(client_ndi(m));
  ASSERT_TRUE(client_uuid(m));
  EXPECT_FALSE(client_uuid_well_formed(*client_uuid(m)));
  ByteVec uuid_type1(17, 0);
  uuid_type1[0] = 1;
  EXPECT_FALSE(client_uuid_well_formed(uuid_type1));
  EXPECT_FALSE(message_type(parse_ok(RawPacket().opt(53, ByteVec{9}).end().b)));
  EXPECT_FALSE(client_architectures(parse_ok(RawPacket().opt(93, ByteVec{}).end().b)));
}

TEST(UserClass, Rfc3004AndBareForms) {
  std::deque<Message> keep;  // user_classes() views into its message
  const auto classes = [&](const ByteVec& v) {
    keep.push_back(parse_ok(RawPacket().opt(77, v).end().b));
    return user_classes(keep.back());
  };
  auto uc = classes({4, 'i', 'P', 'X', 'E', 2, 'a', 'b'});
  ASSERT_EQ(uc.count, 2u);
  EXPECT_EQ(uc.items[0], "iPXE");
  EXPECT_EQ(uc.items[1], "ab");
  uc = classes({'i', 'P', 'X', 'E'});
  ASSERT_EQ(uc.count, 1u);
  EXPECT_EQ(uc.items[0], "iPXE");
  uc = classes({4, 'i', 'P', 'X', 'E', 0});  // zero-length instance: not RFC 3004
  ASSERT_EQ(uc.count, 1u);
  EXPECT_EQ(uc.items[0], std::string_view("\x04iPXE"));  // bare, trailing NUL dropped
  uc = classes({'i', 'P', 'X', 'E', 0});  // NUL-terminated bare string
  EXPECT_TRUE(uc.contains("iPXE"));
  Message m;
  const std::string_view empty[] = {""};
  EXPECT_FALSE(set_user_classes(m, empty));
  const std::string too_long(256, 'x');
  const std::string_view big[] = {too_long};
  EXPECT_FALSE(set_user_classes(m, big));
}

TEST(SubOptions, PxeBootItemAndMalformedLists) {
  const Message m = parse_ok(RawPacket().opt(43, ByteVec{0, 71, 4, 0x80, 0x00, 0x00, 0x00, 6, 1, 3, 255}).end().b);
  ASSERT_TRUE(pxe_boot_item(m));
  EXPECT_EQ(pxe_boot_item(m)->type, 0x8000);
  EXPECT_EQ(pxe_boot_item(m)->layer, 0);
  EXPECT_EQ(pxe_discovery_control(m), 3);
  int seen = 0;
  const ByteVec broken = {6, 1, 8, 9, 5, 1};
  EXPECT_FALSE(for_each_suboption(broken, [&](std::uint8_t, Bytes) { ++seen; }));
  EXPECT_EQ(seen, 1);
  const ByteVec dangling = {6};
  EXPECT_FALSE(for_each_suboption(dangling, [](std::uint8_t, Bytes) {}));
}

// ---- the Options map --------------------------------------------------------------------

TEST(Options, SetReplaceEraseAppend) {
  Options o;
  EXPECT_FALSE(o.set(0, std::string_view("x")));
  EXPECT_FALSE(o.set(52, std::string_view("x")));
  EXPECT_FALSE(o.append(255, std::string_view("x")));
  EXPECT_TRUE(o.set(60, std::string_view("PXE")));
  EXPECT_TRUE(o.set(66, std::string_view("a")));
  EXPECT_TRUE(o.append(60, std::string_view("Client")));  // not last: moved, then extended
  EXPECT_EQ(o.get_string(60), "PXEClient");
  EXPECT_EQ(o.get_string(66), "a");
  EXPECT_TRUE(o.set(60, std::string_view("HTTPClient")));
  EXPECT_EQ(o.get_string(60), "HTTPClient");
  EXPECT_EQ(o.codes()[0], 60);
  // A value taken from the map itself survives reallocation.
  EXPECT_TRUE(o.set(67, *o.get(60)));
  EXPECT_EQ(o.get_string(67), "HTTPClient");
  o.erase(60);
  EXPECT_FALSE(o.has(60));
  ASSERT_EQ(o.size(), 2u);
  EXPECT_EQ(o.codes()[0], 66);
  EXPECT_EQ(o.codes()[1], 67);
  Options p;
  p.set(67, std::string_view("HTTPClient"));
  p.set(66, std::string_view("a"));
  EXPECT_EQ(o, p);  // order does not matter for equality
  p.set(66, std::string_view("b"));
  EXPECT_FALSE(o == p);
  o.clear();
  EXPECT_EQ(o.size(), 0u);
  EXPECT_FALSE(o.has(66));
  EXPECT_TRUE(o.set(1, Bytes{}));
  EXPECT_EQ(o.get(1)->size(), 0u);
}

TEST(Options, GrowsPastItsInitialBufferKeepingEveryValue) {
  Options o;
  const std::string a(300, 'a'), b(300, 'b'), c(700, 'c');
  EXPECT_TRUE(o.set(60, std::string_view(a)));
  EXPECT_TRUE(o.set(66, std::string_view(b)));   // past the first 512 bytes: grows
  EXPECT_TRUE(o.append(60, std::string_view(c)));  // not last: moved to the end while growing
  EXPECT_EQ(o.get_string(60), a + c);
  EXPECT_EQ(o.get_string(66), b);
  EXPECT_TRUE(o.set(67, *o.get(60)));  // a value of the map itself, copied while growing
  EXPECT_EQ(o.get_string(67), a + c);
  o.clear();
  EXPECT_TRUE(o.set(60, std::string_view("PXEClient")));  // the grown buffer is reused
  EXPECT_EQ(o.get_string(60), "PXEClient");
  EXPECT_EQ(o.size(), 1u);
}

TEST(Options, ZeroLengthOptionRoundTrips) {
  Message m;
  m.options.set(80, Bytes{});  // rapid commit has no value
  const Message back = parse_ok(serialize(m));
  ASSERT_TRUE(back.options.has(80));
  EXPECT_EQ(back.options.get(80)->size(), 0u);
}

TEST(Message, SnameAndFileLimits) {
  Message m;
  EXPECT_TRUE(m.set_file(std::string(127, 'f')));
  EXPECT_FALSE(m.set_file(std::string(128, 'f')));
  EXPECT_EQ(m.file_text().size(), 127u);
  EXPECT_TRUE(m.set_sname(std::string(63, 's')));
  EXPECT_FALSE(m.set_sname(std::string(64, 's')));
}

// ---- the fuzz corpus runs here too ------------------------------------------------------

TEST(FuzzCorpus, EveryFileParsesWithoutCrashAndRoundTrips) {
  const std::filesystem::path dir = "tests/fuzz/corpus/dhcp_message";
  ASSERT_TRUE(std::filesystem::is_directory(dir));
  std::size_t files = 0, valid = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const ByteVec bytes = testing::read_file(entry.path().string());
    ++files;
    Message m;
    if (parse(bytes, m) != ParseError::ok) continue;
    ++valid;
    // What parses must serialise to something that parses to the same message.
    const Message again = parse_ok(serialize(m));
    EXPECT_EQ(again.options, m.options) << entry.path();
    EXPECT_EQ(again.xid, m.xid) << entry.path();
  }
  EXPECT_GE(files, 10u);
  EXPECT_GE(valid, 5u);
}

}  // namespace
}  // namespace ironboot::dhcp
