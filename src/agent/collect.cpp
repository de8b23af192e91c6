#include "agent/collect.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <map>
#include <span>

#include "agent/smbios.hpp"
#include "common/text.hpp"
#include "agent/sysfs.hpp"

namespace ironboot::agent {
namespace {

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

int prefix_len(const sockaddr* mask) {
  if (!mask) return 0;
  const unsigned char* p = nullptr;
  std::size_t n = 0;
  if (mask->sa_family == AF_INET) {
    p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else if (mask->sa_family == AF_INET6) {
    p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) bits += __builtin_popcount(p[i]);
  return bits;
}

}  // namespace

AddressList system_addresses() {
  AddressList out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !a->ifa_name) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (a->ifa_addr->sa_family == AF_INET) {
      ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, text, sizeof text);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, text, sizeof text);
    } else {
      continue;
    }
    out.emplace_back(a->ifa_name, std::string(text) + "/" + std::to_string(prefix_len(a->ifa_netmask)));
  }
  ::freeifaddrs(list);
  return out;
}

SmbiosInfo collect_dmi_id(const FsRoot& fs) {
  const std::string d = "/sys/class/dmi/id/";
  SmbiosInfo info;
  auto& s = info.system;
  s.manufacturer = read_attr(fs, d + "sys_vendor");
  s.product_name = read_attr(fs, d + "product_name");
  s.version = read_attr(fs, d + "product_version");
  s.serial_number = read_attr(fs, d + "product_serial");
  s.uuid = ascii_lowercase(read_attr(fs, d + "product_uuid"));  // the kernel already fixed the byte order
  s.sku_number = read_attr(fs, d + "product_sku");
  s.family = read_attr(fs, d + "product_family");
  info.have_system = !(s.manufacturer.empty() && s.product_name.empty() && s.uuid.empty());
  info.firmware = {read_attr(fs, d + "bios_vendor"), read_attr(fs, d + "bios_version"), read_attr(fs, d + "bios_date")};
  info.have_firmware = !info.firmware.vendor.empty();
  info.baseboard.manufacturer = read_attr(fs, d + "board_vendor");
  info.baseboard.product_name = read_attr(fs, d + "board_name");
  info.baseboard.version = read_attr(fs, d + "board_version");
  info.baseboard.serial_number = read_attr(fs, d + "board_serial");
  info.chassis.manufacturer = read_attr(fs, d + "chassis_vendor");
  info.chassis.serial_number = read_attr(fs, d + "chassis_serial");
  if (auto t = sysfs::parse_uint(read_attr(fs, d + "chassis_type"))) info.chassis.chassis_type = static_cast<std::uint8_t>(*t);
  return info;
}

SmbiosCollected collect_smbios(const FsRoot& fs) {
  SmbiosCollected out;
  auto ep = fs.read("/sys/firmware/dmi/tables/smbios_entry_point", 4096);
  auto table = fs.read("/sys/firmware/dmi/tables/DMI", 16 << 20);
  if (ep && table) {
    auto r = smbios::parse(bytes(*ep), bytes(*table));
    if (r.info.have_system) {
      out.info = std::move(r.info);
      out.source = "smbios";
      if (!r.error.empty()) out.note = "SMBIOS table partly malformed: " + r.error;
      return out;
    }
    out.note = r.error.empty() ? "SMBIOS table has no system structure" : "SMBIOS: " + r.error;
  } else {
    out.note = "no SMBIOS tables in /sys/firmware/dmi/tables";
  }
  out.info = collect_dmi_id(fs);
  out.source = out.info.have_system ? "dmi-id" : "";
  return out;
}

