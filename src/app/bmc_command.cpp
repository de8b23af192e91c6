#include "app/bmc_command.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bmc/endpoint.hpp"
#include "bmc/ipmi_client.hpp"
#include "bmc/redfish_client.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "common/text.hpp"

namespace ironboot {
namespace {

// Exit codes (docs/bmc.md "The ironboot bmc command").
constexpr int kExitOk = 0;
constexpr int kExitBmcFailed = 1;  // the BMC refused, failed or did not answer
constexpr int kExitBadInput = 2;   // credentials, files, the endpoint or the command do not fit

// Where credentials come from when --user / --password-file are not given.
constexpr const char* kUserEnv = "IRONBOOT_BMC_USER";
constexpr const char* kPasswordEnv = "IRONBOOT_BMC_PASSWORD";

struct BmcArgs {
  std::string host;
  std::string endpoint;  // as spec.bmc.endpoint: host, ipmi://, redfish://, redfish+http(s)://
  std::uint16_t port = 623;
  bool port_given = false;
  std::string hosts_file;
  bool insecure = false;
  std::string ca_file;
  std::string redfish_auth = "auto";
  std::string redfish_etag = "auto";
  std::string cipher_suite = "auto";
  std::string user;
  std::string password_file;
  int timeout_ms = 5000;
  bool verbose = false;
  std::string power_action;
  std::string boot_device;
  std::vector<std::string> sequence;  // `sequence` steps, in order
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

// One command for a client: what `power-status`, `power ACTION`, `bootdev DEVICE` and
// `device-id` ask, and what each step of `sequence` asks.
struct Step {
  std::string command;       // power-status | power | bootdev | device-id
  std::string power_action;  // power: on, off, soft-off, cycle, reset
  std::string boot_device;   // bootdev: pxe, disk
};

// The step `sequence` names as "power-status", "power=ACTION" or "bootdev=DEVICE".
std::optional<Step> parse_step(const std::string& text) {
  static const std::vector<std::string> kActions{"on", "off", "soft-off", "cycle", "reset"};
  static const std::vector<std::string> kDevices{"pxe", "disk"};
  if (text == "power-status") return Step{text, {}, {}};
  const auto eq = text.find('=');
  if (eq == std::string::npos) return std::nullopt;
  const std::string name = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  if (name == "power" && std::find(kActions.begin(), kActions.end(), value) != kActions.end()) return Step{name, value, {}};
  if (name == "bootdev" && std::find(kDevices.begin(), kDevices.end(), value) != kDevices.end()) return Step{name, {}, value};
  return std::nullopt;
}

// Starts `step` on one client; `report` gets the outcome once. device-id is IPMI only
// (`ipmi` null for Redfish: refused before this).
void start_command(bmc::BmcClient& client, bmc::IpmiClient* ipmi, const BmcArgs& args, const Step& step,
                   std::function<void(const bmc::BmcStatus&, const std::string&)> report) {
  if (step.command == "power-status") {
    client.power_status([report](bmc::BmcStatus status, bmc::PowerState power) {
      report(status, std::string("power: ") + bmc::to_string(power));
    });
  } else if (step.command == "power") {
    static const std::pair<const char*, bmc::PowerAction> kActions[] = {
        {"on", bmc::PowerAction::On},         {"off", bmc::PowerAction::Off},     {"soft-off", bmc::PowerAction::SoftOff},
        {"cycle", bmc::PowerAction::Cycle}, {"reset", bmc::PowerAction::HardReset}};
    bmc::PowerAction action = bmc::PowerAction::On;
    for (const auto& [name, value] : kActions) {
      if (step.power_action == name) action = value;
    }
    client.power(action, [report, action](bmc::BmcStatus status) {
      report(status, std::string("power ") + bmc::to_string(action) + ": ok");
    });
  } else if (step.command == "bootdev") {
    bmc::BootOverride boot;
    boot.device = step.boot_device == "pxe" ? bmc::BootDevice::Pxe : bmc::BootDevice::Disk;
    boot.mode = args.efi ? bmc::BootMode::Uefi : bmc::BootMode::Legacy;
    boot.persistent = args.persistent;
    const std::string text = "bootdev " + step.boot_device + (args.efi ? " efi" : " legacy") +
                             (args.persistent ? " persistent" : " once") + ": ok";
    client.set_next_boot(boot, [report, text](bmc::BmcStatus status) { report(status, text); });
  } else if (ipmi) {
    ipmi->device_id([report](bmc::BmcStatus status, bmc::ipmi::DeviceId id) { report(status, bmc::ipmi::to_string(id)); });
  }
}

// Runs `steps` one after another on one client, so on one session (one Redfish login, one
// RMCP+ session): each line is printed as its step ends; the first failure ends the run.
// `done` gets the last status.
void run_steps(bmc::BmcClient& client, bmc::IpmiClient* ipmi, const BmcArgs& args,
               std::shared_ptr<const std::vector<Step>> steps, std::size_t index,
               std::function<void(const bmc::BmcStatus&, const std::string&)> each,
               std::function<void(const bmc::BmcStatus&)> done) {
  if (index == steps->size()) {
    done(bmc::BmcStatus::success());
    return;
  }
  start_command(client, ipmi, args, (*steps)[index],
                [&client, ipmi, &args, steps, index, each, done](const bmc::BmcStatus& status, const std::string& text) {
                  each(status, text);
                  if (!status.ok()) {
                    done(status);
                    return;
                  }
                  run_steps(client, ipmi, args, steps, index + 1, each, done);
                });
}

// The user and password: the flags, else the environment.
std::optional<bmc::BmcCredentials> read_credentials(const BmcArgs& args) {
  bmc::BmcCredentials credentials{args.user, {}};
  if (credentials.username.empty()) {
    if (const char* u = std::getenv(kUserEnv)) credentials.username = u;
  }
  if (credentials.username.empty()) {
    std::cerr << "error: no BMC user: give --user or set " << kUserEnv << "\n";
    return std::nullopt;
  }
  if (!args.password_file.empty()) {
    auto password = read_file(args.password_file, 4096);
    if (!password) {
      std::cerr << "error: cannot read the password file " << args.password_file << "\n";
      return std::nullopt;
    }
    credentials.password = std::string(trim(*password, "\r\n"));
  } else if (const char* p = std::getenv(kPasswordEnv)) {
    credentials.password = p;
  } else {
    std::cerr << "error: no BMC password: give --password-file or set " << kPasswordEnv << "\n";
    return std::nullopt;
  }
  return credentials;
}

// --endpoint parsed exactly as a Server's spec.bmc (endpoint, port, insecureSkipVerify,
// cipherSuite): one grammar for the API and the command line.
std::optional<bmc::BmcEndpoint> parse_endpoint(const BmcArgs& args) {
  boost::json::object spec{{"endpoint", args.endpoint}, {"insecureSkipVerify", args.insecure}};
  if (args.port_given) spec["port"] = args.port;
  if (args.cipher_suite != "auto") spec["cipherSuite"] = std::stoi(args.cipher_suite);
  auto parsed = bmc::parse_bmc_spec(spec);
  if (const auto* error = std::get_if<bmc::EndpointError>(&parsed)) {
    std::string text = error->text();
    // The flags, not the Server's fields, are what the operator typed.
    for (const auto& [field, flag] : {std::pair{"spec.bmc.endpoint", "--endpoint"}, std::pair{"spec.bmc.port", "--port"},
                                      std::pair{"spec.bmc.cipherSuite", "--cipher-suite"}}) {
      if (text.starts_with(field)) text = flag + text.substr(std::string_view(field).size());
    }
    std::cerr << "error: " << text << "\n";
    return std::nullopt;
  }
  auto endpoint = std::get<bmc::BmcSpec>(parsed).endpoint;
  endpoint.ca_file = args.ca_file;
  return endpoint;
}

// One Redfish BMC: the command on the event loop, then the session closed.
int run_redfish(const BmcArgs& args, const std::string& command, std::shared_ptr<const std::vector<Step>> steps,
                const bmc::BmcEndpoint& endpoint, const bmc::BmcCredentials& credentials) {
  if (command == "device-id") {
    std::cerr << "error: device-id is an IPMI command; " << bmc::describe(endpoint) << " is Redfish\n";
    return kExitBadInput;
  }
  bmc::RedfishOptions options;
  if (args.redfish_auth == "basic") options.auth = bmc::RedfishOptions::Auth::Basic;
  if (args.redfish_auth == "session") options.auth = bmc::RedfishOptions::Auth::Session;
  if (args.redfish_etag == "on") options.etag = bmc::redfish::EtagMode::On;
  if (args.redfish_etag == "off") options.etag = bmc::redfish::EtagMode::Off;
  options.connect_timeout = std::chrono::milliseconds(args.timeout_ms);
  options.request_timeout = std::chrono::milliseconds(args.timeout_ms);
  boost::asio::io_context io{1};
  auto client = bmc::make_redfish_client(io, endpoint, credentials, options);
  int exit_code = kExitOk;
  run_steps(
      *client, nullptr, args, steps, 0,
      [](const bmc::BmcStatus& status, const std::string& text) {
        if (status.ok()) {
          std::cout << text << "\n";
        } else {
          std::cerr << describe(status) << "\n";
        }
      },
      [&](const bmc::BmcStatus& status) {
        if (!status.ok()) exit_code = kExitBmcFailed;
        client->close();  // logs the session out (DELETE): BMCs cap their sessions
      });
  io.run();
  return exit_code;
}

int run(const BmcArgs& args, const std::string& command) {
  init_logging(args.verbose ? "info" : "warn");
  const int given = !args.host.empty() + !args.endpoint.empty() + !args.hosts_file.empty();
  if (given != 1) {
    std::cerr << "error: give one of --host, --endpoint or --hosts-file\n";
    return kExitBadInput;
  }
  auto steps = std::make_shared<std::vector<Step>>();
  if (command == "sequence") {
    for (const std::string& text : args.sequence) {
      auto step = parse_step(text);
      if (!step) {
        std::cerr << "error: sequence step '" << text
                  << "': expected power-status, power=on|off|soft-off|cycle|reset or bootdev=pxe|disk\n";
        return kExitBadInput;
      }
      steps->push_back(std::move(*step));
    }
  } else {
    steps->push_back(Step{command, args.power_action, args.boot_device});
  }
  const auto credentials = read_credentials(args);
  if (!credentials) return kExitBadInput;
  std::optional<bmc::BmcEndpoint> single;
  if (!args.endpoint.empty()) {
    single = parse_endpoint(args);
    if (!single) return kExitBadInput;
    if (single->protocol == bmc::Protocol::Redfish) return run_redfish(args, command, steps, *single, *credentials);
  }
  std::vector<Target> targets;
  if (!args.hosts_file.empty()) {
    auto read = read_targets(args.hosts_file, args.port);
    if (!read || read->empty()) {
      std::cerr << "error: " << args.hosts_file << ": unreadable, empty, or a line is not host[:port]\n";
      return kExitBadInput;
    }
    targets = std::move(*read);
  } else if (single) {
    targets.push_back(Target{single->host, single->port});
  } else {
    targets.push_back(Target{args.host, args.port});
  }
  std::optional<int> suite;
  if (args.cipher_suite != "auto") suite = std::stoi(args.cipher_suite);
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
    auto client = std::dynamic_pointer_cast<bmc::IpmiClient>(bmc::make_ipmi_client(io, endpoint, *credentials, options));
    clients.push_back(client);
    const std::string prefix = many ? target.host + ":" + std::to_string(target.port) + " " : "";
    bmc::IpmiClient* raw = client.get();
    auto each = [prefix](const bmc::BmcStatus& status, const std::string& text) {
      if (status.ok()) {
        std::cout << prefix << text << "\n";
      } else {
        std::cerr << prefix << describe(status) << "\n";
      }
    };
    run_steps(*client, raw, args, steps, 0, each, [&, prefix, raw](const bmc::BmcStatus& status) {
      if (!status.ok()) ++failures;
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
  return failures == 0 ? kExitOk : kExitBmcFailed;
}

}  // namespace

void add_bmc_command(CLI::App& app) {
  auto args = std::make_shared<BmcArgs>();
  auto* bmc = app.add_subcommand(
      "bmc", "Talk to one BMC over IPMI 2.0 / RMCP+ or Redfish (or to many IPMI BMCs, --hosts-file) and exit");
  bmc->require_subcommand(1);
  bmc->add_option("--host", args->host, "IPMI BMC address or name");
  bmc->add_option("--endpoint", args->endpoint,
                  "The BMC as a Server's spec.bmc.endpoint names it: host (IPMI), ipmi://host[:port], "
                  "redfish://host[:port][/redfish/v1/Systems/ID] (HTTPS), redfish+https://..., redfish+http://...");
  bmc->add_option("--port", args->port, "IPMI UDP port (a port in an --endpoint URL wins)")
      ->capture_default_str()
      ->each([args](const std::string&) { args->port_given = true; });
  bmc->add_option("--hosts-file", args->hosts_file,
                  "File of IPMI BMCs, host[:port] one a line: the command runs on all of them at once");
  bmc->add_option("--cipher-suite", args->cipher_suite, "RMCP+ cipher suite: auto (17, then 3), 3 or 17")
      ->check(CLI::IsMember({"auto", "3", "17"}))
      ->capture_default_str();
  bmc->add_flag("--insecure", args->insecure, "Redfish: do not verify the BMC's certificate");
  bmc->add_option("--ca-file", args->ca_file, "Redfish: PEM file of CAs trusted besides the system's");
  bmc->add_option("--redfish-auth", args->redfish_auth,
                  "Redfish: auto (a session when the BMC offers them, else Basic), basic or session")
      ->check(CLI::IsMember({"auto", "basic", "session"}))
      ->capture_default_str();
  bmc->add_option("--redfish-etag", args->redfish_etag,
                  "Redfish: If-Match on PATCH: auto (when the BMC sends ETags or demands one), on or off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  bmc->add_option("--user", args->user, std::string("BMC user name (default: $") + kUserEnv + ")");
  bmc->add_option("--password-file", args->password_file,
                  std::string("File holding the BMC password (default: $") + kPasswordEnv + ")");
  bmc->add_option("--timeout-ms", args->timeout_ms,
                  "Time limit per BMC, session setup included (Redfish: per connection and per request)")
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
  bmc->add_subcommand("device-id", "Print Get Device ID's answer (IPMI)");
  auto* sequence = bmc->add_subcommand(
      "sequence", "Run steps in order on one session (one login, one logout), stopping at the first failure");
  sequence->add_option("steps", args->sequence, "power-status, power=on|off|soft-off|cycle|reset, bootdev=pxe|disk")
      ->required();
  auto* sequence_efi = sequence->add_flag("--efi", args->efi, "bootdev steps: boot in UEFI mode");
  sequence->add_flag("--legacy", args->legacy, "bootdev steps: legacy BIOS mode (the default)")->excludes(sequence_efi);
  sequence->add_flag("--persistent", args->persistent, "bootdev steps: every boot, not only the next one");

  bmc->callback([bmc, args] {
    const std::string command = bmc->get_subcommands().front()->get_name();
    throw CLI::RuntimeError(run(*args, command));
  });
}

}  // namespace ironboot
