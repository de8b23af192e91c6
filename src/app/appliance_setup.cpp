#include "app/appliance_setup.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "app/appliance_config.hpp"
#include "common/config.hpp"
#include "common/net.hpp"
#include "common/text.hpp"

namespace ironboot::appliance {
namespace {

namespace fs = std::filesystem;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Written beside and renamed over, so that a reader never sees half a file.
bool write_file(const std::string& path, const std::string& content, mode_t mode) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << content;
    out.flush();
    if (!out) return false;
  }
  ::chmod(tmp.c_str(), mode);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return false;
  return true;
}

void say(const std::string& line) { std::cerr << "ironboot appliance-setup: " << line << "\n"; }

InterfaceNames read_interface_names(const std::string& sysfs_net) {
  InterfaceNames names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(sysfs_net, ec)) {
    const std::string name = entry.path().filename();
    if (auto mac = read_file(entry.path() / "address")) names.emplace(lower_mac(std::string(trim(*mac))), name);
  }
  return names;
}

// The NIC may still be probing when the setup runs: wait for it a while.
std::optional<std::string> wait_for_interface(const InterfaceRef& ref, const SetupPaths& paths) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(paths.wait_seconds);
  for (;;) {
    auto name = resolve_interface(ref, read_interface_names(paths.sysfs_net));
    if (name && fs::exists(fs::path(paths.sysfs_net) / *name)) return name;
    if (std::chrono::steady_clock::now() >= deadline) return name;  // a name: networkd may create it later
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

std::string first_ipv4(const std::string& only_interface) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::string found;
  for (ifaddrs* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK)) continue;
    if (!only_interface.empty() && only_interface != a->ifa_name) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    found = Ipv4{ntohl(sin->sin_addr.s_addr)}.to_string();
  }
  ::freeifaddrs(list);
  return found;
}

struct Accepted {
  ApplianceConfig config;
  std::string text;    // "" for the default configuration
  std::string origin;  // where it came from, for the banner
};

// The configuration to run: appliance.yaml if it is good, else the last good one, else the default.
Accepted choose_config(const SetupPaths& paths, std::vector<std::string>& problems) {
  const std::string last_good_path = paths.state_dir + "/appliance.yaml";
  if (auto text = read_file(paths.source)) {
    ParseResult r = parse_appliance_config(*text, paths.source);
    if (r.config) {
      if (!write_file(last_good_path, *text, 0600)) problems.push_back("cannot save " + last_good_path);
      return {std::move(*r.config), *text, paths.source};
    }
    problems.insert(problems.end(), r.errors.begin(), r.errors.end());
  } else {
    problems.push_back(paths.source + ": cannot be read (no IRONBOOT partition, or no appliance.yaml on it)");
  }
  if (auto text = read_file(last_good_path)) {
    ParseResult r = parse_appliance_config(*text, last_good_path);
    if (r.config) return {std::move(*r.config), *text, "the previous appliance.yaml (" + last_good_path + ")"};
    problems.insert(problems.end(), r.errors.begin(), r.errors.end());
  }
  return {default_appliance_config(), "", "the default configuration (DHCP on every Ethernet interface, no provisioning)"};
}

void remove_written_files(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().find("-ironboot-") != std::string::npos) fs::remove(entry.path(), ec);
  }
}

int phase_network(const SetupPaths& paths) {
  std::vector<std::string> problems;
  Accepted a = choose_config(paths, problems);
  for (const auto& p : problems) say(p);
  if (!problems.empty()) say("running on " + a.origin);

  bool ok = true;
  fs::create_directories(paths.networkd_dir);
  remove_written_files(paths.networkd_dir);
  for (const auto& [name, content] : render_networkd(a.config)) ok = write_file(paths.networkd_dir + "/" + name, content, 0644) && ok;
  ok = write_file(paths.run_dir + "/resolv.conf", render_resolv_conf(a.config), 0644) && ok;
  const std::string keys = paths.run_dir + "/authorized_keys";
  if (a.config.ssh_authorized_keys.empty()) {
    std::error_code ec;
    fs::remove(keys, ec);  // sshd's unit runs only when this file exists
  } else {
    std::string content;
    for (const auto& k : a.config.ssh_authorized_keys) content += k + "\n";
    ok = write_file(keys, content, 0600) && ok;
  }
  if (a.text.empty()) {
    std::error_code ec;
    fs::remove(paths.run_dir + "/appliance.yaml", ec);
  } else {
    ok = write_file(paths.run_dir + "/appliance.yaml", a.text, 0600) && ok;
  }
  std::string status = "config: " + a.origin + "\n";
  for (const auto& p : problems) status += "error: " + p + "\n";
  ok = write_file(paths.run_dir + "/status", status, 0644) && ok;
  if (!ok) say("could not write every file under " + paths.networkd_dir + " and " + paths.run_dir);
  return ok ? 0 : 1;
}

int phase_config(const SetupPaths& paths) {
  ApplianceConfig c = default_appliance_config();
  if (auto text = read_file(paths.run_dir + "/appliance.yaml")) {
    ParseResult r = parse_appliance_config(*text, paths.run_dir + "/appliance.yaml");
    if (r.config) c = std::move(*r.config);
  }
  RuntimeFacts facts;
  facts.kubeconfig_path = fs::path(paths.ironboot_yaml).parent_path() / "kubeconfig";
  if (c.provisioning) {
    if (c.provisioning->vlan != 0) {
      facts.provisioning_interface = vlan_netdev_name(c.provisioning->vlan);
    } else if (auto name = wait_for_interface(c.provisioning->interface, paths)) {
      facts.provisioning_interface = *name;
    } else {
      say("provisioning.interface " + c.provisioning->interface.mac + ": no such interface; proxyDHCP and TFTP stay off");
    }
  }
  if (!c.management.dhcp) {
    facts.management_ip = cidr_address(c.management.address);
  } else {
    std::string ifname;
    if (!c.management.interface.empty()) ifname = wait_for_interface(c.management.interface, paths).value_or("");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(paths.wait_seconds);
    while ((facts.management_ip = first_ipv4(ifname)).empty() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    if (facts.management_ip.empty()) say("no DHCP lease on the management interface yet: the API listens on every address");
  }
  if (!c.cluster_kubeconfig.empty() && !write_file(facts.kubeconfig_path, c.cluster_kubeconfig, 0644)) {
    say("cannot write " + facts.kubeconfig_path);
    return 1;
  }
  const std::string base = read_file(paths.base_yaml).value_or("");
  try {
    if (!write_file(paths.ironboot_yaml, render_ironboot_yaml(c, facts, base), 0644)) {
      say("cannot write " + paths.ironboot_yaml);
      return 1;
    }
  } catch (const ConfigError& e) {
    // Checked when appliance.yaml was accepted; reaching here means the base file is bad.
    say(std::string("ironboot.yaml: ") + e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int run_appliance_setup(const std::string& phase, const SetupPaths& paths) {
  if (phase == "network") return phase_network(paths);
  if (phase == "config") return phase_config(paths);
  say("unknown phase '" + phase + "' (network or config)");
  return 2;
}

}  // namespace ironboot::appliance
