// ironboot-storm: N machines booting at once against a proxyDHCP/TFTP/HTTP server (ironboot,
// or dnsmasq + nginx with --peer), from one process on one event loop. Prints one JSON
// report on stdout: per-phase latencies, failures by phase and reason, wall time, bytes.
// The machines' addresses (first-address + i) must exist on the local interface.
#include "machine.hpp"

#include "common/tls_client.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/json.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

namespace storm = ironboot::storm;
namespace net = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

json::object summary(std::vector<double> values) {
  return json::object{{"count", values.size()},
                      {"p50_ms", percentile(values, 0.50)},
                      {"p95_ms", percentile(values, 0.95)},
                      {"p99_ms", percentile(values, 0.99)},
                      {"max_ms", values.empty() ? 0.0 : *std::max_element(values.begin(), values.end())}};
}

json::object download_report(std::uint64_t bytes, Clock::time_point first, Clock::time_point last,
                             std::vector<double> per_machine_ms) {
  const double window_s = first < last ? std::chrono::duration<double>(last - first).count() : 0.0;
  return json::object{{"bytes", bytes},
                      {"window_s", window_s},
                      {"mb_per_s", window_s > 0 ? static_cast<double>(bytes) / 1e6 / window_s : 0.0},
                      {"machine_time", summary(std::move(per_machine_ms))}};
}

// A thousand machines hold a few thousand sockets at once.
void raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

