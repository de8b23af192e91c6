#include "ipxe/boot_query.hpp"

#include <gtest/gtest.h>

namespace ironboot {
namespace {

const char* kGood = "uuid=4C4C4544-0033-4410-8047-B4C04F4D4D31&mac=52-54-00-AB-cd-01&arch=x86_64&platform=pcbios"
                    "&serial=SN%20123&manufacturer=Dell%20Inc.&product=PowerEdge%20R640";

TEST(BootQuery, ParsesAndCanonicalises) {
  auto r = parse_boot_query(kGood);
  ASSERT_TRUE(r.query) << r.error;
  EXPECT_EQ(r.query->uuid, "4c4c4544-0033-4410-8047-b4c04f4d4d31");
  EXPECT_EQ(r.query->mac, "52:54:00:ab:cd:01");
  EXPECT_EQ(r.query->arch, "x86_64");
  EXPECT_EQ(r.query->platform, "pcbios");
  EXPECT_EQ(r.query->serial, "SN 123");
  EXPECT_EQ(r.query->manufacturer, "Dell Inc.");
  EXPECT_EQ(r.query->product, "PowerEdge R640");
}

TEST(BootQuery, OptionalFieldsMayBeEmptyOrAbsent) {
  auto r = parse_boot_query("uuid=00000000-0000-0000-0000-000000000001&mac=52:54:00:00:00:01&arch=arm64&platform=&serial=");
  ASSERT_TRUE(r.query) << r.error;
  EXPECT_EQ(r.query->platform, "");
  EXPECT_EQ(r.query->serial, "");
}

TEST(BootQuery, UnknownKeysAreIgnored) {
  auto r = parse_boot_query("x=%0a%0d&uuid=00000000-0000-0000-0000-000000000001&mac=52:54:00:00:00:01&arch=i386");
  EXPECT_TRUE(r.query) << r.error;
}

struct Bad {
  const char* query;
  const char* error;
};

TEST(BootQuery, RefusesInvalidInput) {
  const std::string ok_mac = "&mac=52:54:00:00:00:01&arch=x86_64";
  const std::string ok_uuid = "uuid=00000000-0000-0000-0000-000000000001";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "missing uuid"},
      {"uuid=" + ok_mac, "missing uuid"},
      {"uuid=0000000-00000-0000-0000-000000000001" + ok_mac, "invalid uuid"},
      {"uuid=00000000-0000-0000-0000-00000000000g" + ok_mac, "invalid uuid"},
      {"uuid=%7B00000000-0000-0000-0000-000000000001%7D" + ok_mac, "invalid uuid"},
      {"uuid=${uuid}" + ok_mac, "malformed query"},
      {"uuid=%24%7Buuid%7D" + ok_mac, "invalid uuid"},
      {ok_uuid + "&arch=x86_64", "missing mac"},
      {ok_uuid + "&mac=52:54:00:00:00&arch=x86_64", "invalid mac"},
      {ok_uuid + "&mac=52-54:00:00:00:01&arch=x86_64", "invalid mac"},
      {ok_uuid + "&mac=52:54:00:00:00:01%0a&arch=x86_64", "invalid mac"},
      {ok_uuid + "&mac=52:54:00:00:00:01", "missing arch"},
      {ok_uuid + "&mac=52:54:00:00:00:01&arch=x86_64%0Aimgfetch", "invalid arch"},
      {ok_uuid + "&mac=52:54:00:00:00:01&arch=sparc", "invalid arch"},
      {ok_uuid + ok_mac + "&platform=efi%20x", "invalid platform"},
      {ok_uuid + ok_mac + "&serial=a%0Ashell", "invalid smbios value"},
      {ok_uuid + ok_mac + "&product=" + std::string(200, 'x'), "invalid smbios value"},
      {ok_uuid + ok_mac + "&uuid=00000000-0000-0000-0000-000000000002", "duplicate key uuid"},
      {ok_uuid + ok_mac + "&serial=%zz", "malformed query"},
      {std::string(3000, 'a'), "query too long"},
  };
  for (const auto& [q, err] : cases) {
    auto r = parse_boot_query(q);
    EXPECT_FALSE(r.query) << q;
    EXPECT_EQ(r.error, err) << q;
  }
}

TEST(BootQuery, CanonicalForms) {
  EXPECT_EQ(canonical_mac("AA-BB-CC-DD-EE-FF"), "aa:bb:cc:dd:ee:ff");
  EXPECT_FALSE(canonical_mac("aabbccddeeff"));
  EXPECT_FALSE(canonical_uuid("00000000000000000000000000000001"));
}

}  // namespace
}  // namespace ironboot
