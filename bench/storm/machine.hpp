// One simulated machine's boot, phase by phase: PXE DHCP (+ the 4011 REQUEST), TFTP of the
// iPXE binary, iPXE's DHCP, /boot.ipxe, /ipxe, kernel, initrd, and against ironboot the agent:
// register, long-poll and, for accepted machines, the wipe exchange.
#pragma once

#include "clients.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ironboot::storm {

enum class Phase {
  dhcp,        // DISCOVER -> proxy OFFER on 67
  pxe_request, // REQUEST -> ACK on 4011 (UEFI machines, and BIOS ones offered a menu)
  tftp,        // the iPXE binary
  dhcp_ipxe,   // iPXE's DISCOVER (user class iPXE) -> OFFER naming /boot.ipxe
  boot_ipxe,
  ipxe,        // /ipxe?uuid=&mac=&arch=
  kernel,
  initrd,
  reg,         // POST /agent/v1/register
  poll,        // GET /agent/v1/instructions (not accepted: the wait answer)
  accept,      // PATCH spec.accepted=true through the embedded API
  wipe_order,  // the pending long-poll's answer after the accept: wipe
  wiped,       // POST /agent/v1/wiped -> the next instruction
  count_
};
const char* phase_name(Phase p);

struct StormSettings {
  net::ip::address_v4 server;        // DHCP, TFTP, HTTP
  std::uint16_t dhcp_server_port = 67, dhcp_client_port = 68, pxe_port = 4011, tftp_port = 69;
  std::uint16_t http_port = 8080;
  bool agent = true;                 // false: the peer (no agent API), stop after the initrd
  bool pxe = true;                   // false: no DHCP, TFTP or iPXE DHCP, straight to /boot.ipxe
  bool ipxe_dhcp = true;             // iPXE's own DHCP round (the peer cannot answer it)
  std::string boot_ipxe_url_path = "/boot.ipxe";  // used when ipxe_dhcp is off
  net::ip::address_v4 first_address; // machine i uses first_address + i
  std::uint32_t seed = 1;            // machine identities differ per round
  double uefi_share = 0.5, window_share = 0.5, accept_share = 0.2;
  unsigned blksize = 1468, windowsize = 8;
  unsigned poll_seconds = 1;         // not accepted: the long-poll's wait
  Retry dhcp_retry{Millis(1000), 4};
  Millis tftp_timeout{1000};
  unsigned tftp_attempts = 6;
  Millis http_timeout{30000};
  // The embedded API, for the accepts.
  tcp::endpoint api;
  std::string api_token;
};

struct MachineResult {
  std::string uuid, mac, server;     // server: the Server's name from the register answer
  bool uefi = false, accepted = false;
  std::vector<std::pair<Phase, double>> phases;  // milliseconds
  std::string failed_phase, error;   // "" when the boot completed
  double total_ms = 0;
  std::uint64_t tftp_bytes = 0, http_bytes = 0;
  // The kernel and initrd downloads: from the kernel's request to the initrd's last byte.
  std::chrono::steady_clock::time_point download_start, download_end;
  std::uint64_t download_bytes = 0;
  unsigned dhcp_resends = 0, tftp_resends = 0;
  unsigned accept_not_found = 0;     // accepts answered 404 (the Server not written yet)
};

struct StormContext {
  net::io_context& io;
  DhcpHub& hub;
  net::ssl::context& api_tls;
  const StormSettings& settings;
};

net::awaitable<MachineResult> boot_machine(StormContext& ctx, std::uint32_t index);

}  // namespace ironboot::storm