net::awaitable<void> boot_one(storm::StormContext& ctx, std::uint32_t index, storm::Millis delay,
                              storm::MachineResult& out, std::size_t& remaining) {
  net::steady_timer start(ctx.io, delay);
  auto [ec] = co_await start.async_wait(net::as_tuple(net::use_awaitable));
  (void)ec;
  out = co_await storm::boot_machine(ctx, index);
  if (--remaining == 0) ctx.hub.stop();
}

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  in >> token;
  return token;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ironboot-storm: a boot storm of N simulated machines"};
  storm::StormSettings s;
  std::string server = "", first = "", api = "", api_token_file, api_ca;
  std::uint32_t machines = 20;
  unsigned ramp_ms = 1000;
  bool peer = false, list_machines = false;
  std::string interface = "eth0";
  app.add_option("--interface", interface, "the machines' interface (broadcasts go out of it)")->capture_default_str();
  app.add_option("--server", server, "the server's address (DHCP, TFTP, HTTP)")->required();
  app.add_option("--first-address", first, "machine i uses this address + i")->required();
  app.add_option("--machines", machines, "machines in the storm")->capture_default_str();
  app.add_option("--seed", s.seed, "machine identities (UUID, MAC) of this round")->capture_default_str();
  app.add_option("--ramp-ms", ramp_ms, "machines power on spread over this time")->capture_default_str();
  app.add_option("--uefi-share", s.uefi_share, "share of UEFI machines (the rest BIOS)")->capture_default_str();
  app.add_option("--window-share", s.window_share, "share asking TFTP windowsize")->capture_default_str();
  app.add_option("--windowsize", s.windowsize, "TFTP windowsize asked for")->capture_default_str();
  app.add_option("--blksize", s.blksize, "TFTP blksize")->capture_default_str();
  app.add_option("--accept-share", s.accept_share, "share accepted and wiped")->capture_default_str();
  app.add_option("--poll-seconds", s.poll_seconds, "wait= of the not-accepted machines' long-poll")->capture_default_str();
  app.add_option("--dhcp-server-port", s.dhcp_server_port)->capture_default_str();
  app.add_option("--dhcp-client-port", s.dhcp_client_port)->capture_default_str();
  app.add_option("--http-port", s.http_port)->capture_default_str();
  app.add_option("--api", api, "the embedded API, HOST:PORT (accepts)");
  app.add_option("--api-token", api_token_file, "file with the embedded API's bearer token");
  app.add_option("--api-ca", api_ca, "the embedded API's CA certificate");
  app.add_flag("--peer", peer, "the peer: no agent API, no iPXE DHCP round (GET /boot.ipxe directly)");
  bool no_pxe = false;
  app.add_flag("--no-pxe", no_pxe, "no DHCP nor TFTP: each machine starts at GET /boot.ipxe (the HTTP part alone)");
  app.add_flag("--list-machines", list_machines, "every machine's uuid, Server and outcome in the report");
  CLI11_PARSE(app, argc, argv);

  boost::system::error_code ec;
  s.server = net::ip::make_address_v4(server, ec);
  if (ec) {
    std::cerr << "bad --server " << server << "\n";
    return 2;
  }
  s.first_address = net::ip::make_address_v4(first, ec);
  if (ec) {
    std::cerr << "bad --first-address " << first << "\n";
    return 2;
  }
  s.agent = !peer;
  s.ipxe_dhcp = !peer;
  s.pxe = !no_pxe;
  net::ssl::context api_tls(net::ssl::context::tls_client);
  if (s.agent && s.accept_share > 0) {
    const auto colon = api.rfind(':');
    if (colon == std::string::npos || api_token_file.empty() || api_ca.empty()) {
      std::cerr << "accepting machines needs --api HOST:PORT, --api-token and --api-ca\n";
      return 2;
    }
    s.api = storm::tcp::endpoint(net::ip::make_address_v4(api.substr(0, colon), ec),
                                 static_cast<std::uint16_t>(std::stoul(api.substr(colon + 1))));
    if (ec) {
      std::cerr << "bad --api " << api << "\n";
      return 2;
    }
    s.api_token = read_token(api_token_file);
    // The certificate is checked against the API's CA; its name is not (the bench reaches the
    // API on the lab address, the certificate may name another).
    if (std::string error = ironboot::tls::configure_client(api_tls, true, api_ca); !error.empty()) {
      std::cerr << error << "\n";
      return 2;
    }
  }
  raise_file_limit();

  net::io_context io(1);
  storm::DhcpHub hub(io, s.dhcp_client_port, interface);
  hub.start();
  storm::StormContext ctx{io, hub, api_tls, s};
  std::vector<storm::MachineResult> results(machines);
  std::size_t remaining = machines;
  const auto start = Clock::now();
  for (std::uint32_t i = 0; i < machines; ++i) {
    const storm::Millis delay(machines > 1 ? static_cast<long>(std::uint64_t{ramp_ms} * i / (machines - 1)) : 0);
    net::co_spawn(io, boot_one(ctx, i, delay, results[i], remaining), net::detached);
  }
  if (machines == 0) hub.stop();
  io.run();
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();

  std::array<std::vector<double>, static_cast<std::size_t>(storm::Phase::count_)> phases;
  std::vector<double> totals;
  std::map<std::string, std::uint64_t> failures;
  json::array examples, listed;
  std::uint64_t ok = 0, tftp_bytes = 0, http_bytes = 0, dhcp_resends = 0, tftp_resends = 0, accept_not_found = 0;
  // The downloads of every machine that finished its initrd: their bytes over the window from
  // the first kernel request to the last initrd byte (the aggregate rate served), and each
  // machine's own download time (how fairly the connections shared it).
  std::uint64_t download_bytes = 0;
  std::vector<double> download_ms;
  Clock::time_point first_download = Clock::time_point::max(), last_download = Clock::time_point::min();
  for (const auto& r : results) {
    if (r.download_end != Clock::time_point{}) {
      download_bytes += r.download_bytes;
      download_ms.push_back(std::chrono::duration<double, std::milli>(r.download_end - r.download_start).count());
      first_download = std::min(first_download, r.download_start);
      last_download = std::max(last_download, r.download_end);
    }
    for (const auto& [p, ms] : r.phases) phases[static_cast<std::size_t>(p)].push_back(ms);
    tftp_bytes += r.tftp_bytes;
    http_bytes += r.http_bytes;
    dhcp_resends += r.dhcp_resends;
    tftp_resends += r.tftp_resends;
    accept_not_found += r.accept_not_found;
    if (r.failed_phase.empty()) {
      ++ok;
      totals.push_back(r.total_ms);
    } else {
      ++failures[r.failed_phase];
      if (examples.size() < 10) examples.push_back(json::object{{"uuid", r.uuid}, {"phase", r.failed_phase}, {"error", r.error}});
    }
    if (list_machines)
      listed.push_back(json::object{{"uuid", r.uuid}, {"mac", r.mac}, {"server", r.server}, {"uefi", r.uefi},
                                    {"accepted", r.accepted}, {"ok", r.failed_phase.empty()}});
  }
  json::object phase_report;
  for (std::size_t p = 0; p < phases.size(); ++p)
    if (!phases[p].empty()) phase_report[storm::phase_name(static_cast<storm::Phase>(p))] = summary(phases[p]);
  json::object fail_report;
  for (const auto& [phase, n] : failures) fail_report[phase] = n;
  json::object report{{"machines", machines},
                      {"ok", ok},
                      {"failed", machines - ok},
                      {"failures", std::move(fail_report)},
                      {"failure_examples", std::move(examples)},
                      {"wall_s", wall_s},
                      {"machines_per_s", wall_s > 0 ? static_cast<double>(ok) / wall_s : 0.0},
                      {"machine_time", summary(totals)},
                      {"phases", std::move(phase_report)},
                      {"tftp_bytes", tftp_bytes},
                      {"http_bytes", http_bytes},
                      {"downloads", download_report(download_bytes, first_download, last_download, std::move(download_ms))},
                      {"dhcp_resends", dhcp_resends},
                      {"tftp_resends", tftp_resends},
                      {"accept_not_found", accept_not_found}};
  if (!hub.send_error().empty()) report["dhcp_send_error"] = hub.send_error();
  if (list_machines) report["list"] = std::move(listed);
  std::cout << json::serialize(report) << std::endl;
  return ok == machines ? 0 : 1;
}
