// ironboot-agent: PID 1 of the agent initramfs. Brings the machine onto the network,
// reports its hardware to ironboot and carries out what ironboot says (docs/agent.md).
// `ironboot-agent --facts [--root DIR]` only prints the register body (no network).
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/api.hpp"
#include "agent/attest.hpp"
#include "agent/bmc.hpp"
#include "agent/collect.hpp"
#include "agent/fs_root.hpp"
#include "agent/http_client.hpp"
#include "agent/system.hpp"
#include "agent/wipe.hpp"
#include "agent/wire.hpp"
#include "common/files.hpp"

namespace {
using namespace ironboot::agent;
using namespace std::chrono_literals;

constexpr const char* kModprobe = "/sbin/modprobe";
constexpr const char* kUdhcpc = "/sbin/udhcpc";
constexpr const char* kUdhcpcScript = "/etc/udhcpc.script";
constexpr unsigned kPollSeconds = 30;

std::mutex console_mutex;
// Consoles named on the command line besides /dev/console (which is only the last one).
std::vector<int> extra_consoles;

// One line on the console, with the time since boot so slow steps are visible.
void say(const std::string& line) {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  char prefix[48];
  std::snprintf(prefix, sizeof prefix, "[%5ld.%03ld] ironboot-agent: ", static_cast<long>(ts.tv_sec),
                ts.tv_nsec / 1000000);
  std::string text = prefix + line + "\n";
  std::lock_guard lock(console_mutex);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  for (int fd : extra_consoles) {
    // A console that cannot take the line (unplugged serial) must not stop the agent.
    [[maybe_unused]] auto n = ::write(fd, text.data(), text.size());
  }
}

// console=tty0 console=ttyS0,115200n8: open all but the last, which is /dev/console.
void open_extra_consoles(const std::vector<std::string>& consoles) {
  for (std::size_t i = 0; i + 1 < consoles.size(); ++i) {
    std::string name = consoles[i].substr(0, consoles[i].find(','));
    if (name.empty() || name.find('/') != std::string::npos || name == consoles.back().substr(0, consoles.back().find(',')))
      continue;
    int fd = ::open(("/dev/" + name).c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) extra_consoles.push_back(fd);
  }
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

constexpr const char* kBootRefused = "ironboot refuses this boot's tokens; PXE-booting again for a new one";

[[noreturn]] void finish(bool power_off, const std::string& why) {
  say(why + (power_off ? ": powering off" : ": rebooting"));
  sys::reboot_machine(power_off);
  say(std::string("reboot(2) failed: ") + std::strerror(errno));
  for (;;) ::pause();
}

void describe_facts(const Facts& f) {
  const auto& s = f.hardware.system;
  say("system: " + s.manufacturer + " " + s.product_name + " serial=" + s.serial_number + " uuid=" + s.uuid);
  say("firmware: " + f.firmware.vendor + " " + f.firmware.version + " " + f.firmware.date + " boot=" + f.boot_mode);
  say("cpu: " + std::to_string(f.hardware.processors.size()) + " socket(s), " + std::to_string(f.hardware.total_cores) +
      " cores, " + std::to_string(f.hardware.total_threads) + " threads" +
      (f.hardware.processors.empty() ? "" : ", " + f.hardware.processors[0].product_name));
  say("memory: " + memory_total_text(f.hardware.memory_total_mb) + " in " + std::to_string(f.hardware.memory.size()) +
      " module(s)");
  for (const auto& d : f.hardware.disks)
    say("disk: " + d.device_name + " " + d.type + " " + std::to_string(d.size_bytes) + " bytes " + d.product_name +
        (d.removable ? " removable" : "") + (d.read_only ? " read-only" : ""));
  for (const auto& i : f.hardware.interfaces)
    say("nic: " + i.name + " " + i.mac + " mtu=" + std::to_string(i.mtu) + " " + i.flags + " " + join(i.addresses));
  for (const auto& n : f.notes) say("note: " + n);
}

// Wipes every local, eligible disk in parallel, each verified; what was wiped, what failed
// and what was skipped, for the `wiped` report.
WipeReport wipe_disks(AgentApi& api, const std::string& mode, bool allow_usb) {
  DirFsRoot fs;
  auto plan = plan_wipe(fs, allow_usb);
  for (const auto& s : plan.skipped) say("wipe: skipping " + s.device + " (" + s.reason + ")");
  say("wipe: mode=" + mode + " disks=" + std::to_string(plan.targets.size()));
  WipeReport report{mode, {}, plan.skipped, {}};
  report.disks.resize(plan.targets.size());
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < plan.targets.size(); ++i) {
    workers.emplace_back([&, i] {
      const auto& name = plan.targets[i].disk.device_name;
      auto& result = report.disks[i];
      result.device = name;
      result.transport = plan.targets[i].transport;
      std::string error;
      auto dev = open_block_device(name, error);
      if (!dev) {
        result.error = error;
        return;
      }
      auto started = std::chrono::steady_clock::now();
      auto last_report = started - 1h;
      int last_tenth = -1;
      auto progress = [&](std::uint64_t done, std::uint64_t total) {
        auto now = std::chrono::steady_clock::now();
        int tenth = total ? static_cast<int>(done * 10 / total) : 10;
        if (tenth != last_tenth) {
          last_tenth = tenth;
          say("wipe: " + name + " " + std::to_string(tenth * 10) + "%");
        }
        if (now - last_report >= 2s || done == total) {
          last_report = now;
          api.progress(name, done, total);
        }
      };
      WipeOptions options;
      options.seed = std::hash<std::string>{}(name) ^ static_cast<std::uint64_t>(started.time_since_epoch().count());
      options.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
      auto outcome = wipe_device(*dev, mode, result.transport, progress, options);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      if (!outcome.note.empty()) say("wipe: " + name + ": " + outcome.note);
      result.method = outcome.method;
      result.verified = outcome.verified;
      result.error = outcome.error;
      if (outcome.error.empty())
        say("wipe: " + name + " (" + result.transport + ") done by " + outcome.method + ", verified, in " +
            std::to_string(ms.count()) + " ms");
    });
  }
  for (auto& t : workers) t.join();
  for (const auto& d : report.disks)
    if (!d.error.empty()) say("wipe: FAILED " + d.device + ": " + d.error);
  return report;
}

// The BMC's LAN settings through /dev/ipmi0; none without a BMC (not an error).
std::optional<BmcLan> discover_bmc(const FsRoot& fs) {
  std::string error;
  // ipmi_si may already be loaded by its ACPI/SMBIOS alias; ipmi_devintf has none.
  sys::run({kModprobe, "-q", "-a", "ipmi_si", "ipmi_devintf"}, error);
  for (int i = 0; i < 30 && !fs.exists("/dev/ipmi0"); ++i) {
    if (!fs.exists("/sys/class/ipmi") || fs.list("/sys/class/ipmi").empty()) break;  // no interface found
    std::this_thread::sleep_for(100ms);
  }
  auto bmc = open_ipmi_device("/dev/ipmi0", error);
  if (!bmc) {
    say("bmc: none (" + error + ")");
    return std::nullopt;
  }
  auto lan = read_bmc_lan(*bmc, error);
  if (!lan) {
    say("bmc: no LAN settings (" + error + ")");
    return std::nullopt;
  }
  say("bmc: channel " + std::to_string(lan->channel) + " " + lan->ip_source + " " + lan->address + "/" + lan->netmask +
      " gw " + lan->gateway + " mac " + lan->mac);
  return lan;
}

// Creates the ironboot BMC user ironboot asked for; the credentials, or nullopt.
std::optional<BmcCredentials> set_up_bmc_user(const BmcLan& lan) {
  std::string error;
  auto bmc = open_ipmi_device("/dev/ipmi0", error);
  if (!bmc) {
    say("bmc setup: " + error);
    return std::nullopt;
  }
  std::string password = random_bmc_password();
  if (password.empty()) {
    say("bmc setup: no randomness for a password");
    return std::nullopt;
  }
  auto setup = setup_bmc_user(*bmc, lan.channel, kBmcUserName, password);
  if (!setup.error.empty()) {
    say("bmc setup: " + setup.error);
    return std::nullopt;
  }
  say(std::string("bmc setup: user ") + kBmcUserName + (setup.reused ? " reused" : " created") + " in slot " +
      std::to_string(setup.user_id) + ", administrator on channel " + std::to_string(lan.channel));
  return BmcCredentials{kBmcUserName, password};
}

// The TPM at `spec` ready to answer challenges, or null (said why): a machine without one
// registers without proof, which ironboot accepts unless its Server is pinned or it requires one.
std::unique_ptr<TpmAttestor> open_attestor(const std::string& spec) {
  std::string error;
  auto transport = open_tpm_transport(spec, error);
  std::unique_ptr<TpmAttestor> attestor;
  if (transport) attestor = TpmAttestor::open(std::move(transport), error);
  if (!attestor) {
    say("tpm: not used (" + error + ")");
    return nullptr;
  }
  const auto& ek = attestor->ek();
  say("tpm: " + spec + " EK " + (ek.handle == ironboot::tpm::kPersistentEk ? "persistent 0x81010001" : "created from template L-1") +
      ", name " + ironboot::tpm::to_hex(ek.name));
  return attestor;
}

std::string wait_for_address(const std::string& ifname, std::vector<std::string>& addrs) {
  int udhcpc = -1;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    if (udhcpc < 0) {
      say("dhcp: starting udhcpc on " + ifname);
      udhcpc = sys::spawn({kUdhcpc, "-f", "-i", ifname, "-s", kUdhcpcScript, "-t", "10", "-T", "1", "-A", "3",
                           "-x", "hostname:ironboot-agent", "-O", "router"});
    }
    addrs = sys::ipv4_addresses(ifname);
    if (!addrs.empty()) return "";
    if (sys::reap_children(udhcpc)) udhcpc = -1;  // it gave up; start it again
    if (std::chrono::steady_clock::now() > deadline) return "no DHCP lease on " + ifname + " within 120 s";
    std::this_thread::sleep_for(200ms);
  }
}

