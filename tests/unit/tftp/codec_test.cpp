#include "tftp/codec.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/text.hpp"

namespace ironboot::tftp {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
// A literal's bytes including its final NUL, which terminates the last string.
template <std::size_t N>
std::vector<std::uint8_t> lit(const char (&s)[N]) { return {s, s + N}; }

TEST(TftpCodec, ParsesReadRequestWithOptions) {
  // As atftp sends it: RRQ "ipxe.efi" octet blksize 1428 windowsize 16 tsize 0.
  const auto raw = lit("\0\1ipxe.efi\0OCTET\0BLKSIZE\0" "1428\0windowsize\0" "16\0tsize\0" "0");
  const auto r = parse(raw);
  ASSERT_TRUE(r.ok());
  const auto& req = std::get<Request>(r.packet());
  EXPECT_FALSE(req.write);
  EXPECT_EQ(req.filename, "ipxe.efi");
  EXPECT_EQ(req.mode, "octet");  // lower-cased
  ASSERT_EQ(req.options.size(), 3u);
  EXPECT_EQ(req.options[0], Option("BLKSIZE", "1428"));
  EXPECT_EQ(req.options[2], Option("tsize", "0"));
}

TEST(TftpCodec, ParsesWriteRequestAndNetascii) {
  const auto r = parse(lit("\0\2up.txt\0NetAscii"));
  ASSERT_TRUE(r.ok());
  const auto& req = std::get<Request>(r.packet());
  EXPECT_TRUE(req.write);
  EXPECT_EQ(req.mode, "netascii");
  EXPECT_TRUE(req.options.empty());
}

TEST(TftpCodec, ParsesDataAckErrorOack) {
  auto d = parse(bytes(std::string("\0\3\xff\xfe" "abc", 7)));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(std::get<Data>(d.packet()).block, 0xfffe);
  EXPECT_EQ(std::get<Data>(d.packet()).payload.size(), 3u);

  auto a = parse(bytes(std::string("\0\4\1\2", 4)));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(std::get<Ack>(a.packet()).block, 0x0102);

  auto e = parse(bytes(std::string("\0\5\0\x08" "tsize probe\0", 16)));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<Error>(e.packet()).code, 8);
  EXPECT_EQ(std::get<Error>(e.packet()).message, "tsize probe");

  auto o = parse(bytes(std::string("\0\6tsize\0" "850528\0", 15)));
  ASSERT_TRUE(o.ok());
  EXPECT_THAT(std::get<OptionAck>(o.packet()).options, ::testing::ElementsAre(Option("tsize", "850528")));
}

TEST(TftpCodec, ErrorWithoutTerminatorKeepsMessage) {
  auto e = parse(bytes(std::string("\0\5\0\1nope", 8)));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(std::get<Error>(e.packet()).message, "nope");
}

TEST(TftpCodec, RejectsMalformedPackets) {
  auto err = [](std::string raw) { return parse(bytes(raw)).error(); };
  EXPECT_EQ(err(""), ParseError::too_short);
  EXPECT_EQ(err(std::string("\0", 1)), ParseError::too_short);
  EXPECT_EQ(err(std::string("\0\7xx", 4)), ParseError::unknown_opcode);
  EXPECT_EQ(err(std::string("\0\0", 2)), ParseError::unknown_opcode);
  EXPECT_EQ(err(std::string("\0\1file", 6)), ParseError::unterminated_string);
  EXPECT_EQ(err(std::string("\0\1\0octet\0", 9)), ParseError::empty_filename);
  EXPECT_EQ(err(std::string("\0\1f\0octet", 9)), ParseError::unterminated_string);
  EXPECT_EQ(err(std::string("\0\1f\0binary\0", 11)), ParseError::bad_mode);
  EXPECT_EQ(err(std::string("\0\1f\0octet\0blksize\0", 18)), ParseError::odd_option);
  EXPECT_EQ(err(std::string("\0\1f\0octet\0blksize\0" "512", 21)), ParseError::unterminated_string);
  EXPECT_EQ(err(std::string("\0\3\0", 3)), ParseError::too_short);
  EXPECT_EQ(err(std::string("\0\4\0", 3)), ParseError::too_short);
  EXPECT_EQ(err(std::string("\0\5\0", 3)), ParseError::too_short);
  EXPECT_EQ(err(std::string("\0\6a", 3)), ParseError::unterminated_string);
  // Longer than any sane path.
  EXPECT_EQ(err(std::string("\0\1", 2) + std::string(600, 'a') + std::string("\0octet\0", 7)),
            ParseError::unterminated_string);
}

TEST(TftpCodec, LimitsTheNumberOfOptions) {
  std::string raw("\0\1f\0octet\0", 10);
  for (std::size_t i = 0; i <= max_options; ++i) raw += std::string("o\0v\0", 4);
  EXPECT_EQ(parse(bytes(raw)).error(), ParseError::too_many_options);
}

TEST(TftpCodec, EncodersRoundTrip) {
  std::vector<std::uint8_t> out;
  Request r{false, "pxelinux.0", "octet", {{"blksize", "1468"}, {"tsize", "0"}}};
  encode_request(r, out);
  auto p = parse(out);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(std::get<Request>(p.packet()).options, r.options);

  out.clear();
  encode_oack({{"blksize", "1468"}}, out);
  EXPECT_EQ(out, bytes(std::string("\0\6blksize\0" "1468\0", 15)));

  std::array<std::uint8_t, 32> buf{};
  const auto n = write_oack(buf, {{"blksize", "1468"}});
  EXPECT_EQ(std::vector<std::uint8_t>(buf.begin(), buf.begin() + n), out);

  out.clear();
  encode_error(2, "access violation", out);
  const auto m = write_error(buf, 2, "access violation");
  EXPECT_EQ(std::vector<std::uint8_t>(buf.begin(), buf.begin() + m), out);
  EXPECT_EQ(write_error(std::span<std::uint8_t>(buf.data(), 8), 2, "access violation"), 0u);  // does not fit

  out.clear();
  encode_ack(65535, out);
  EXPECT_EQ(out, bytes(std::string("\0\4\xff\xff", 4)));
  out.clear();
  const std::array<std::uint8_t, 2> payload{7, 8};
  encode_data(1, payload, out);
  EXPECT_EQ(out, bytes(std::string("\0\3\0\1\7\x08", 6)));
}

TEST(TftpCodec, CaseInsensitiveNames) {
  EXPECT_TRUE(iequals("BlkSize", "blksize"));
  EXPECT_FALSE(iequals("blksize", "blksiz"));
  EXPECT_FALSE(iequals("blksize1", "blksize"));
}

}  // namespace
}  // namespace ironboot::tftp