CpuCollected collect_cpus(const FsRoot& fs, const std::vector<Processor>& smbios_processors) {
  CpuCollected out;
  std::vector<sysfs::CpuTopology> topo;
  for (const auto& name : fs.list("/sys/devices/system/cpu")) {
    if (name.size() < 4 || name.rfind("cpu", 0) != 0 ||
        !std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::string t = "/sys/devices/system/cpu/" + name + "/topology/";
    auto pkg = sysfs::parse_uint(read_attr(fs, t + "physical_package_id"));
    auto core = sysfs::parse_uint(read_attr(fs, t + "core_id"));
    if (!pkg || !core) continue;  // offline CPUs have no topology
    topo.push_back({static_cast<int>(*pkg), static_cast<int>(*core)});
  }
  auto cpuinfo = sysfs::parse_cpuinfo(fs.read("/proc/cpuinfo").value_or(""));
  sysfs::CpuCounts counts = topo.empty() ? cpuinfo.counts : sysfs::count_topology(topo);
  out.cores = counts.cores;
  out.threads = counts.threads;
  out.processors = smbios_processors;
  if (out.processors.empty() && counts.sockets > 0) {
    // No SMBIOS processors: one entry per socket from /proc/cpuinfo.
    for (std::uint32_t i = 0; i < counts.sockets; ++i) {
      Processor p;
      p.manufacturer = cpuinfo.vendor;
      p.product_name = cpuinfo.model_name;
      p.speed_mhz = cpuinfo.mhz;
      p.core_count = counts.cores / counts.sockets;
      p.thread_count = counts.threads / counts.sockets;
      out.processors.push_back(std::move(p));
    }
  }
  return out;
}

std::vector<Disk> collect_disks(const FsRoot& fs) {
  std::vector<Disk> disks;
  for (const auto& name : fs.list("/sys/block")) {
    if (sysfs::is_virtual_block(name)) continue;
    std::string b = "/sys/block/" + name + "/";
    sysfs::BlockAttrs a;
    a.name = name;
    a.size = read_attr(fs, b + "size");
    a.rotational = read_attr(fs, b + "queue/rotational");
    a.removable = read_attr(fs, b + "removable");
    a.read_only = read_attr(fs, b + "ro");
    a.model = read_attr(fs, b + "device/model");
    a.vendor = read_attr(fs, b + "device/vendor");
    a.scsi_type = read_attr(fs, b + "device/type");
    a.serial = read_attr(fs, b + "device/serial");   // NVMe controller, some SCSI
    if (a.serial.empty()) a.serial = read_attr(fs, b + "serial");  // virtio-blk
    if (a.serial.empty()) a.serial = sysfs::vpd80_serial(fs.read(b + "device/vpd_pg80", 4096).value_or(""));
    a.wwid = read_attr(fs, b + "wwid");  // NVMe namespace
    if (a.wwid.empty()) a.wwid = read_attr(fs, b + "device/wwid");  // SCSI
    if (auto d = sysfs::make_disk(a)) disks.push_back(std::move(*d));
  }
  return disks;
}

std::vector<NetInterface> collect_interfaces(const FsRoot& fs, const AddressList& addresses) {
  std::vector<NetInterface> out;
  for (const auto& name : fs.list("/sys/class/net")) {
    if (name == "lo") continue;
    std::string n = "/sys/class/net/" + name + "/";
    NetInterface i;
    i.name = name;
    i.index = static_cast<std::uint32_t>(sysfs::parse_uint(read_attr(fs, n + "ifindex")).value_or(0));
    i.mtu = static_cast<std::uint32_t>(sysfs::parse_uint(read_attr(fs, n + "mtu")).value_or(0));
    i.mac = ascii_lowercase(read_attr(fs, n + "address"));
    i.carrier = read_attr(fs, n + "carrier") == "1";
    auto flags = sysfs::parse_uint(read_attr(fs, n + "flags"), 16).value_or(0);
    i.flags = sysfs::format_net_flags(static_cast<std::uint32_t>(flags), i.carrier);
    for (const auto& [ifname, addr] : addresses)
      if (ifname == name) i.addresses.push_back(addr);
    out.push_back(std::move(i));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
  return out;
}

std::vector<PciDevice> collect_pci(const FsRoot& fs) {
  std::vector<PciDevice> out;
  for (const auto& addr : fs.list("/sys/bus/pci/devices")) {
    std::string p = "/sys/bus/pci/devices/" + addr + "/";
    PciDevice d;
    d.address = addr;
    d.vendor = sysfs::hex_id(read_attr(fs, p + "vendor"));
    d.device = sysfs::hex_id(read_attr(fs, p + "device"));
    d.class_code = sysfs::hex_id(read_attr(fs, p + "class"));
    if (d.vendor.empty() || d.class_code.empty()) continue;
    d.description = sysfs::pci_description(d.vendor, d.class_code);
    out.push_back(std::move(d));
  }
  return out;
}

std::string collect_boot_mode(const FsRoot& fs) { return fs.exists("/sys/firmware/efi") ? "UEFI" : "BIOS"; }

Facts collect_facts(const FsRoot& fs, const AddressList& addresses, const std::string& boot_mac) {
  Facts f;
  f.boot_mode = collect_boot_mode(fs);
  f.boot_mac = ascii_lowercase(boot_mac);
  auto sm = collect_smbios(fs);
  if (!sm.note.empty()) f.notes.push_back(sm.note);
  f.hardware.system = sm.info.system;
  f.firmware = sm.info.firmware;
  f.baseboard = sm.info.baseboard;
  f.chassis = sm.info.chassis;
  auto cpus = collect_cpus(fs, sm.info.processors);
  f.hardware.processors = std::move(cpus.processors);
  f.hardware.total_cores = cpus.cores;
  f.hardware.total_threads = cpus.threads;
  f.hardware.memory = sm.info.memory;
  for (const auto& m : f.hardware.memory) f.hardware.memory_total_mb += m.size_mb;
  if (f.hardware.memory_total_mb == 0)
    f.hardware.memory_total_mb = sysfs::parse_meminfo_total_mb(fs.read("/proc/meminfo").value_or("")).value_or(0);
  f.hardware.disks = collect_disks(fs);
  f.hardware.interfaces = collect_interfaces(fs, addresses);
  if (f.boot_mac.empty()) {
    for (const auto& i : f.hardware.interfaces)
      if (i.carrier && !i.addresses.empty()) {
        f.boot_mac = i.mac;
        break;
      }
  }
  f.pci = collect_pci(fs);
  return f;
}

}  // namespace ironboot::agent