int init_main() {
  auto mount_errors = sys::mount_basics();
  sys::attach_console();
  say("starting (PID 1)");
  for (const auto& e : mount_errors) say("warning: " + e);
  DirFsRoot fs;

  auto cmdline = parse_cmdline(fs.read("/proc/cmdline").value_or(""));
  open_extra_consoles(cmdline.consoles);
  auto endpoint = parse_endpoint(cmdline.endpoint);
  if (!endpoint.endpoint) {
    say("ironboot.endpoint=\"" + cmdline.endpoint + "\" is not usable: " + endpoint.error);
    std::this_thread::sleep_for(300s);
    finish(false, "nothing to do without an endpoint");
  }
  say("endpoint " + cmdline.endpoint + (cmdline.mac.empty() ? "" : " boot mac " + cmdline.mac) +
      (cmdline.token.empty() ? " (no token!)" : ""));

  auto loaded = sys::load_modules_for_devices(fs, kModprobe, 300ms);
  say("modules: " + (loaded.empty() ? std::string("none") : join(loaded, " ")));

  std::string ifname;
  for (int attempt = 0; ifname.empty(); ++attempt) {
    ifname = sys::choose_interface(fs, cmdline.mac, 30s);
    if (ifname.empty()) {
      say("network: no interface " + (cmdline.mac.empty() ? "with carrier" : "with MAC " + cmdline.mac) +
          " yet");
      if (attempt == 10) finish(false, "no usable network interface");
      sys::load_modules_for_devices(fs, kModprobe, 300ms);
    }
  }
  std::string mac = read_attr(fs, "/sys/class/net/" + ifname + "/address");
  say("network: using " + ifname + " (" + mac + ")");

  std::vector<std::string> addrs;
  for (std::string err = wait_for_address(ifname, addrs); !err.empty(); err = wait_for_address(ifname, addrs))
    say("dhcp: " + err + ", trying again");
  say("network: " + ifname + " has " + join(addrs));

  auto facts = collect_facts(fs, system_addresses(), mac);
  facts.bmc = discover_bmc(fs);
  describe_facts(facts);

  BeastHttpClient http(*endpoint.endpoint);
  timespec now{};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  std::uint64_t seed = std::hash<std::string>{}(mac) ^ static_cast<std::uint64_t>(now.tv_nsec);
  AgentApi api(http, cmdline.token, Pacer::real(seed), say);
  std::unique_ptr<TpmAttestor> attestor;
  if (cmdline.tpm != "off" && fs.exists(cmdline.tpm)) attestor = open_attestor(cmdline.tpm);
  else say("tpm: none (" + (cmdline.tpm == "off" ? std::string("ironboot.tpm=off") : "no " + cmdline.tpm) + ")");
  api.set_attestor(attestor.get());
  std::string body = register_body(facts);

  say("register: POST " + cmdline.endpoint + "/agent/v1/register (" + std::to_string(body.size()) + " bytes)");
  auto reg = api.register_until_accepted(body);
  if (!reg) finish(false, kBootRefused);
  say("registered as Server " + reg->server + ", instruction: " + action_name(reg->instruction.action));
  if (reg->bmc_setup && facts.bmc) {
    // Once per boot: the next register carries the credentials.
    if (auto credentials = set_up_bmc_user(*facts.bmc)) {
      say("register: again, with the BMC credentials");
      auto again = api.register_until_accepted(register_body(facts, credentials));
      if (!again) finish(false, kBootRefused);
      reg = again;
      say("registered as Server " + reg->server + ", instruction: " + action_name(reg->instruction.action));
    }
  }
  api.addresses(addrs);

  std::atomic<bool> stop{false};
  std::thread heartbeats([&] {
    while (!stop) {
      for (int i = 0; i < 300 && !stop; ++i) std::this_thread::sleep_for(100ms);
      if (!stop) api.heartbeat();
    }
  });

  Instruction current = reg->instruction;
  unsigned failures = 0;
  for (;;) {
    switch (current.action) {
      case Action::reboot:
      case Action::poweroff:
        stop = true;
        heartbeats.join();
        finish(current.action == Action::poweroff, "instructed");
      case Action::wipe: {
        auto report = wipe_disks(api, current.mode, cmdline.wipe_usb);
        report.wipe_id = current.wipe_id;
        std::size_t failed = 0;
        for (const auto& d : report.disks) failed += d.error.empty() ? 0 : 1;
        say("wipe: reporting " + std::to_string(report.disks.size() - failed) + " wiped, " + std::to_string(failed) +
            " failed, " + std::to_string(report.skipped.size()) + " skipped disk(s)");
        auto next = api.wiped(report);
        current = next.value_or(Instruction{});
        if (failed != 0 && current.action == Action::wipe) {
          say("wipe: failed; trying again in 60 s");
          std::this_thread::sleep_for(60s);
        }
        say("instruction: " + action_name(current.action));
        continue;
      }
      case Action::wait:
        break;
    }
    auto poll = api.poll_instruction(kPollSeconds);
    if (poll.instruction) {
      failures = 0;
      if (!(*poll.instruction == current)) say("instruction: " + action_name(poll.instruction->action));
      current = *poll.instruction;
      continue;
    }
    if (poll.not_found || poll.unauthorized || poll.forbidden) {
      // 404: the Server is gone; 401: the session lapsed (ironboot down longer than its TTL)
      // or was superseded. Registering again presents the boot token while it lasts; after
      // that only a new PXE boot brings a new one.
      say(poll.not_found ? "ironboot does not know this agent any more: registering again"
                         : "ironboot refuses this session (" + poll.error + "): registering again");
      // 403: this boot has not proven the Server's TPM (an ironboot restart forgot it was proven).
      api.pause(api.failure_delay(++failures));
      auto fresh = collect_facts(fs, system_addresses(), mac);
      fresh.bmc = facts.bmc;
      reg = api.register_until_accepted(register_body(fresh));
      if (!reg) {
        stop = true;
        heartbeats.join();
        finish(false, kBootRefused);
      }
      current = reg->instruction;
      api.addresses(sys::ipv4_addresses(ifname));
      continue;
    }
    auto d = api.failure_delay(++failures);
    say("poll: " + poll.error + ", retry in " + std::to_string(d.count()) + " ms");
    api.pause(d);
    current = Instruction{};
  }
}

