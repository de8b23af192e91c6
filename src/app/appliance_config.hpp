// The appliance's own configuration, appliance.yaml on the image's IRONBOOT partition: what
// the operator edits before first boot. Pure: parsing, and rendering the systemd-networkd
// files, resolv.conf and the merged ironboot.yaml; the shell that reads sysfs and writes files
// is appliance_setup.cpp.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ironboot::appliance {

// An interface named by MAC address ("52:54:00:aa:00:01", stored lower-case) or by name.
struct InterfaceRef {
  std::string mac;
  std::string name;
  bool empty() const { return mac.empty() && name.empty(); }
  bool operator==(const InterfaceRef&) const = default;
};

struct ManagementConfig {
  InterfaceRef interface;      // empty: every Ethernet interface (the default configuration)
  bool dhcp = true;
  std::string address;         // CIDR ("192.168.50.2/24") when !dhcp
  std::string gateway;
  std::vector<std::string> dns;
  std::vector<std::string> ntp;
};

struct ProvisioningConfig {
  InterfaceRef interface;
  std::string address;         // CIDR
  int vlan = 0;                // 0 = untagged on the interface itself
};

struct ApplianceConfig {
  ManagementConfig management;
  std::optional<ProvisioningConfig> provisioning;  // none: ironboot serves no PXE clients
  std::vector<std::string> ssh_authorized_keys;
  std::string ironboot_overrides;  // YAML text of the `ironboot:` map ("" = none)
  int ironboot_overrides_line = 0;
  std::string cluster_mode;        // "" = ironboot.yaml's (embedded)
  std::string cluster_kubeconfig;  // the kubeconfig's text, with cluster.mode kubeconfig
};

struct ParseResult {
  std::optional<ApplianceConfig> config;  // set only when errors is empty
  std::vector<std::string> errors;        // "FILE:LINE:COL: message", every one found
};

// Parses appliance.yaml. Every problem found is reported, not just the first, so that the
// operator fixes the file in one go.
ParseResult parse_appliance_config(const std::string& yaml_text, const std::string& source_name);

// The configuration without appliance.yaml: DHCP on every Ethernet interface and no
// provisioning interface (ironboot's API runs; proxyDHCP and TFTP are off).
ApplianceConfig default_appliance_config();

// Where the interfaces are: MAC -> kernel name, read from /sys/class/net by the shell.
using InterfaceNames = std::map<std::string, std::string>;
// The kernel name of an interface, or nullopt when no interface has that MAC.
std::optional<std::string> resolve_interface(const InterfaceRef& ref, const InterfaceNames& names);

// The name of the provisioning VLAN's netdev ("prov100").
std::string vlan_netdev_name(int vlan);

// systemd-networkd files: file name -> content, for /run/systemd/network.
std::map<std::string, std::string> render_networkd(const ApplianceConfig& c);

// /etc/resolv.conf ("" when management has no DNS servers and DHCP supplies none here).
std::string render_resolv_conf(const ApplianceConfig& c);

struct RuntimeFacts {
  std::string provisioning_interface;  // kernel name ironboot binds to ("" = none)
  std::string management_ip;           // "" = not known (DHCP without a lease yet)
  std::string kubeconfig_path;         // where the cluster kubeconfig was written
};

// The ironboot.yaml the appliance runs: `base_yaml` (the packaged default) with the appliance's
// interface, addresses and API listen address, then the operator's `ironboot:` overrides merged
// over it (maps key by key, everything else replaced). Throws ConfigError if the result is not
// a valid ironboot configuration.
std::string render_ironboot_yaml(const ApplianceConfig& c, const RuntimeFacts& facts, const std::string& base_yaml);

// "52-54-00-AA-00-01" -> "52:54:00:aa:00:01" (the form sysfs and networkd use).
std::string lower_mac(std::string mac);

// The IPv4 address of a CIDR ("10.100.0.2/24" -> "10.100.0.2").
std::string cidr_address(const std::string& cidr);

}  // namespace ironboot::appliance
