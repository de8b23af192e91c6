// Pure parsers for procfs/sysfs contents: text in, values out. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/facts.hpp"

namespace ironboot::agent::sysfs {

struct CpuCounts {
  std::uint32_t sockets = 0, cores = 0, threads = 0;
};

struct CpuInfo {
  CpuCounts counts;
  std::string vendor;      // "Intel", "AMD", or vendor_id as given
  std::string model_name;  // first "model name"
  std::uint32_t mhz = 0;   // first "cpu MHz", truncated
};

// /proc/cpuinfo (x86 layout; other layouts give what they have).
CpuInfo parse_cpuinfo(std::string_view text);

struct CpuTopology {
  int package = 0, core = 0;
};

// Counts from /sys/devices/system/cpu/cpuN/topology/{physical_package_id,core_id}.
CpuCounts count_topology(const std::vector<CpuTopology>& cpus);

// "0-3,8,10-11" -> 7; nullopt when malformed.
std::optional<std::uint32_t> count_cpu_list(std::string_view list);

// Decimal or 0x-hex unsigned integer with surrounding whitespace; nullopt when malformed.
std::optional<std::uint64_t> parse_uint(std::string_view text, int base = 10);

// /proc/meminfo MemTotal in MB.
std::optional<std::uint64_t> parse_meminfo_total_mb(std::string_view text);

struct BlockAttrs {
  std::string name;         // "sda", "nvme0n1"
  std::string size;         // /sys/block/X/size: 512-byte sectors
  std::string rotational;   // queue/rotational
  std::string removable, read_only;
  std::string model, serial, wwid, vendor;
  std::string scsi_type;    // device/type: 5 = CD/DVD
};

// Whether a /sys/block entry is a virtual device not worth reporting or wiping.
bool is_virtual_block(std::string_view name);

// How a block device is attached, from the target of its /sys/block/X link
// ("../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1") and, for NVMe, the controller's
// /sys/class/nvme/nvmeN/transport ("pcie", "tcp", "rdma", "fc", "loop"; "" when unknown).
// kind: ata, nvme, virtio, scsi (a local HBA: SAS, RAID), mmc — local; usb, fc, iscsi,
// nvme-tcp/-rdma/-fc/-loop, nbd, rbd, loop, md, dm, zram, ram, fd, virtual, unknown — not.
struct BlockTransport {
  std::string kind;
  bool local = false;
  bool operator==(const BlockTransport&) const = default;
};
BlockTransport classify_block_transport(std::string_view name, std::string_view sysfs_path,
                                        std::string_view nvme_transport);

// A disk from its attributes; nullopt when the size is missing or malformed.
std::optional<Disk> make_disk(const BlockAttrs& a);

// Serial from a SCSI VPD page 0x80 (unit serial number) as exposed in device/vpd_pg80.
std::string vpd80_serial(std::string_view page);

// net_device flags (hex text of /sys/class/net/X/flags) as "up|broadcast|multicast";
// `running` is added when the carrier is up.
std::string format_net_flags(std::uint32_t flags, bool running);

// "0x020000" -> "Ethernet controller"; vendor prefixed for display controllers (GPUs).
std::string pci_description(std::string_view vendor, std::string_view class_code);

// Vendor name for a PCI vendor id ("10de" -> "NVIDIA Corporation"), "" when not known.
std::string pci_vendor_name(std::string_view vendor);

// Strips "0x" and lower-cases: "0x10DE" -> "10de".
std::string hex_id(std::string_view text);

}  // namespace ironboot::agent::sysfs
