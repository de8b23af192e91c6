// proxyDHCP policy: which requests get boot information, and what it is. Pure: a parsed
// request, where it arrived and the configuration in; a reply (or the reason for none) out.
// We never hand out addresses: the site's DHCP server does that on the same segment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/net.hpp"
#include "dhcp/message.hpp"

namespace ironboot {
struct Config;
}

namespace ironboot::dhcp {

enum class DropReason : std::uint8_t {
  none = 0,
  malformed,                  // the codec rejected it
  too_many_options,           // more option instances than dhcp.max_option_instances
  not_boot_request,           // op != BOOTREQUEST
  no_message_type,            // plain BOOTP or option 53 malformed
  not_discover_or_request,    // other DHCP message types belong to the site server
  not_pxe_client,             // option 60 absent or not PXEClient/HTTPClient
  no_client_arch,             // option 93 absent or malformed
  bad_client_uuid,            // option 97 present but not 17 bytes starting with 0
  discover_on_pxe_port,       // 4011 is for DHCPREQUEST only
  request_for_other_server,   // DHCPREQUEST on 67 selecting another server
  unsupported_arch,           // no boot binary configured for the client's architecture
  // Decided by the server before the policy runs:
  oversize,                   // datagram larger than the receive buffer
  no_local_address,           // the receiving interface has no IPv4 address to offer
  count_,
};
const char* to_string(DropReason r);
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::count_);

// The parts of the configuration the policy reads.
struct PolicyConfig {
  std::string bios;        // boot.binaries.*, relative to tftp.root; "" = not offered
  std::string efi_x86_64;
  std::string efi_arm64;
  std::optional<Ipv4> advertise;  // advertise_address; unset = the receiving interface's address
  std::uint16_t http_port = 8080;
};
// Throws nothing; returns an error text for advertise_address / http.listen it cannot use.
std::optional<PolicyConfig> policy_config_from(const Config& config, std::string* error);

// Where and how a request arrived.
struct Receipt {
  Ipv4 local_address;      // our address on the receiving interface (IP_PKTINFO)
  bool on_pxe_port = false;  // arrived on dhcp.pxe_port (4011) rather than dhcp.port (67)
  Ipv4 source_address;     // UDP source of the request
  std::uint16_t source_port = 68;
};

enum class BootKind : std::uint8_t { none, tftp_file, http_binary, ipxe_script };
const char* to_string(BootKind k);

struct Decision {
  DropReason reason = DropReason::none;
  MessageType reply_type = MessageType::offer;
  std::uint16_t arch = 0;
  BootKind kind = BootKind::none;
  bool answered() const { return reason == DropReason::none; }
};

// The boot binary (relative to tftp.root) for a client architecture (RFC 4578 / IANA), or
// "" when none is configured. HTTP-boot types map to the binary of their CPU family.
std::string_view binary_for_arch(const PolicyConfig& config, std::uint16_t arch);

// HTTP paths of what we hand out; the HTTP server serves tftp.root under /assets/tftp/.
std::string ipxe_script_url(Ipv4 host, std::uint16_t port);
std::string binary_url(Ipv4 host, std::uint16_t port, std::string_view file);

// Decides whether to answer `request`; when it does, fills `reply` (reused, cleared first).
Decision answer(const Message& request, const Receipt& receipt, const PolicyConfig& config, Message& reply);

// Where the reply goes (RFC 2131 §4.1, PXE 2.1): relay → giaddr:67; a 4011 request → back to
// its source; ciaddr → ciaddr:68; else broadcast 255.255.255.255:68 on the receiving interface.
struct Destination {
  Ipv4 address;
  std::uint16_t port = 68;
  bool broadcast = false;
};
Destination reply_destination(const Message& request, const Receipt& receipt);

}  // namespace ironboot::dhcp
