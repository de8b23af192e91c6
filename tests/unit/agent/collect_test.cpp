#include "agent/collect.hpp"

#include <gtest/gtest.h>

#include <map>

#include "agent/sysfs.hpp"

namespace ironboot::agent {
namespace {

const std::string kTree = "tests/unit/agent/fixtures/tree";

TEST(SysfsParse, CpuinfoCountsSocketsCoresThreads) {
  std::string text =
      "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6130\ncpu MHz\t\t: 2100.123\n"
      "physical id\t: 0\ncore id\t\t: 0\n\n"
      "processor\t: 1\nvendor_id\t: GenuineIntel\nphysical id\t: 0\ncore id\t\t: 0\n\n"
      "processor\t: 2\nphysical id\t: 1\ncore id\t\t: 3\n";
  auto info = sysfs::parse_cpuinfo(text);
  EXPECT_EQ(info.counts.threads, 3u);
  EXPECT_EQ(info.counts.cores, 2u);
  EXPECT_EQ(info.counts.sockets, 2u);
  EXPECT_EQ(info.vendor, "Intel");
  EXPECT_EQ(info.model_name, "Intel(R) Xeon(R) Gold 6130");
  EXPECT_EQ(info.mhz, 2100u);
  EXPECT_EQ(sysfs::parse_cpuinfo("").counts.threads, 0u);
}

// What a sysfs value loses before it is parsed: blanks at both ends, NULs at the end only.
TEST(SysfsParse, ValuesLoseBlanksAtBothEndsAndNulsAtTheEnd) {
  using namespace std::string_view_literals;
  EXPECT_EQ(sysfs::parse_uint("\t\r\n 42 \r\n\t"), 42u);
  EXPECT_EQ(sysfs::parse_uint("42\n\0\0"sv), 42u);
  EXPECT_EQ(sysfs::parse_uint("42\0 \0\n"sv), 42u);
  EXPECT_FALSE(sysfs::parse_uint("\0" "42"sv));  // a leading NUL stays
  EXPECT_FALSE(sysfs::parse_uint("\v42"));       // \v and \f are not trimmed
  EXPECT_FALSE(sysfs::parse_uint("42\f"));
  EXPECT_FALSE(sysfs::parse_uint(" \n\0"sv));
}

TEST(SysfsParse, CpuListAndNumbers) {
  EXPECT_EQ(sysfs::count_cpu_list("0-3,8,10-11\n"), 7u);
  EXPECT_EQ(sysfs::count_cpu_list("0"), 1u);
  EXPECT_FALSE(sysfs::count_cpu_list("3-1"));
  EXPECT_FALSE(sysfs::count_cpu_list("a"));
  EXPECT_FALSE(sysfs::count_cpu_list(""));
  EXPECT_EQ(sysfs::parse_uint(" 42\n"), 42u);
  EXPECT_EQ(sysfs::parse_uint("0x1003", 16), 0x1003u);
  EXPECT_FALSE(sysfs::parse_uint("12x"));
  EXPECT_EQ(sysfs::parse_meminfo_total_mb("MemTotal:  2048000 kB\n"), 2000u);
  EXPECT_FALSE(sysfs::parse_meminfo_total_mb("MemFree: 1 kB"));
}

TEST(SysfsParse, DiskKinds) {
  sysfs::BlockAttrs a;
  a.name = "sda";
  a.size = "100\n";
  a.rotational = "1";
  a.vendor = "ATA     ";
  a.model = "ST2000NM0055";
  auto d = sysfs::make_disk(a);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, "HDD");
  EXPECT_EQ(d->size_bytes, 51200u);
  EXPECT_EQ(d->product_name, "ST2000NM0055");
  EXPECT_EQ(d->device_name, "/dev/sda");
  a.rotational = "0";
  a.vendor = "HGST";
  EXPECT_EQ(sysfs::make_disk(a)->type, "SSD");
  EXPECT_EQ(sysfs::make_disk(a)->product_name, "HGST ST2000NM0055");
  a.name = "nvme1n1";
  EXPECT_EQ(sysfs::make_disk(a)->type, "NVMe");
  a.name = "sr0";
  EXPECT_EQ(sysfs::make_disk(a)->type, "CD");
  a.size = "lots";
  EXPECT_FALSE(sysfs::make_disk(a));
  EXPECT_TRUE(sysfs::is_virtual_block("loop3"));
  EXPECT_TRUE(sysfs::is_virtual_block("zram0"));
  EXPECT_TRUE(sysfs::is_virtual_block("dm-1"));
  EXPECT_FALSE(sysfs::is_virtual_block("sda"));
  EXPECT_EQ(sysfs::vpd80_serial(std::string("\x00\x80\x00\x04WXYZ", 8)), "WXYZ");
  EXPECT_EQ(sysfs::vpd80_serial(std::string("\x00\x80\x00\xffWX", 6)), "WX");  // length clipped
  EXPECT_EQ(sysfs::vpd80_serial("ab"), "");
}

TEST(SysfsParse, NetFlagsAndPci) {
  EXPECT_EQ(sysfs::format_net_flags(0x1003, true), "up|broadcast|multicast|running");
  EXPECT_EQ(sysfs::format_net_flags(0x1002, false), "broadcast|multicast");
  EXPECT_EQ(sysfs::format_net_flags(0x9, true), "up|loopback|running");
  EXPECT_EQ(sysfs::pci_description("0x8086", "0x020000"), "Ethernet controller");
  EXPECT_EQ(sysfs::pci_description("0x10de", "0x030200"), "NVIDIA Corporation 3D controller");
  EXPECT_EQ(sysfs::pci_description("0x1234", "0x030000"), "QEMU VGA compatible controller");
  EXPECT_EQ(sysfs::pci_description("0xabcd", "0x030000"), "VGA compatible controller");
  EXPECT_EQ(sysfs::pci_description("0x8086", "0x0c0330"), "USB controller");
  EXPECT_EQ(sysfs::pci_description("0x8086", "0x05"), "");
  EXPECT_EQ(sysfs::hex_id("0x10DE\n"), "10de");
  EXPECT_EQ(sysfs::hex_id("0xzz"), "");
}

TEST(Collect, FixtureTree) {
  DirFsRoot fs(kTree);
  AddressList addrs = {{"eno1", "10.0.0.50/24"}, {"eno1", "fe80::bacb:29ff:fea1:b2c3/64"}, {"lo", "127.0.0.1/8"}};
  auto f = collect_facts(fs, addrs, "");
  EXPECT_EQ(f.boot_mode, "UEFI");
  EXPECT_EQ(f.hardware.system.manufacturer, "Dell Inc.");
  EXPECT_EQ(f.hardware.system.uuid, "4c4c4544-0042-3510-8051-b7c04f4e4d32");
  EXPECT_EQ(f.firmware.version, "2.13.3");
  // Totals from sysfs topology: 2 sockets x 2 cores x 2 threads.
  EXPECT_EQ(f.hardware.total_cores, 4u);
  EXPECT_EQ(f.hardware.total_threads, 8u);
  ASSERT_EQ(f.hardware.processors.size(), 1u);  // what SMBIOS lists
  EXPECT_EQ(f.hardware.memory_total_mb, 512u);

  // loop0 skipped; removable and optical media reported and flagged.
  ASSERT_EQ(f.hardware.disks.size(), 5u);
  std::map<std::string, Disk> disks;
  for (auto& d : f.hardware.disks) disks[d.name] = d;
  EXPECT_EQ(disks.count("loop0"), 0u);
  EXPECT_EQ(disks["sda"].type, "HDD");
  EXPECT_EQ(disks["sda"].size_bytes, 3907029168ull * 512);
  EXPECT_EQ(disks["sda"].serial_number, "ZC20ABCD");  // from VPD page 0x80
  EXPECT_EQ(disks["sda"].wwid, "t10.ATA     ST2000NM0055-1V4 ZC20ABCD");
  EXPECT_EQ(disks["nvme0n1"].type, "NVMe");
  EXPECT_EQ(disks["nvme0n1"].product_name, "SAMSUNG MZQL2960HCJR-00A07");
  EXPECT_EQ(disks["nvme0n1"].serial_number, "S64FNE0R123456");
  EXPECT_EQ(disks["nvme0n1"].wwid, "eui.36344630528012340025384500000001");
  EXPECT_EQ(disks["sr0"].type, "CD");
  EXPECT_TRUE(disks["sr0"].removable);
  EXPECT_EQ(disks["vda"].serial_number, "VIRTIO-SN-7");
  EXPECT_EQ(disks["vda"].product_name, "");
  EXPECT_TRUE(disks["sdb"].removable);

  ASSERT_EQ(f.hardware.interfaces.size(), 2u);  // lo left out
  const auto& eno1 = f.hardware.interfaces[0];
  EXPECT_EQ(eno1.name, "eno1");
  EXPECT_EQ(eno1.index, 2u);
  EXPECT_EQ(eno1.mac, "b8:cb:29:a1:b2:c3");
  EXPECT_EQ(eno1.flags, "up|broadcast|multicast|running");
  EXPECT_EQ(eno1.addresses, (std::vector<std::string>{"10.0.0.50/24", "fe80::bacb:29ff:fea1:b2c3/64"}));
  EXPECT_EQ(f.hardware.interfaces[1].mtu, 9000u);
  EXPECT_EQ(f.hardware.interfaces[1].flags, "broadcast|multicast");
  EXPECT_EQ(f.boot_mac, "b8:cb:29:a1:b2:c3");  // the interface with carrier and an address

  ASSERT_EQ(f.pci.size(), 5u);
  EXPECT_EQ(f.pci[0].address, "0000:00:00.0");
  EXPECT_EQ(f.pci[0].description, "Host bridge");
  bool gpu = false;
  for (auto& p : f.pci)
    if (p.address == "0000:c1:00.0") {
      gpu = true;
      EXPECT_EQ(p.vendor, "10de");
      EXPECT_EQ(p.device, "20b5");
      EXPECT_EQ(p.class_code, "030200");
      EXPECT_EQ(p.description, "NVIDIA Corporation 3D controller");
    }
  EXPECT_TRUE(gpu);
  EXPECT_TRUE(f.notes.empty());
}

TEST(Collect, DmiIdFallbackAndCpuinfo) {
  DirFsRoot fs("tests/unit/agent/fixtures/tree-dmi-id");
  auto f = collect_facts(fs, {}, "AA:BB:CC:DD:EE:FF");
  EXPECT_EQ(f.boot_mode, "BIOS");
  EXPECT_EQ(f.boot_mac, "aa:bb:cc:dd:ee:ff");
  EXPECT_EQ(f.hardware.system.manufacturer, "Supermicro");
  EXPECT_EQ(f.hardware.system.product_name, "SYS-1029U-TRT");
  EXPECT_EQ(f.hardware.system.uuid, "00000000-0000-0000-0000-ac1f6b123456");
  EXPECT_EQ(f.firmware.vendor, "American Megatrends Inc.");
  EXPECT_EQ(f.baseboard.product_name, "X11DPU");
  EXPECT_EQ(f.chassis.chassis_type, 17);
  ASSERT_EQ(f.notes.size(), 1u);  // says why SMBIOS was not used
  // No SMBIOS processors: one from /proc/cpuinfo per socket.
  ASSERT_EQ(f.hardware.processors.size(), 1u);
  EXPECT_EQ(f.hardware.processors[0].manufacturer, "Intel");
  EXPECT_EQ(f.hardware.processors[0].core_count, 2u);
  EXPECT_EQ(f.hardware.total_threads, 2u);
  EXPECT_EQ(f.hardware.memory_total_mb, 64245u);  // from /proc/meminfo
  EXPECT_TRUE(f.hardware.disks.empty());
}

TEST(Collect, EmptyRootGivesEmptyFacts) {
  DirFsRoot fs("tests/unit/agent/fixtures/does-not-exist");
  auto f = collect_facts(fs, {}, "");
  EXPECT_EQ(f.hardware.system.uuid, "");
  EXPECT_EQ(f.hardware.total_threads, 0u);
  EXPECT_TRUE(f.hardware.disks.empty());
}

}  // namespace
}  // namespace ironboot::agent
