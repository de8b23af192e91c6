// Collectors: read a machine's facts through an FsRoot (the live system or a fixture tree).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/facts.hpp"
#include "agent/fs_root.hpp"

namespace ironboot::agent {

// (interface name, "address/prefix") pairs, as getifaddrs reports them.
using AddressList = std::vector<std::pair<std::string, std::string>>;

// getifaddrs() of the running system (IPv4 and IPv6).
AddressList system_addresses();

struct SmbiosCollected {
  SmbiosInfo info;
  std::string source;  // "smbios", "dmi-id" or "" (nothing found)
  std::string note;    // why SMBIOS tables were not used, if they were not
};

// SMBIOS tables, else /sys/class/dmi/id.
SmbiosCollected collect_smbios(const FsRoot& fs);
SmbiosInfo collect_dmi_id(const FsRoot& fs);

struct CpuCollected {
  std::vector<Processor> processors;
  std::uint32_t cores = 0, threads = 0;
};
// Totals from sysfs topology (else /proc/cpuinfo); processor details from SMBIOS when present.
CpuCollected collect_cpus(const FsRoot& fs, const std::vector<Processor>& smbios_processors);

std::vector<Disk> collect_disks(const FsRoot& fs);
std::vector<NetInterface> collect_interfaces(const FsRoot& fs, const AddressList& addresses);
std::vector<PciDevice> collect_pci(const FsRoot& fs);
std::string collect_boot_mode(const FsRoot& fs);

// Everything above, assembled for the register request.
Facts collect_facts(const FsRoot& fs, const AddressList& addresses, const std::string& boot_mac);

}  // namespace ironboot::agent
