// Small network helpers shared by the protocol servers. No Asio here: plain POSIX.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot {

// IPv4 address in host byte order.
struct Ipv4 {
  std::uint32_t value = 0;
  friend bool operator==(Ipv4, Ipv4) = default;
  std::string to_string() const;
};

std::optional<Ipv4> parse_ipv4(std::string_view text);

struct HostPort {
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
};
// "1.2.3.4:80", "[::1]:80", "name:80". Port is required and non-zero.
std::optional<HostPort> parse_host_port(std::string_view text);
// A listen address: HOST:PORT as above, or ":PORT" (host "": the caller picks the address).
std::optional<HostPort> parse_listen(std::string_view text);

// Interface facts read from the kernel (getifaddrs / ioctl). nullopt when absent.
std::optional<Ipv4> interface_ipv4(const std::string& ifname);
std::optional<unsigned> interface_mtu(const std::string& ifname);
std::optional<unsigned> interface_index(const std::string& ifname);

// "aa:bb:cc:dd:ee:ff" for a 6-byte hardware address; hex with ':' for other lengths.
std::string format_mac(const std::uint8_t* bytes, std::size_t len);

}  // namespace ironboot
