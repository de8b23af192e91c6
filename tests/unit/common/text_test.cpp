#include "common/base64.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "common/version.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ironboot {
namespace {

TEST(Text, Iequals) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("octet", "octets"));
  EXPECT_FALSE(iequals("[", "{"));  // 0x5b and 0x7b differ by the case bit but are not letters
  static_assert(iequals("BLKSIZE", "blksize"));
}

TEST(Text, Trim) {
  EXPECT_EQ(trim("  a b \t\r\n"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("x"), "x");
  using namespace std::literals;
  const std::string with_nul = "Samsung\n\0"s;
  EXPECT_EQ(trim(with_nul, " \t\r\n\0"sv), "Samsung");
  EXPECT_EQ(trim(with_nul), with_nul.substr(0, 9)) << "NUL is not white space by default";
}

TEST(Text, BearerToken) {
  EXPECT_EQ(bearer_token("Bearer abc.def"), "abc.def");
  EXPECT_EQ(bearer_token("bearer  abc "), "abc");
  EXPECT_EQ(bearer_token("BEARER x"), "x");
  EXPECT_FALSE(bearer_token("Bearer "));
  EXPECT_FALSE(bearer_token("Bearer    "));
  EXPECT_FALSE(bearer_token("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(bearer_token("Bearerabc"));
  EXPECT_FALSE(bearer_token(""));
}

TEST(Text, GoParseBool) {
  for (const char* yes : {"1", "t", "T", "TRUE", "true", "True"}) EXPECT_EQ(parse_go_bool(yes), true) << yes;
  for (const char* no : {"0", "f", "F", "FALSE", "false", "False"}) EXPECT_EQ(parse_go_bool(no), false) << no;
  for (const char* bad : {"", "yes", "tRUE", "2", " true", "true "}) EXPECT_EQ(parse_go_bool(bad), std::nullopt) << bad;
  EXPECT_EQ(ascii_lowercase("AbC-09:Z"), "abc-09:z");
}

TEST(Base64, StandardRoundTripAndVectors) {
  // RFC 4648 §10
  const std::pair<const char*, const char*> vectors[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, coded] : vectors) {
    EXPECT_EQ(base64_encode(plain), coded);
    EXPECT_EQ(base64_decode(coded), std::string(plain));
  }
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(Base64, StandardDecodeIsStrict) {
  for (const char* bad : {"Zg", "Zg=", "Zg===", "Z===", "Zm9v\n", " Zm9v", "Zm9v Zm9v", "Zh==", "Zm8-", "Zm8_",
                          "Z=g=", "=Zg="}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

TEST(Base64, UrlRoundTripAndStrictness) {
  const std::string bytes = "\xfb\xff\xfe";
  EXPECT_EQ(base64url_encode(bytes), "-__-");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_decode("Zg"), std::string("f"));
  EXPECT_EQ(base64url_decode("-__-"), bytes);
  EXPECT_EQ(base64url_decode(""), std::string());
  for (const char* bad : {"Zg==", "+//+", "Z", "Zh", "Zm9vY", "a b"}) EXPECT_FALSE(base64url_decode(bad)) << bad;
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(255 - i);
  for (std::size_t n = 0; n < all.size(); n += 7) EXPECT_EQ(base64url_decode(base64url_encode(all.substr(0, n))), all.substr(0, n));
}

TEST(Time, FormatAndParseRfc3339) {
  using namespace std::chrono;
  const auto t = sys_days{year{2026} / 12 / 1} + hours{21} + minutes{3} + seconds{54} + microseconds{123456};
  EXPECT_EQ(format_rfc3339(t), "2026-12-01T21:03:54Z");
  EXPECT_EQ(format_rfc3339_micros(t), "2026-12-01T21:03:54.123456Z");
  EXPECT_EQ(parse_rfc3339("2026-12-01T21:03:54.123456Z"), t);
  EXPECT_EQ(parse_rfc3339("2026-12-01T21:03:54Z"), floor<seconds>(t));
  EXPECT_EQ(parse_rfc3339("2026-12-01T22:03:54+01:00"), floor<seconds>(t));
  // Beyond what system_clock's 64-bit nanoseconds hold (2262): refused, not overflowed
  // (a fuzzed Event's lastTimestamp found it).
  EXPECT_EQ(parse_rfc3339("9999-12-31T23:59:59Z"), std::nullopt);
  EXPECT_EQ(parse_rfc3339("0001-01-01T00:00:00Z"), std::nullopt);
  EXPECT_TRUE(parse_rfc3339("2200-01-01T00:00:00Z").has_value());
  EXPECT_EQ(parse_rfc3339("2026-12-01T20:33:54-00:30"), floor<seconds>(t));
  EXPECT_EQ(parse_rfc3339("2026-12-01T21:03:54.1Z"), floor<seconds>(t) + milliseconds{100});
  for (const char* bad : {"", "2026-12-01", "2026-12-01T21:03:54", "2026-12-01T21:03:54ZZ", "2026-13-01T00:00:00Z",
                          "2026-12-01T21:03:54.Z", "2026-12-01T21:03:54+0100", "20x6-12-01T21:03:54Z",
                          "2026-12-01 21:03:54Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(Version, ComesFromMeson) { EXPECT_STREQ(kVersion, IRONBOOT_MESON_VERSION); }

// Unless relabeled (image/relabel-deb rewrites the stamp in a linked binary), the stamp is
// meson's version.
TEST(Version, StampIsTheMesonVersion) { EXPECT_EQ(version(), IRONBOOT_MESON_VERSION); }

}  // namespace
}  // namespace ironboot
