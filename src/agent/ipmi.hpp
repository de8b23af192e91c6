// IPMI 2.0 requests the agent sends to its own BMC through the system interface, and
// parsers for their answers. Pure: bytes in, bytes out (IPMI 2.0 rev 1.1, sections 22
// (channel, user commands) and 23 (LAN configuration)).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::agent::ipmi {

constexpr std::uint8_t kNetFnApp = 0x06;
constexpr std::uint8_t kNetFnTransport = 0x0c;
constexpr std::uint8_t kMedium8023Lan = 0x04;
constexpr std::uint8_t kPrivilegeAdministrator = 0x04;

struct Request {
  std::uint8_t netfn = 0, cmd = 0;
  std::vector<std::uint8_t> data;
  bool operator==(const Request&) const = default;
};

struct Response {
  std::uint8_t completion = 0xff;  // 0x00 = normal
  std::vector<std::uint8_t> data;  // after the completion code
};

// LAN configuration parameters read in-band.
enum class LanParam : std::uint8_t { ip_address = 3, ip_source = 4, mac_address = 5, netmask = 6, gateway = 12 };

Request get_channel_info(std::uint8_t channel);                       // App 42h
Request get_lan_config(std::uint8_t channel, LanParam param);         // Transport 02h
Request get_user_access(std::uint8_t channel, std::uint8_t user);     // App 44h
Request get_user_name(std::uint8_t user);                             // App 46h
Request set_user_name(std::uint8_t user, std::string_view name);      // App 45h, 16 bytes
enum class PasswordOp : std::uint8_t { disable_user = 0, enable_user = 1, set_password = 2, test_password = 3 };
// App 47h; passwords of up to 16 bytes use the 16-byte form, longer ones (<= 20) the 20-byte.
Request set_user_password(std::uint8_t user, PasswordOp op, std::string_view password = {});
// App 43h: privilege limit on the channel, with IPMI messaging and link authentication on.
Request set_user_access(std::uint8_t channel, std::uint8_t user, std::uint8_t privilege);

struct ChannelInfo {
  std::uint8_t channel = 0, medium = 0, protocol = 0;
};
std::optional<ChannelInfo> parse_channel_info(const Response& r);

// "static" | "dhcp" | "bios" | "other" | "unspecified"; nullopt when malformed.
std::optional<std::string> parse_ip_source(const Response& r);
// Parameters 3, 6, 12: "10.0.0.5".
std::optional<std::string> parse_ipv4(const Response& r);
// Parameter 5: "52:54:00:aa:bb:cc".
std::optional<std::string> parse_mac(const Response& r);

struct UserAccess {
  std::uint8_t max_users = 0, enabled_users = 0, fixed_names = 0;
  std::uint8_t privilege = 0;  // 0x0f = no access
};
std::optional<UserAccess> parse_user_access(const Response& r);
// The name in a slot ("" = unused), trailing NULs dropped.
std::optional<std::string> parse_user_name(const Response& r);

// "0xc1 (invalid command)" for the console.
std::string completion_text(std::uint8_t code);

}  // namespace ironboot::agent::ipmi
