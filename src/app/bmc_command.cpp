#include "app/bmc_command.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bmc/ipmi_client.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

namespace ironboot {
namespace {

struct BmcArgs {
  std::string host;
  std::uint16_t port = 623;
  std::string hosts_file;
  std::string cipher_suite = "auto";
  std::string user;
  std::string password_file;
  int timeout_ms = 5000;
  bool verbose = false;
  std::string power_action;
  std::string boot_device;
  bool efi = false;
  bool legacy = false;
  bool persistent = false;
};

struct Target {
  std::string host;
  std::uint16_t port = 623;
};

// "host", "host:port" or "[v6]:port", one a line; blank lines and # comments skipped.
std::optional<std::vector<Target>> read_targets(const std::string& path, std::uint16_t default_port) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::vector<Target> targets;
  std::string line;
  while (std::getline(in, line)) {
    const std::string_view t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    Target target{std::string(t), default_port};
    std::size_t colon = std::string_view::npos;
    if (t.front() == '[') {
      const auto close = t.find(']');
      if (close == std::string_view::npos) return std::nullopt;
      target.host = std::string(t.substr(1, close - 1));
      if (close + 1 < t.size() && t[close + 1] == ':') colon = close + 1;
    } else if (t.find(':') == t.rfind(':')) {
      colon = t.find(':');
      if (colon != std::string_view::npos) target.host = std::string(t.substr(0, colon));
    }
    if (colon != std::string_view::npos) {
      try {
        const int port = std::stoi(std::string(t.substr(colon + 1)));
        if (port < 1 || port > 65535) return std::nullopt;
        target.port = static_cast<std::uint16_t>(port);
      } catch (const std::exception&) {
        return std::nullopt;
      }
    }
    targets.push_back(std::move(target));
  }
  return targets;
}

std::string describe(const bmc::BmcStatus& status) { return "error: " + status.reason + ": " + status.message; }

// Starts `command` on one client; `report` gets the outcome once.
void start_command(bmc::IpmiClient& client, const BmcArgs& args, const std::string& command,
                   std::function<void(const bmc::BmcStatus&, const std::string&)> report) {
  if (command == "power-status") {
    client.power_status([report](bmc::BmcStatus status, bmc::PowerState power) {
      report(status, std::string("power: ") + bmc::to_string(power));
    });
  } else if (command == "power") {
    static const std::pair<const char*, bmc::PowerAction> kActions[] = {
        {"on", bmc::PowerAction::On},         {"off", bmc::PowerAction::Off},     {"soft-off", bmc::PowerAction::SoftOff},
        {"cycle", bmc::PowerAction::Cycle}, {"reset", bmc::PowerAction::HardReset}};
    bmc::PowerAction action = bmc::PowerAction::On;
    for (const auto& [name, value] : kActions) {
      if (args.power_action == name) action = value;
    }
    client.power(action, [report, action](bmc::BmcStatus status) {
      report(status, std::string("power ") + bmc::to_string(action) + ": ok");
    });
  } else if (command == "bootdev") {
    bmc::BootOverride boot;
    boot.device = args.boot_device == "pxe" ? bmc::BootDevice::Pxe : bmc::BootDevice::Disk;
    boot.mode = args.efi ? bmc::BootMode::Uefi : bmc::BootMode::Legacy;
    boot.persistent = args.persistent;
    client.set_next_boot(boot, [report, args](bmc::BmcStatus status) {
      report(status, "bootdev " + args.boot_device + (args.efi ? " efi" : " legacy") +
                         (args.persistent ? " persistent" : " once") + ": ok");
    });
  } else {
    client.device_id([report](bmc::BmcStatus status, bmc::ipmi::DeviceId id) { report(status, bmc::ipmi::to_string(id)); });
  }
}

int run(const BmcArgs& args, const std::string& command) {
  init_logging(args.verbose ? "info" : "warn");
  auto password = read_file(args.password_file, 4096);
  if (!password) {
    std::cerr << "error: cannot read the password file " << args.password_file << "\n";
    return 1;
  }
  std::vector<Target> targets;
  if (!args.hosts_file.empty()) {
    auto read = read_targets(args.hosts_file, args.port);
    if (!read || read->empty()) {
      std::cerr << "error: " << args.hosts_file << ": unreadable, empty, or a line is not host[:port]\n";
      return 1;
    }
    targets = std::move(*read);
  } else if (!args.host.empty()) {
    targets.push_back(Target{args.host, args.port});
  } else {
    std::cerr << "error: give --host or --hosts-file\n";
    return 1;
  }
  std::optional<int> suite;
  if (args.cipher_suite != "auto") suite = std::stoi(args.cipher_suite);
  const bmc::BmcCredentials credentials{args.user, std::string(trim(*password, "\r\n"))};
  bmc::IpmiOptions options;
  options.timeout = std::chrono::milliseconds(args.timeout_ms);

  // All targets at once on the one loop; each answer is printed as it comes.
  boost::asio::io_context io{1};
  const bool many = !args.hosts_file.empty();
  int failures = 0;
  std::size_t remaining = targets.size();
  std::vector<std::shared_ptr<bmc::IpmiClient>> clients;
  const auto started = std::chrono::steady_clock::now();
  for (const Target& target : targets) {
    bmc::BmcEndpoint endpoint;
    endpoint.host = target.host;
    endpoint.port = target.port;
    endpoint.cipher_suite = suite;
    auto client = std::dynamic_pointer_cast<bmc::IpmiClient>(bmc::make_ipmi_client(io, endpoint, credentials, options));
    clients.push_back(client);
    const std::string prefix = many ? target.host + ":" + std::to_string(target.port) + " " : "";
    bmc::IpmiClient* raw = client.get();
    start_command(*client, args, command, [&, prefix, raw](const bmc::BmcStatus& status, const std::string& text) {
      if (status.ok()) {
        std::cout << prefix << text << "\n";
      } else {
        ++failures;
        std::cerr << prefix << describe(status) << "\n";
      }
      if (raw->cipher_suite()) logger("bmc")->info("{}cipher suite {}", prefix, *raw->cipher_suite());
      raw->close();  // Close Session: the BMC frees it now instead of after its timeout
      // The last answer ends the run: the clients' sockets (and their pending reads) go.
      if (--remaining == 0) clients.clear();
    });
  }
  io.run();
  if (many) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    std::cerr << targets.size() - static_cast<std::size_t>(failures) << "/" << targets.size() << " ok in " << ms.count()
              << " ms\n";
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

void add_bmc_command(CLI::App& app) {
  auto args = std::make_shared<BmcArgs>();
  auto* bmc = app.add_subcommand("bmc", "Talk to one BMC (or many, --hosts-file) over IPMI 2.0 / RMCP+ and exit");
  bmc->require_subcommand(1);
  bmc->add_option("--host", args->host, "BMC address or name");
  bmc->add_option("--port", args->port, "BMC UDP port")->capture_default_str();
  bmc->add_option("--hosts-file", args->hosts_file,
                  "File of BMCs, host[:port] one a line: the command runs on all of them at once");
  bmc->add_option("--cipher-suite", args->cipher_suite, "RMCP+ cipher suite: auto (17, then 3), 3 or 17")
      ->check(CLI::IsMember({"auto", "3", "17"}))
      ->capture_default_str();
  bmc->add_option("--user", args->user, "BMC user name")->required();
  bmc->add_option("--password-file", args->password_file, "File holding the BMC password")->required();
  bmc->add_option("--timeout-ms", args->timeout_ms, "Time limit per BMC, session setup included")
      ->check(CLI::Range(100, 600000))
      ->capture_default_str();
  bmc->add_flag("-v,--verbose", args->verbose, "Log the session's steps to stderr");

  bmc->add_subcommand("power-status", "Print the chassis power state: on or off");
  auto* power = bmc->add_subcommand("power", "Chassis Control");
  power->add_option("action", args->power_action, "on, off (hard), soft-off (ACPI), cycle or reset")
      ->required()
      ->check(CLI::IsMember({"on", "off", "soft-off", "cycle", "reset"}));
  auto* bootdev = bmc->add_subcommand("bootdev", "Set the next boot device (boot options parameter 5)");
  bootdev->add_option("device", args->boot_device, "pxe or disk")->required()->check(CLI::IsMember({"pxe", "disk"}));
  auto* efi = bootdev->add_flag("--efi", args->efi, "Boot in UEFI mode");
  bootdev->add_flag("--legacy", args->legacy, "Boot in legacy BIOS mode (the default)")->excludes(efi);
  bootdev->add_flag("--persistent", args->persistent, "Every boot, not only the next one");
  bmc->add_subcommand("device-id", "Print Get Device ID's answer");

  bmc->callback([bmc, args] {
    const std::string command = bmc->get_subcommands().front()->get_name();
    throw CLI::RuntimeError(run(*args, command));
  });
}

}  // namespace ironboot
