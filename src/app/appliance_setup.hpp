// `ironboot appliance-setup` and `ironboot appliance-status`: the appliance image's boot-time
// configuration from appliance.yaml (see appliance_config.hpp) and its console banner.
#pragma once

#include <string>

namespace ironboot::appliance {

struct SetupPaths {
  std::string source = "/boot/ironboot/appliance.yaml";         // the IRONBOOT partition
  std::string state_dir = "/var/lib/ironboot-appliance";         // the last good appliance.yaml
  std::string run_dir = "/run/ironboot-appliance";               // accepted config, status, ssh keys
  std::string networkd_dir = "/run/systemd/network";
  std::string ironboot_yaml = "/run/ironboot/ironboot.yaml";
  std::string base_yaml = "/usr/lib/ironboot/appliance/ironboot.yaml";  // the packaged default
  std::string sysfs_net = "/sys/class/net";
  int wait_seconds = 20;  // for a NIC to appear / a DHCP lease on the management interface
};

// Phase "network" (before systemd-networkd): reads appliance.yaml, falls back to the last good
// one (or the default) when it is bad, writes the networkd files, resolv.conf and the SSH keys.
// Phase "config" (before ironboot, after the network is up): writes ironboot.yaml with the
// interfaces' kernel names and the management address. Returns 0 unless nothing could be
// written; a bad appliance.yaml is reported on stderr and in the status, not an exit status.
int run_appliance_setup(const std::string& phase, const SetupPaths& paths);

// The console banner: version, addresses, API URL, Servers, what failed.
int print_appliance_status(const SetupPaths& paths, const std::string& config_path);

}  // namespace ironboot::appliance
