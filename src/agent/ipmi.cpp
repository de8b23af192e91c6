#include "agent/ipmi.hpp"

#include <algorithm>
#include <cstdio>

namespace ironboot::agent::ipmi {
namespace {

std::vector<std::uint8_t> fixed(std::string_view text, std::size_t n) {
  std::vector<std::uint8_t> out(n, 0);
  std::copy_n(text.begin(), std::min(text.size(), n), out.begin());
  return out;
}

// LAN parameter answers: revision byte, then the value.
std::optional<std::vector<std::uint8_t>> lan_value(const Response& r, std::size_t n) {
  if (r.completion != 0 || r.data.size() < 1 + n) return std::nullopt;
  return std::vector<std::uint8_t>(r.data.begin() + 1, r.data.begin() + 1 + static_cast<std::ptrdiff_t>(n));
}

}  // namespace

Request get_channel_info(std::uint8_t channel) { return {kNetFnApp, 0x42, {static_cast<std::uint8_t>(channel & 0x0f)}}; }

Request get_lan_config(std::uint8_t channel, LanParam param) {
  // Byte 1 bit 7 = 0: get the value (not only the revision); set selector 0, block 0.
  return {kNetFnTransport, 0x02, {static_cast<std::uint8_t>(channel & 0x0f), static_cast<std::uint8_t>(param), 0, 0}};
}

Request get_user_access(std::uint8_t channel, std::uint8_t user) {
  return {kNetFnApp, 0x44, {static_cast<std::uint8_t>(channel & 0x0f), static_cast<std::uint8_t>(user & 0x3f)}};
}

Request get_user_name(std::uint8_t user) { return {kNetFnApp, 0x46, {static_cast<std::uint8_t>(user & 0x3f)}}; }

Request set_user_name(std::uint8_t user, std::string_view name) {
  Request r{kNetFnApp, 0x45, {static_cast<std::uint8_t>(user & 0x3f)}};
  auto bytes = fixed(name, 16);
  r.data.insert(r.data.end(), bytes.begin(), bytes.end());
  return r;
}

Request set_user_password(std::uint8_t user, PasswordOp op, std::string_view password) {
  const bool wide = password.size() > 16;
  Request r{kNetFnApp, 0x47,
            {static_cast<std::uint8_t>((user & 0x3f) | (wide ? 0x80 : 0)), static_cast<std::uint8_t>(op)}};
  if (op == PasswordOp::set_password || op == PasswordOp::test_password) {
    auto bytes = fixed(password, wide ? 20 : 16);
    r.data.insert(r.data.end(), bytes.begin(), bytes.end());
  }
  return r;
}

Request set_user_access(std::uint8_t channel, std::uint8_t user, std::uint8_t privilege) {
  // Byte 1: bit 7 change the bits below, bit 6 callback-only off, bit 5 link authentication
  // on, bit 4 IPMI messaging on, bits 3:0 channel. Byte 3: privilege limit.
  return {kNetFnApp, 0x43,
          {static_cast<std::uint8_t>(0x80 | 0x20 | 0x10 | (channel & 0x0f)), static_cast<std::uint8_t>(user & 0x3f),
           static_cast<std::uint8_t>(privilege & 0x0f)}};
}

std::optional<ChannelInfo> parse_channel_info(const Response& r) {
  if (r.completion != 0 || r.data.size() < 3) return std::nullopt;
  return ChannelInfo{static_cast<std::uint8_t>(r.data[0] & 0x0f), static_cast<std::uint8_t>(r.data[1] & 0x7f),
                     static_cast<std::uint8_t>(r.data[2] & 0x1f)};
}

std::optional<std::string> parse_ip_source(const Response& r) {
  auto v = lan_value(r, 1);
  if (!v) return std::nullopt;
  switch ((*v)[0] & 0x0f) {
    case 0: return "unspecified";
    case 1: return "static";
    case 2: return "dhcp";
    case 3: return "bios";
    case 4: return "other";
    default: return std::nullopt;
  }
}

std::optional<std::string> parse_ipv4(const Response& r) {
  auto v = lan_value(r, 4);
  if (!v) return std::nullopt;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (*v)[0], (*v)[1], (*v)[2], (*v)[3]);
  return buf;
}

std::optional<std::string> parse_mac(const Response& r) {
  auto v = lan_value(r, 6);
  if (!v) return std::nullopt;
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", (*v)[0], (*v)[1], (*v)[2], (*v)[3], (*v)[4], (*v)[5]);
  return buf;
}

std::optional<UserAccess> parse_user_access(const Response& r) {
  if (r.completion != 0 || r.data.size() < 4) return std::nullopt;
  return UserAccess{static_cast<std::uint8_t>(r.data[0] & 0x3f), static_cast<std::uint8_t>(r.data[1] & 0x3f),
                    static_cast<std::uint8_t>(r.data[2] & 0x3f), static_cast<std::uint8_t>(r.data[3] & 0x0f)};
}

std::optional<std::string> parse_user_name(const Response& r) {
  if (r.completion != 0 || r.data.size() < 16) return std::nullopt;
  std::string name(r.data.begin(), r.data.begin() + 16);
  name.erase(std::find(name.begin(), name.end(), '\0'), name.end());
  return name;
}

std::string completion_text(std::uint8_t code) {
  static constexpr std::pair<std::uint8_t, const char*> names[] = {
      {0x00, "ok"}, {0xc0, "node busy"}, {0xc1, "invalid command"}, {0xc3, "timeout"},
      {0xc7, "request data length invalid"}, {0xc9, "parameter out of range"}, {0xcc, "invalid data field"},
      {0xd4, "insufficient privilege"}, {0xd5, "not supported in present state"}, {0xff, "unspecified error"}};
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", code);
  for (auto [c, name] : names)
    if (c == code) return std::string(buf) + " (" + name + ")";
  return buf;
}

}  // namespace ironboot::agent::ipmi
