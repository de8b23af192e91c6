#include "app/appliance_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "common/config.hpp"
#include "common/net.hpp"
#include "common/text.hpp"

namespace ironboot::appliance {
namespace {

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  void error(const YAML::Node& at, const std::string& message) {
    const YAML::Mark m = at.Mark();
    errors_.push_back(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + message);
  }
  void error_at(const YAML::Mark& m, const std::string& message) {
    errors_.push_back(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + message);
  }

  // Keys of `map` outside `known` are errors: a misspelled key must not be silently ignored.
  bool check_map(const YAML::Node& map, const std::string& where, std::initializer_list<const char*> known) {
    if (!map.IsMap()) {
      error(map, where + ": must be a map");
      return false;
    }
    for (const auto& kv : map) {
      const std::string key = kv.first.Scalar();
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; }))
        error(kv.first, where + ": unknown key '" + key + "'");
    }
    return true;
  }

  std::optional<std::string> scalar(const YAML::Node& n, const std::string& where) {
    if (!n.IsScalar()) {
      error(n, where + ": must be a string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::vector<std::string> string_list(const YAML::Node& n, const std::string& where) {
    std::vector<std::string> out;
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      for (const auto& item : n) {
        if (auto s = scalar(item, where)) out.push_back(*s);
      }
    } else if (!n.IsNull()) {
      error(n, where + ": must be a string or a list of strings");
    }
    return out;
  }

  std::optional<InterfaceRef> interface(const YAML::Node& n, const std::string& where) {
    auto s = scalar(n, where);
    if (!s) return std::nullopt;
    InterfaceRef ref;
    if (is_mac(*s)) {
      ref.mac = lower_mac(*s);
    } else if (!s->empty() && s->size() < 16 && s->find_first_of("/: \t") == std::string::npos) {
      ref.name = *s;
    } else {
      error(n, where + ": '" + *s + "' is neither a MAC address (52:54:00:aa:00:01) nor an interface name");
      return std::nullopt;
    }
    return ref;
  }

  bool ipv4(const YAML::Node& n, const std::string& where, std::string& out) {
    auto s = scalar(n, where);
    if (!s) return false;
    if (!parse_ipv4(*s)) {
      error(n, where + ": '" + *s + "' is not an IPv4 address");
      return false;
    }
    out = *s;
    return true;
  }

  bool cidr(const YAML::Node& n, const std::string& where, std::string& out) {
    auto s = scalar(n, where);
    if (!s) return false;
    const auto slash = s->find('/');
    int prefix = -1;
    if (slash != std::string::npos) {
      const char* first = s->data() + slash + 1;
      const char* last = s->data() + s->size();
      auto [p, ec] = std::from_chars(first, last, prefix);
      if (ec != std::errc{} || p != last || first == last) prefix = -1;
    }
    if (slash == std::string::npos || prefix < 1 || prefix > 32 || !parse_ipv4(s->substr(0, slash))) {
      error(n, where + ": '" + *s + "' is not an IPv4 address with a prefix length (10.100.0.2/24)");
      return false;
    }
    out = *s;
    return true;
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  static bool is_mac(const std::string& s) {
    if (s.size() != 17) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (i % 3 == 2) {
        if (c != ':' && c != '-') return false;
      } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
        return false;
      }
    }
    return true;
  }

  std::string source_;
  std::vector<std::string> errors_;
};

