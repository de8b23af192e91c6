#include "agent/bmc.hpp"

#include <gtest/gtest.h>

#include <map>

#include "agent/ipmi.hpp"

namespace ironboot::agent {
namespace {
using ipmi::Request;
using ipmi::Response;

// Request bytes written out from IPMI 2.0 (sections 22.24, 22.26-22.30, 23.2), not from the
// builders.
TEST(IpmiRequests, Bytes) {
  EXPECT_EQ(ipmi::get_channel_info(1), (Request{0x06, 0x42, {0x01}}));
  EXPECT_EQ(ipmi::get_lan_config(1, ipmi::LanParam::ip_address), (Request{0x0c, 0x02, {0x01, 3, 0, 0}}));
  EXPECT_EQ(ipmi::get_lan_config(2, ipmi::LanParam::gateway), (Request{0x0c, 0x02, {0x02, 12, 0, 0}}));
  EXPECT_EQ(ipmi::get_user_access(1, 1), (Request{0x06, 0x44, {0x01, 0x01}}));
  EXPECT_EQ(ipmi::get_user_name(3), (Request{0x06, 0x46, {0x03}}));
  EXPECT_EQ(ipmi::set_user_name(3, "ironboot"),
            (Request{0x06, 0x45, {0x03, 'i', 'r', 'o', 'n', 'b', 'o', 'o', 't', 0, 0, 0, 0, 0, 0, 0, 0}}));
  auto pw = ipmi::set_user_password(3, ipmi::PasswordOp::set_password, "0123456789abcdef");
  EXPECT_EQ(pw.cmd, 0x47);
  ASSERT_EQ(pw.data.size(), 18u);
  EXPECT_EQ(pw.data[0], 0x03);  // 16-byte form
  EXPECT_EQ(pw.data[1], 0x02);
  EXPECT_EQ(std::string(pw.data.begin() + 2, pw.data.end()), "0123456789abcdef");
  auto wide = ipmi::set_user_password(3, ipmi::PasswordOp::set_password, "0123456789abcdefghij");
  EXPECT_EQ(wide.data[0], 0x83);  // 20-byte form
  EXPECT_EQ(wide.data.size(), 22u);
  EXPECT_EQ(ipmi::set_user_password(3, ipmi::PasswordOp::enable_user), (Request{0x06, 0x47, {0x03, 0x01}}));
  // Change bits + link auth + IPMI messaging + channel 1; user 3; administrator.
  EXPECT_EQ(ipmi::set_user_access(1, 3, 4), (Request{0x06, 0x43, {0xb1, 0x03, 0x04}}));
}

TEST(IpmiResponses, Parse) {
  auto info = ipmi::parse_channel_info(Response{0, {0x01, 0x04, 0x01, 0x00, 0xf2, 0x1b, 0x00, 0x00, 0x00}});
  ASSERT_TRUE(info);
  EXPECT_EQ(info->channel, 1);
  EXPECT_EQ(info->medium, ipmi::kMedium8023Lan);
  EXPECT_FALSE(ipmi::parse_channel_info(Response{0xcc, {}}));
  EXPECT_EQ(ipmi::parse_ip_source(Response{0, {0x11, 0x01}}), "static");
  EXPECT_EQ(ipmi::parse_ip_source(Response{0, {0x11, 0x02}}), "dhcp");
  EXPECT_EQ(ipmi::parse_ip_source(Response{0, {0x11, 0x03}}), "bios");
  EXPECT_EQ(ipmi::parse_ip_source(Response{0, {0x11, 0x04}}), "other");
  EXPECT_EQ(ipmi::parse_ip_source(Response{0, {0x11, 0x00}}), "unspecified");
  EXPECT_FALSE(ipmi::parse_ip_source(Response{0, {0x11, 0x07}}));
  EXPECT_FALSE(ipmi::parse_ip_source(Response{0x80, {}}));  // parameter not supported
  EXPECT_EQ(ipmi::parse_ipv4(Response{0, {0x11, 10, 0, 0, 5}}), "10.0.0.5");
  EXPECT_FALSE(ipmi::parse_ipv4(Response{0, {0x11, 10, 0, 0}}));
  EXPECT_EQ(ipmi::parse_mac(Response{0, {0x11, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0x0c}}), "52:54:00:aa:bb:0c");
  auto access = ipmi::parse_user_access(Response{0, {0x0a, 0x02, 0x01, 0x34}});
  ASSERT_TRUE(access);
  EXPECT_EQ(access->max_users, 10);
  EXPECT_EQ(access->privilege, 4);
  std::vector<std::uint8_t> name(16, 0);
  name[0] = 'a';
  name[1] = 'd';
  EXPECT_EQ(ipmi::parse_user_name(Response{0, name}), "ad");
  EXPECT_EQ(ipmi::parse_user_name(Response{0, std::vector<std::uint8_t>(16, 0)}), "");
  EXPECT_FALSE(ipmi::parse_user_name(Response{0, {1, 2}}));
  EXPECT_EQ(ipmi::completion_text(0xc1), "0xc1 (invalid command)");
  EXPECT_EQ(ipmi::completion_text(0x42), "0x42");
}

// A BMC with LAN channel 1 (serial channel 2 before it is not LAN), LAN parameters, and a
// user table of 5 slots; answers what IPMI 2.0 says and records the user commands.
class FakeBmc final : public IpmiTransport {
 public:
  FakeBmc() { names[2] = "admin"; }
  std::optional<Response> call(const Request& q, std::string& error) override {
    if (silent) {
      error = "no answer from the BMC within 5 s";
      return std::nullopt;
    }
    log.push_back(q);
    auto u8 = [&](std::size_t i) { return i < q.data.size() ? q.data[i] : std::uint8_t{0}; };
    if (q.netfn == 0x06 && q.cmd == 0x42) {
      std::uint8_t ch = u8(0);
      if (ch == lan_channel) return Response{0, {ch, 0x04, 0x01, 0x80, 0xf2, 0x1b, 0, 0, 0}};
      if (ch <= 2) return Response{0, {ch, 0x05, 0x05, 0x80, 0xf2, 0x1b, 0, 0, 0}};  // serial/modem
      return Response{0xcc, {}};
    }
    if (q.netfn == 0x0c && q.cmd == 0x02) {
      if (u8(0) != lan_channel) return Response{0xcc, {}};
      switch (u8(1)) {
        case 3: return Response{0, {0x11, 10, 0, 0, 5}};
        case 4: return Response{0, {0x11, 0x02}};
        case 5: return Response{0, {0x11, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc}};
        case 6: return Response{0, {0x11, 255, 255, 255, 0}};
        case 12: return Response{0, {0x11, 10, 0, 0, 1}};
      }
      return Response{0x80, {}};
    }
    if (q.netfn == 0x06 && q.cmd == 0x44) return Response{0, {5, 1, 1, 0x0f}};
    if (q.netfn == 0x06 && q.cmd == 0x46) {
      std::vector<std::uint8_t> n(16, 0);
      auto& name = names[u8(0)];
      std::copy(name.begin(), name.end(), n.begin());
      return Response{0, n};
    }
    if (q.netfn == 0x06 && q.cmd == 0x45) {
      names[u8(0)] = std::string(q.data.begin() + 1, std::find(q.data.begin() + 1, q.data.end(), 0));
      return Response{0, {}};
    }
    if (q.netfn == 0x06 && q.cmd == 0x47) {
      if (u8(1) == 2) passwords[u8(0) & 0x3f] = std::string(q.data.begin() + 2, q.data.end());
      if (u8(1) == 1) enabled[u8(0) & 0x3f] = true;
      return Response{0, {}};
    }
    if (q.netfn == 0x06 && q.cmd == 0x43) {
      if (refuse_access) return Response{0xd4, {}};
      privilege[u8(1)] = u8(2);
      return Response{0, {}};
    }
    return Response{0xc1, {}};
  }
  std::uint8_t lan_channel = 1;
  bool silent = false, refuse_access = false;
  std::map<int, std::string> names, passwords;
  std::map<int, bool> enabled;
  std::map<int, int> privilege;
  std::vector<Request> log;
};

TEST(Bmc, ReadsTheLanChannelSettings) {
  FakeBmc bmc;
  bmc.lan_channel = 3;
  std::string error;
  auto lan = read_bmc_lan(bmc, error);
  ASSERT_TRUE(lan) << error;
  EXPECT_EQ(lan->channel, 3u);
  EXPECT_EQ(lan->ip_source, "dhcp");
  EXPECT_EQ(lan->address, "10.0.0.5");
  EXPECT_EQ(lan->netmask, "255.255.255.0");
  EXPECT_EQ(lan->gateway, "10.0.0.1");
  EXPECT_EQ(lan->mac, "52:54:00:aa:bb:cc");
  EXPECT_EQ(lan->port, 623u);
}

TEST(Bmc, NoLanChannelOrNoAnswerIsNoBmc) {
  FakeBmc bmc;
  bmc.lan_channel = 0;
  std::string error;
  EXPECT_FALSE(read_bmc_lan(bmc, error));
  EXPECT_EQ(error, "no 802.3 LAN channel");
  FakeBmc quiet;
  quiet.silent = true;
  EXPECT_FALSE(read_bmc_lan(quiet, error));
  EXPECT_EQ(error, "Get Channel Info: no answer from the BMC within 5 s");
  EXPECT_FALSE(open_ipmi_device("/nonexistent/ipmi0", error));
  EXPECT_NE(error.find("No such file"), std::string::npos);
}

TEST(Bmc, CreatesTheUserInTheFirstFreeSlot) {
  FakeBmc bmc;
  auto setup = setup_bmc_user(bmc, 1, "ironboot", "0123456789abcdef");
  ASSERT_EQ(setup.error, "");
  EXPECT_EQ(setup.user_id, 3u);  // 1 anonymous, 2 admin
  EXPECT_FALSE(setup.reused);
  EXPECT_EQ(bmc.names[3], "ironboot");
  EXPECT_EQ(bmc.passwords[3], "0123456789abcdef");
  EXPECT_EQ(bmc.privilege[3], 4);
  EXPECT_TRUE(bmc.enabled[3]);
  EXPECT_EQ(bmc.names[2], "admin");
  // Enabled last, after password and access.
  EXPECT_EQ(bmc.log.back(), ipmi::set_user_password(3, ipmi::PasswordOp::enable_user));
}

TEST(Bmc, ReusesTheUserItMadeBefore) {
  FakeBmc bmc;
  bmc.names[4] = "ironboot";
  auto setup = setup_bmc_user(bmc, 1, "ironboot", "fedcba9876543210");
  ASSERT_EQ(setup.error, "");
  EXPECT_EQ(setup.user_id, 4u);
  EXPECT_TRUE(setup.reused);
  EXPECT_EQ(bmc.names[3], "");  // the free slot stays free
  EXPECT_EQ(bmc.passwords[4], "fedcba9876543210");
  for (const auto& q : bmc.log) EXPECT_NE(q.cmd, 0x45) << "no Set User Name when reusing";
}

TEST(Bmc, FullTableAndRefusalsAreErrors) {
  FakeBmc full;
  for (int i = 2; i <= 5; ++i) full.names[i] = "u" + std::to_string(i);
  EXPECT_EQ(setup_bmc_user(full, 1, "ironboot", "0123456789abcdef").error, "no free user slot among 5");
  FakeBmc refusing;
  refusing.refuse_access = true;
  auto setup = setup_bmc_user(refusing, 1, "ironboot", "0123456789abcdef");
  EXPECT_EQ(setup.error, "Set User Access: 0xd4 (insufficient privilege)");
  EXPECT_FALSE(refusing.enabled[3]);  // never enabled without its access set
}

TEST(Bmc, PasswordsAreUnbiasedLettersAndDigits) {
  std::vector<std::uint8_t> bytes;
  for (int i = 0; i < 64; ++i) bytes.push_back(static_cast<std::uint8_t>(i * 4 + 3));
  auto pw = password_from_random(bytes, 16);
  ASSERT_EQ(pw.size(), 16u);
  EXPECT_EQ(pw.substr(0, 4), "DHLP");  // 3, 7, 11, 15
  // Bytes >= 248 are skipped, not folded onto the first letters.
  std::vector<std::uint8_t> high(20, 250);
  high.push_back(0);
  EXPECT_EQ(password_from_random(high, 1), "A");
  EXPECT_EQ(password_from_random(std::vector<std::uint8_t>(10, 255), 1), "");
  auto real = random_bmc_password();
  ASSERT_EQ(real.size(), 16u);
  for (char c : real) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
  EXPECT_NE(real, random_bmc_password());
}

}  // namespace
}  // namespace ironboot::agent
