#include "common/net.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <cstring>

namespace ironboot {

// Written into a fixed buffer: at most 15 characters, which std::string keeps inline (no
// heap allocation), so the DHCP answer path can call it per packet.
std::string Ipv4::to_string() const {
  std::array<char, 15> chars;  // "255.255.255.255"
  char* p = chars.data();
  char* const end = p + chars.size();
  for (int shift = 24; shift >= 0; shift -= 8) {
    p = std::to_chars(p, end, (value >> shift) & 0xffu).ptr;
    if (shift) *p++ = '.';
  }
  return std::string(chars.data(), p);
}

std::optional<Ipv4> parse_ipv4(std::string_view text) {
  std::uint32_t result = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 4; ++i) {
    if (p == end || *p < '0' || *p > '9') return std::nullopt;
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc() || octet > 255 || next - p > 3) return std::nullopt;
    if (next - p > 1 && *p == '0') return std::nullopt;  // no octal-looking octets
    result = (result << 8) | octet;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return Ipv4{result};
}

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return std::nullopt;
    hp.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    if (hp.host.find(':') != std::string::npos) return std::nullopt;  // IPv6 needs brackets
    port_text = text.substr(colon + 1);
  }
  if (hp.host.empty() || port_text.empty()) return std::nullopt;
  unsigned port = 0;
  auto [next, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || next != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  hp.port = static_cast<std::uint16_t>(port);
  return hp;
}

std::optional<HostPort> parse_listen(std::string_view text) {
  if (text.size() > 1 && text.front() == ':') {
    auto hp = parse_host_port("0" + std::string(text));
    if (hp) hp->host.clear();
    return hp;
  }
  return parse_host_port(text);
}

std::optional<Ipv4> interface_ipv4(const std::string& ifname) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<Ipv4> found;
  for (ifaddrs* it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET || ifname != it->ifa_name) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
    found = Ipv4{ntohl(sin->sin_addr.s_addr)};
    break;
  }
  freeifaddrs(list);
  return found;
}

std::optional<unsigned> interface_mtu(const std::string& ifname) {
  if (ifname.size() >= IFNAMSIZ) return std::nullopt;
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  ifreq req{};
  std::memcpy(req.ifr_name, ifname.c_str(), ifname.size());
  const int rc = ::ioctl(fd, SIOCGIFMTU, &req);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  return static_cast<unsigned>(req.ifr_mtu);
}

std::optional<unsigned> interface_index(const std::string& ifname) {
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) return std::nullopt;
  return idx;
}

std::string format_mac(const std::uint8_t* bytes, std::size_t len) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 3);
  for (std::size_t i = 0; i < len; ++i) {
    if (i) out.push_back(':');
    out.push_back(hex[bytes[i] >> 4]);
    out.push_back(hex[bytes[i] & 0xf]);
  }
  return out;
}

}  // namespace ironboot