void parse_management(Parser& p, const YAML::Node& n, ManagementConfig& m) {
  if (!p.check_map(n, "management", {"interface", "address", "gateway", "dns", "ntp"})) return;
  if (n["interface"]) {
    if (auto ref = p.interface(n["interface"], "management.interface")) m.interface = *ref;
  } else {
    p.error(n, "management.interface: required (a MAC address or an interface name)");
  }
  if (const auto a = n["address"]) {
    if (a.IsScalar() && iequals(a.Scalar(), "dhcp")) {
      m.dhcp = true;
    } else if (p.cidr(a, "management.address", m.address)) {
      m.dhcp = false;
    }
  }
  if (n["gateway"]) p.ipv4(n["gateway"], "management.gateway", m.gateway);
  if (n["dns"]) {
    for (const auto& s : p.string_list(n["dns"], "management.dns")) {
      if (parse_ipv4(s)) m.dns.push_back(s);
      else p.error(n["dns"], "management.dns: '" + s + "' is not an IPv4 address");
    }
  }
  if (n["ntp"]) {
    for (const auto& s : p.string_list(n["ntp"], "management.ntp")) {
      if (!s.empty() && s.find_first_of(" \t\n") == std::string::npos) m.ntp.push_back(s);
      else p.error(n["ntp"], "management.ntp: '" + s + "' is not a host name or address");
    }
  }
}

void parse_provisioning(Parser& p, const YAML::Node& n, ProvisioningConfig& v) {
  if (!p.check_map(n, "provisioning", {"interface", "address", "vlan"})) return;
  if (n["interface"]) {
    if (auto ref = p.interface(n["interface"], "provisioning.interface")) v.interface = *ref;
  } else {
    p.error(n, "provisioning.interface: required (a MAC address or an interface name)");
  }
  if (n["address"]) {
    p.cidr(n["address"], "provisioning.address", v.address);
  } else {
    p.error(n, "provisioning.address: required (proxyDHCP needs a fixed address, e.g. 10.100.0.2/24)");
  }
  if (const auto vlan = n["vlan"]) {
    int id = 0;
    if (!vlan.IsScalar() || !YAML::convert<int>::decode(vlan, id) || id < 1 || id > 4094) {
      p.error(vlan, "provisioning.vlan: must be a VLAN id 1..4094");
    } else {
      v.vlan = id;
    }
  }
}

std::string networkd_lists(const char* key, const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) out += std::string(key) + "=" + v + "\n";
  return out;
}

std::string match_section(const InterfaceRef& ref) {
  // Type=ether: a VLAN netdev has its parent's MAC and must not match the parent's file.
  std::string out = "[Match]\n";
  if (!ref.mac.empty()) out += "MACAddress=" + ref.mac + "\n";
  else if (!ref.name.empty()) out += "Name=" + ref.name + "\n";
  else out += "Name=en* eth*\n";
  return out + "Type=ether\n";
}

// Maps merged key by key; anything else in `over` replaces what `base` has.
YAML::Node merge(const YAML::Node& base, const YAML::Node& over) {
  if (!base.IsMap() || !over.IsMap()) return YAML::Clone(over);
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    const std::string key = kv.first.Scalar();
    out[key] = out[key] ? merge(out[key], kv.second) : YAML::Clone(kv.second);
  }
  return out;
}

}  // namespace

std::string lower_mac(std::string mac) {
  for (char& ch : mac) ch = ch == '-' ? ':' : ascii_lower(ch);
  return mac;
}

std::string cidr_address(const std::string& cidr) { return cidr.substr(0, cidr.find('/')); }

std::string vlan_netdev_name(int vlan) { return "prov" + std::to_string(vlan); }

ApplianceConfig default_appliance_config() { return ApplianceConfig{}; }