int facts_main(const std::string& root) {
  DirFsRoot fs(root);
  auto facts = collect_facts(fs, root.empty() ? system_addresses() : AddressList{}, "");
  std::printf("%s\n", register_body(facts).c_str());
  for (const auto& n : facts.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  return 0;
}

// One register outside the initramfs, for checking a machine's TPM identity by hand:
// `--register URL --token TOKEN [--tpm SPEC] [--body FILE]`. 0 when ironboot accepted it.
int register_main(const std::vector<std::string>& args) {
  std::string url, token, tpm_spec, body_file;
  for (std::size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--token") token = args[i + 1];
    else if (args[i] == "--tpm") tpm_spec = args[i + 1];
    else if (args[i] == "--body") body_file = args[i + 1];
    else if (args[i] == "--register") url = args[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", args[i].c_str());
      return 2;
    }
  }
  if (args.size() % 2 != 0 || url.empty() || token.empty()) {
    std::fprintf(stderr, "usage: ironboot-agent --register URL --token TOKEN [--tpm tcp:IP:PORT|DEVICE] [--body FILE]\n");
    return 2;
  }
  auto endpoint = parse_endpoint(url);
  if (!endpoint.endpoint) {
    std::fprintf(stderr, "%s: %s\n", url.c_str(), endpoint.error.c_str());
    return 2;
  }
  std::string body;
  if (!body_file.empty()) {
    auto text = ironboot::read_file(body_file, 1 << 20);
    if (!text) {
      std::fprintf(stderr, "%s: cannot be read\n", body_file.c_str());
      return 2;
    }
    body = *text;
  } else {
    DirFsRoot fs;
    body = register_body(collect_facts(fs, system_addresses(), ""));
  }
  std::unique_ptr<TpmAttestor> attestor;
  if (!tpm_spec.empty() && !(attestor = open_attestor(tpm_spec))) return 1;
  BeastHttpClient http(*endpoint.endpoint);
  AgentApi api(http, token, Pacer::real(1), say);
  api.set_attestor(attestor.get());
  auto reg = api.register_until_accepted(body, 1);
  if (!reg) return 1;
  say("registered as Server " + reg->server + ", instruction: " + action_name(reg->instruction.action));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "--facts") {
    std::string root = args.size() >= 3 && args[1] == "--root" ? args[2] : "";
    return facts_main(root);
  }
  if (!args.empty() && args[0] == "--register") return register_main(args);
  if (::getpid() != 1) {
    std::fprintf(stderr,
                 "usage: ironboot-agent            (as PID 1 of the agent initramfs)\n"
                 "       ironboot-agent --facts [--root DIR]   print the register body\n"
                 "       ironboot-agent --register URL --token TOKEN [--tpm SPEC] [--body FILE]   register once\n");
    return 2;
  }
  try {
    return init_main();
  } catch (const std::exception& e) {
    say(std::string("fatal: ") + e.what());
  }
  std::this_thread::sleep_for(30s);
  finish(false, "agent failed");
}
