#include "common/net.hpp"

#include <gtest/gtest.h>

namespace ironboot {
namespace {

TEST(Net, ParseIpv4) {
  ASSERT_TRUE(parse_ipv4("10.1.2.3"));
  EXPECT_EQ(parse_ipv4("10.1.2.3")->value, 0x0a010203u);
  EXPECT_EQ(parse_ipv4("255.255.255.255")->to_string(), "255.255.255.255");
  for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", "01.2.3.4", "a.b.c.d", "1..2.3"}) {
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
  }
}

TEST(Net, Ipv4ToString) {
  EXPECT_EQ(Ipv4{0}.to_string(), "0.0.0.0");
  EXPECT_EQ(Ipv4{0xffffffffu}.to_string(), "255.255.255.255");
  EXPECT_EQ(Ipv4{0x0a000001u}.to_string(), "10.0.0.1");
  EXPECT_EQ(Ipv4{0xc0a80a64u}.to_string(), "192.168.10.100");
  EXPECT_EQ(Ipv4{0x01020304u}.to_string(), "1.2.3.4");
  EXPECT_EQ(Ipv4{0x0a00ff00u}.to_string(), "10.0.255.0");
  // Every octet value round-trips, in every position.
  for (std::uint32_t octet = 0; octet <= 255; ++octet) {
    for (int shift = 0; shift <= 24; shift += 8) {
      const Ipv4 address{octet << shift};
      const auto parsed = parse_ipv4(address.to_string());
      ASSERT_TRUE(parsed) << address.to_string();
      EXPECT_EQ(*parsed, address) << address.to_string();
    }
  }
}

TEST(Net, ParseHostPort) {
  auto hp = parse_host_port("0.0.0.0:8080");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "0.0.0.0");
  EXPECT_EQ(hp->port, 8080);
  hp = parse_host_port("[::1]:6443");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  for (const char* bad : {"", "host", "host:", ":80", "h:0", "h:65536", "::1:80", "[::1]80", "h:8x"}) {
    EXPECT_FALSE(parse_host_port(bad)) << bad;
  }
}

TEST(Net, LoopbackFacts) {
  EXPECT_EQ(interface_ipv4("lo")->to_string(), "127.0.0.1");
  EXPECT_TRUE(interface_mtu("lo"));
  EXPECT_TRUE(interface_index("lo"));
  EXPECT_FALSE(interface_ipv4("no-such-if0"));
}

TEST(Net, FormatMac) {
  const std::uint8_t mac[] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0x0f};
  EXPECT_EQ(format_mac(mac, 6), "52:54:00:ab:cd:0f");
}

}  // namespace
}  // namespace ironboot