ParseResult parse_appliance_config(const std::string& yaml_text, const std::string& source_name) {
  ParseResult result;
  Parser p(source_name);
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    p.error_at(e.mark, e.msg);
    result.errors = p.errors();
    return result;
  }
  ApplianceConfig c;
  if (root.IsNull()) {
    p.error_at(YAML::Mark(), "empty: appliance.yaml needs at least 'management'");
  } else if (p.check_map(root, "appliance.yaml", {"management", "provisioning", "ssh_authorized_keys", "ironboot", "cluster"})) {
    if (root["management"]) parse_management(p, root["management"], c.management);
    else p.error(root, "management: required");
    if (const auto n = root["provisioning"]; n && !n.IsNull()) {
      c.provisioning.emplace();
      parse_provisioning(p, n, *c.provisioning);
    }
    if (const auto n = root["ssh_authorized_keys"]) {
      for (const auto& key : p.string_list(n, "ssh_authorized_keys")) {
        const bool known = key.starts_with("ssh-") || key.starts_with("ecdsa-") || key.starts_with("sk-");
        if (!known || key.find('\n') != std::string::npos || key.find(' ') == std::string::npos)
          p.error(n, "ssh_authorized_keys: not an OpenSSH public key line: '" + key.substr(0, 40) + "'");
        else c.ssh_authorized_keys.push_back(key);
      }
    }
    if (const auto n = root["ironboot"]; n && !n.IsNull()) {
      if (!n.IsMap()) {
        p.error(n, "ironboot: must be a map of ironboot.yaml keys");
      } else {
        YAML::Emitter out;
        out << n;
        c.ironboot_overrides = out.c_str();
        c.ironboot_overrides_line = n.Mark().line + 1;
      }
    }
    if (const auto n = root["cluster"]; n && !n.IsNull() && p.check_map(n, "cluster", {"mode", "kubeconfig"})) {
      if (n["mode"]) {
        if (auto mode = p.scalar(n["mode"], "cluster.mode")) {
          if (*mode != "embedded" && *mode != "kubeconfig" && *mode != "in-cluster")
            p.error(n["mode"], "cluster.mode: must be embedded, kubeconfig or in-cluster");
          else c.cluster_mode = *mode;
        }
      }
      if (n["kubeconfig"]) {
        if (auto text = p.scalar(n["kubeconfig"], "cluster.kubeconfig")) c.cluster_kubeconfig = *text;
      }
      if (c.cluster_mode == "kubeconfig" && c.cluster_kubeconfig.empty())
        p.error(n, "cluster.kubeconfig: required with mode kubeconfig (the kubeconfig's text)");
    }
  }
  if (c.provisioning && c.provisioning->vlan == 0 && !c.provisioning->interface.empty() &&
      c.provisioning->interface == c.management.interface)
    p.error(root["provisioning"], "provisioning.interface: the management interface too; untagged, one of them needs a vlan");
  result.errors = p.errors();
  if (result.errors.empty()) {
    // The overrides must make a valid ironboot.yaml; checked here so that a bad one counts as
    // a bad appliance.yaml (reported with its line, the previous configuration kept).
    try {
      render_ironboot_yaml(c, RuntimeFacts{"eth0", "192.0.2.1", "/run/ironboot/kubeconfig"}, "{}");
    } catch (const ConfigError& e) {
      result.errors.push_back(source_name + ":" + std::to_string(c.ironboot_overrides_line) + ": ironboot: " + e.what());
    } catch (const YAML::Exception& e) {
      result.errors.push_back(source_name + ":" + std::to_string(c.ironboot_overrides_line) + ": ironboot: " + e.msg);
    }
  }
  if (result.errors.empty()) result.config = std::move(c);
  return result;
}

