// Hardware facts the agent reports: the shape of a Server's spec.hardware
// (assets/crds/server.yaml) plus firmware, PCI devices and boot mode (docs/agent-api.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ironboot::agent {

struct SystemInfo {
  std::string uuid;  // canonical lower-case 8-4-4-4-12, "" when unknown
  std::string manufacturer, product_name, version, serial_number, sku_number, family;
};

struct FirmwareInfo {
  std::string vendor, version, date;
};

struct BoardInfo {  // SMBIOS type 2 (baseboard) or 3 (chassis)
  std::string manufacturer, product_name, version, serial_number, asset_tag;
  std::uint8_t chassis_type = 0;  // type 3 only
};

struct Processor {
  std::string manufacturer, product_name, serial_number;
  std::uint32_t speed_mhz = 0;  // current speed, else max speed
  std::uint32_t core_count = 0, thread_count = 0;
};

struct MemoryModule {
  std::string manufacturer, product_name, serial_number, type, locator;
  std::uint64_t size_mb = 0;
  std::uint32_t speed_mts = 0;
};

struct Disk {
  std::string type;  // HDD, SSD, NVMe, CD, ...
  std::uint64_t size_bytes = 0;
  std::string product_name, serial_number, name, device_name, uuid, wwid;
  bool removable = false, read_only = false;
};

struct NetInterface {
  std::uint32_t index = 0;
  std::string name, flags, mac;
  std::uint32_t mtu = 0;
  bool carrier = false;
  std::vector<std::string> addresses;  // "10.0.0.50/24", "fe80::1/64"
};

struct PciDevice {
  std::string address, vendor, device, class_code, description;
};

// Everything SMBIOS tells us; what is absent stays empty.
struct SmbiosInfo {
  std::uint8_t major = 0, minor = 0;
  bool have_system = false, have_firmware = false;
  SystemInfo system;
  FirmwareInfo firmware;
  BoardInfo baseboard, chassis;
  std::vector<Processor> processors;
  std::vector<MemoryModule> memory;  // populated slots only
};

struct Hardware {
  SystemInfo system;
  std::vector<Processor> processors;
  std::uint32_t total_cores = 0, total_threads = 0;
  std::vector<MemoryModule> memory;
  std::uint64_t memory_total_mb = 0;
  std::vector<Disk> disks;
  std::vector<NetInterface> interfaces;
};

// The BMC's LAN settings as it reports them in-band (IPMI Get LAN Configuration Parameters).
struct BmcLan {
  unsigned channel = 0;
  std::string ip_source;  // static | dhcp | bios | other | unspecified
  std::string address, netmask, gateway, mac;
  unsigned port = 623;    // RMCP+ (the standard port; IPMI has no parameter for it)
};

struct Facts {
  std::string boot_mode;  // "UEFI" or "BIOS"
  std::string boot_mac;
  Hardware hardware;
  FirmwareInfo firmware;
  BoardInfo baseboard, chassis;
  std::vector<PciDevice> pci;
  std::optional<BmcLan> bmc;       // none without /dev/ipmi0
  std::vector<std::string> notes;  // collector errors, for the console
};

}  // namespace ironboot::agent
