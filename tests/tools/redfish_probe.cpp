// Runs BmcClient operations against one Redfish endpoint, in order, on one client (so the
// session and the learned quirks carry over), then close(); prints one JSON line per
// operation and exits 0 when all succeeded. For the integration tests of the Redfish client.
//
//   redfish_probe --host 127.0.0.1 --port 8443 [--http] [--system-path /redfish/v1/Systems/1]
//                 --user admin --password password [--ca-file F] [--insecure]
//                 [--auth auto|basic|session] [--etag auto|on|off] [--timeout-ms N]
//                 [--all-at-once] [--close-after-ms N] OP...
// --all-at-once queues every operation at once (the client runs them in order);
// --close-after-ms calls close() after N ms: what is pending completes "Cancelled", what was
// not started yet is reported with reason "NotRun".
//   OP: status | on | off | soft-off | cycle | hard-reset
//       | boot:pxe|disk[:once|:continuous][:uefi|:legacy]
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "bmc/redfish_client.hpp"

using namespace ironboot::bmc;

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "redfish_probe: " << why << "\n"
            << "usage: redfish_probe --host H --port P [--http] [--system-path PATH] --user U --password PW\n"
            << "       [--ca-file F] [--insecure] [--auth auto|basic|session] [--etag auto|on|off] [--timeout-ms N] OP...\n"
            << "OP: status | on | off | soft-off | cycle | hard-reset | boot:pxe|disk[:once|:continuous][:uefi|:legacy]\n";
  std::exit(2);
}

struct Op {
  std::string text;
  bool is_status = false, is_boot = false;
  PowerAction action = PowerAction::On;
  BootOverride boot;
};

Op parse_op(const std::string& text) {
  Op op;
  op.text = text;
  if (text == "status") op.is_status = true;
  else if (text == "on") op.action = PowerAction::On;
  else if (text == "off") op.action = PowerAction::Off;
  else if (text == "soft-off") op.action = PowerAction::SoftOff;
  else if (text == "cycle") op.action = PowerAction::Cycle;
  else if (text == "hard-reset") op.action = PowerAction::HardReset;
  else if (text.starts_with("boot:")) {
    op.is_boot = true;
    std::vector<std::string> parts;
    std::size_t start = 5;
    while (start <= text.size()) {
      auto colon = text.find(':', start);
      if (colon == std::string::npos) colon = text.size();
      parts.push_back(text.substr(start, colon - start));
      start = colon + 1;
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& p = parts[i];
      if (i == 0 && p == "pxe") op.boot.device = BootDevice::Pxe;
      else if (i == 0 && p == "disk") op.boot.device = BootDevice::Disk;
      else if (i > 0 && p == "once") op.boot.persistent = false;
      else if (i > 0 && p == "continuous") op.boot.persistent = true;
      else if (i > 0 && p == "uefi") op.boot.mode = BootMode::Uefi;
      else if (i > 0 && p == "legacy") op.boot.mode = BootMode::Legacy;
      else usage("bad boot operation " + text);
    }
  } else {
    usage("unknown operation " + text);
  }
  return op;
}

}  // namespace

int main(int argc, char** argv) {
  BmcEndpoint endpoint;
  endpoint.protocol = Protocol::Redfish;
  endpoint.port = 0;
  BmcCredentials credentials;
  RedfishOptions options;
  std::vector<Op> ops;
  bool all_at_once = false;
  int close_after_ms = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--host") endpoint.host = value();
    else if (arg == "--port") endpoint.port = static_cast<std::uint16_t>(std::stoi(value()));
    else if (arg == "--http") endpoint.tls = false;
    else if (arg == "--system-path") endpoint.system_path = value();
    else if (arg == "--user") credentials.username = value();
    else if (arg == "--password") credentials.password = value();
    else if (arg == "--ca-file") endpoint.ca_file = value();
    else if (arg == "--insecure") endpoint.insecure_skip_verify = true;
    else if (arg == "--auth") {
      const auto v = value();
      if (v == "auto") options.auth = RedfishOptions::Auth::Auto;
      else if (v == "basic") options.auth = RedfishOptions::Auth::Basic;
      else if (v == "session") options.auth = RedfishOptions::Auth::Session;
      else usage("bad --auth " + v);
    } else if (arg == "--etag") {
      const auto v = value();
      if (v == "auto") options.etag = ironboot::bmc::redfish::EtagMode::Auto;
      else if (v == "on") options.etag = ironboot::bmc::redfish::EtagMode::On;
      else if (v == "off") options.etag = ironboot::bmc::redfish::EtagMode::Off;
      else usage("bad --etag " + v);
    } else if (arg == "--timeout-ms") {
      options.request_timeout = options.connect_timeout = std::chrono::milliseconds(std::stoi(value()));
    } else if (arg == "--all-at-once") {
      all_at_once = true;
    } else if (arg == "--close-after-ms") {
      close_after_ms = std::stoi(value());
    } else if (arg.starts_with("--")) {
      usage("unknown option " + arg);
    } else {
      ops.push_back(parse_op(arg));
    }
  }
  if (endpoint.host.empty() || ops.empty()) usage("--host and at least one operation are needed");
  if (endpoint.port == 0) endpoint.port = endpoint.tls ? 443 : 80;
  options.power_poll_interval = std::chrono::milliseconds(200);

  boost::asio::io_context io;
  auto client = make_redfish_client(io, endpoint, credentials, options);
  bool all_ok = true;
  bool closed_early = false;
  std::size_t next = 0, completed = 0;
  boost::asio::steady_timer close_timer(io);
  auto finish = [&]() {
    close_timer.cancel();
    client->close();
  };
  std::function<void()> run_next;
  auto print = [&](const Op& op, const BmcStatus& st, const char* power) {
    boost::json::object line{{"op", op.text}, {"ok", st.ok()}, {"reason", st.reason}, {"message", st.message}};
    if (power) line["power"] = power;
    std::cout << boost::json::serialize(line) << std::endl;
    all_ok = all_ok && st.ok();
  };
  auto report = [&](const Op& op, const BmcStatus& st, const char* power) {
    print(op, st, power);
    ++completed;
    if (!all_at_once) run_next();
    else if (completed == ops.size() && !closed_early) finish();
  };
  auto issue = [&](const Op& op) {
    if (op.is_status) client->power_status([&op, &report](BmcStatus st, PowerState p) { report(op, st, to_string(p)); });
    else if (op.is_boot) client->set_next_boot(op.boot, [&op, &report](BmcStatus st) { report(op, st, nullptr); });
    else client->power(op.action, [&op, &report](BmcStatus st) { report(op, st, nullptr); });
  };
  run_next = [&]() {
    if (closed_early) {
      for (; next < ops.size(); ++next) print(ops[next], BmcStatus::failure("NotRun", "closed before it started"), nullptr);
      return;
    }
    if (next == ops.size()) return finish();
    issue(ops[next++]);
  };
  if (close_after_ms >= 0) {
    close_timer.expires_after(std::chrono::milliseconds(close_after_ms));
    close_timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      closed_early = true;
      client->close();
    });
  }
  if (all_at_once) {
    for (; next < ops.size(); ++next) issue(ops[next]);
  } else {
    run_next();
  }
  io.run();
  return all_ok ? 0 : 1;
}