std::optional<std::string> resolve_interface(const InterfaceRef& ref, const InterfaceNames& names) {
  if (!ref.name.empty()) return ref.name;
  auto it = names.find(ref.mac);
  if (it == names.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::string> render_networkd(const ApplianceConfig& c) {
  std::map<std::string, std::string> files;
  const ManagementConfig& m = c.management;
  const bool shared = c.provisioning && c.provisioning->vlan != 0 && c.provisioning->interface == m.interface;

  std::string mgmt = "# Written by ironboot appliance-setup from appliance.yaml.\n" + match_section(m.interface) + "\n[Link]\n";
  // A DHCP management network may be absent (default configuration): boot does not wait for it.
  mgmt += m.dhcp ? "RequiredForOnline=no\n" : "RequiredForOnline=routable\n";
  mgmt += "\n[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n";
  if (m.dhcp) mgmt += "DHCP=ipv4\n";
  else mgmt += "Address=" + m.address + "\n" + (m.gateway.empty() ? "" : "Gateway=" + m.gateway + "\n");
  mgmt += networkd_lists("DNS", m.dns) + networkd_lists("NTP", m.ntp);
  if (shared) mgmt += "VLAN=" + vlan_netdev_name(c.provisioning->vlan) + "\n";
  files["10-ironboot-management.network"] = mgmt;

  if (!c.provisioning) return files;
  const ProvisioningConfig& v = *c.provisioning;
  std::string prov_name = "Name=" + vlan_netdev_name(v.vlan) + "\n";
  if (v.vlan != 0) {
    files["20-ironboot-provisioning.netdev"] = "# Written by ironboot appliance-setup from appliance.yaml.\n[NetDev]\nName=" +
                                               vlan_netdev_name(v.vlan) + "\nKind=vlan\n\n[VLAN]\nId=" +
                                               std::to_string(v.vlan) + "\n";
    if (!shared) {
      // The trunk carries only the tagged VLAN: no address of its own.
      files["20-ironboot-provisioning-trunk.network"] = "# Written by ironboot appliance-setup from appliance.yaml.\n" +
                                                       match_section(v.interface) +
                                                       "\n[Link]\nRequiredForOnline=carrier\n\n[Network]\n"
                                                       "LinkLocalAddressing=no\nIPv6AcceptRA=no\nVLAN=" +
                                                       vlan_netdev_name(v.vlan) + "\n";
    }
    files["21-ironboot-provisioning.network"] = "# Written by ironboot appliance-setup from appliance.yaml.\n[Match]\n" + prov_name +
                                                "\n[Link]\nRequiredForOnline=routable\n\n[Network]\n"
                                                "LinkLocalAddressing=no\nIPv6AcceptRA=no\nAddress=" + v.address + "\n";
  } else {
    files["20-ironboot-provisioning.network"] = "# Written by ironboot appliance-setup from appliance.yaml.\n" +
                                                match_section(v.interface) +
                                                "\n[Link]\nRequiredForOnline=routable\n\n[Network]\n"
                                                "LinkLocalAddressing=no\nIPv6AcceptRA=no\nAddress=" + v.address + "\n";
  }
  return files;
}

std::string render_resolv_conf(const ApplianceConfig& c) {
  std::string out = "# Written by ironboot appliance-setup from appliance.yaml.\n";
  for (const auto& d : c.management.dns) out += "nameserver " + d + "\n";
  return out;
}

std::string render_ironboot_yaml(const ApplianceConfig& c, const RuntimeFacts& facts, const std::string& base_yaml) {
  YAML::Node base = YAML::Load(base_yaml);
  if (!base.IsMap()) base = YAML::Node(YAML::NodeType::Map);
  YAML::Node derived(YAML::NodeType::Map);
  if (c.provisioning && !facts.provisioning_interface.empty()) {
    derived["interface"] = facts.provisioning_interface;
    derived["advertise_address"] = cidr_address(c.provisioning->address);
  } else {
    // No provisioning network: nothing may answer PXE clients on the management network.
    derived["dhcp"]["enabled"] = false;
    derived["tftp"]["enabled"] = false;
  }
  derived["cluster"]["embedded"]["listen"] = (facts.management_ip.empty() ? std::string("0.0.0.0") : facts.management_ip) + ":6443";
  derived["cluster"]["embedded"]["data_dir"] = "/var/lib/ironboot";
  if (!c.cluster_mode.empty()) derived["cluster"]["mode"] = c.cluster_mode;
  if (!c.cluster_kubeconfig.empty()) derived["cluster"]["kubeconfig"] = facts.kubeconfig_path;
  YAML::Node merged = merge(base, derived);
  if (!c.ironboot_overrides.empty()) merged = merge(merged, YAML::Load(c.ironboot_overrides));
  YAML::Emitter out;
  out << merged;
  std::string text = std::string("# Written by ironboot appliance-setup: the packaged ironboot.yaml, the appliance's\n"
                                 "# addresses, then the `ironboot:` overrides of appliance.yaml.\n") +
                     out.c_str() + "\n";
  parse_config(text, "ironboot.yaml (merged)");  // throws ConfigError
  return text;
}

}  // namespace ironboot::appliance
