#include "agent/smbios.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <vector>

namespace ironboot::agent::smbios {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

const std::string kFixtures = "tests/unit/agent/fixtures/";

TEST(SmbiosQemu, Smbios28EntryPointAndTable) {
  auto ep = read_file(kFixtures + "qemu-q35-smbios28/smbios_entry_point");
  auto table = read_file(kFixtures + "qemu-q35-smbios28/DMI");
  ASSERT_EQ(ep.size(), 31u);
  auto parsed_ep = parse_entry_point(ep);
  ASSERT_TRUE(parsed_ep.entry_point) << parsed_ep.error;
  EXPECT_EQ(parsed_ep.entry_point->major, 2);
  EXPECT_EQ(parsed_ep.entry_point->minor, 8);
  EXPECT_FALSE(parsed_ep.entry_point->is_64bit);
  EXPECT_EQ(parsed_ep.entry_point->table_length, table.size());

  auto r = parse(ep, table);
  EXPECT_EQ(r.error, "");
  const auto& s = r.info.system;
  ASSERT_TRUE(r.info.have_system);
  EXPECT_EQ(s.manufacturer, "Dell Inc.");
  EXPECT_EQ(s.product_name, "PowerEdge R6525");
  EXPECT_EQ(s.version, "1.0");
  EXPECT_EQ(s.serial_number, "ABC123");
  EXPECT_EQ(s.uuid, "4c4c4544-0042-3510-8051-b7c04f4e4d32");  // as given to QEMU
  EXPECT_EQ(s.sku_number, "SKU-9");
  EXPECT_EQ(s.family, "PowerEdge");
  EXPECT_EQ(r.info.firmware.vendor, "Dell Inc.");
  EXPECT_EQ(r.info.firmware.version, "2.13.3");
  EXPECT_EQ(r.info.firmware.date, "07/04/2023");
  EXPECT_EQ(r.info.baseboard.manufacturer, "Dell Inc.");
  EXPECT_EQ(r.info.baseboard.product_name, "0HFG24");
  EXPECT_EQ(r.info.baseboard.serial_number, "BB-SN-1");
  EXPECT_EQ(r.info.chassis.serial_number, "CH-SN-1");
  EXPECT_EQ(r.info.chassis.chassis_type, 1);  // QEMU: "Other"
  ASSERT_EQ(r.info.processors.size(), 1u);
  EXPECT_EQ(r.info.processors[0].manufacturer, "AMD");
  EXPECT_EQ(r.info.processors[0].product_name, "AMD EPYC 7543 32-Core Processor");
  EXPECT_EQ(r.info.processors[0].speed_mhz, 2000u);
  EXPECT_EQ(r.info.processors[0].core_count, 2u);
  EXPECT_EQ(r.info.processors[0].thread_count, 2u);
  ASSERT_EQ(r.info.memory.size(), 1u);
  EXPECT_EQ(r.info.memory[0].size_mb, 512u);
  EXPECT_EQ(r.info.memory[0].type, "RAM");
  EXPECT_EQ(r.info.memory[0].speed_mts, 3200u);
  EXPECT_EQ(r.info.memory[0].manufacturer, "Samsung");
  EXPECT_EQ(r.info.memory[0].serial_number, "MEM-SN-1");
  EXPECT_EQ(r.info.memory[0].product_name, "M393A4K40DB3-CWE");
  EXPECT_EQ(r.info.memory[0].locator, "DIMM 0");
}

TEST(SmbiosQemu, Smbios30With64BitEntryPoint) {
  auto ep = read_file(kFixtures + "qemu-q35-smbios30/smbios_entry_point");
  auto table = read_file(kFixtures + "qemu-q35-smbios30/DMI");
  auto parsed_ep = parse_entry_point(ep);
  ASSERT_TRUE(parsed_ep.entry_point) << parsed_ep.error;
  EXPECT_TRUE(parsed_ep.entry_point->is_64bit);
  EXPECT_EQ(parsed_ep.entry_point->major, 3);
  auto r = parse(ep, table);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.info.system.manufacturer, "QEMU Test");
  EXPECT_EQ(r.info.system.product_name, "Lab Box");
  EXPECT_EQ(r.info.system.serial_number, "XYZ789");
  EXPECT_EQ(r.info.system.uuid, "00112233-4455-6677-8899-aabbccddeeff");
  ASSERT_EQ(r.info.processors.size(), 2u);  // -smp 4,sockets=2,cores=2
  EXPECT_EQ(r.info.processors[1].core_count, 2u);
  std::uint64_t total = 0;
  for (auto& m : r.info.memory) total += m.size_mb;
  EXPECT_EQ(total, 1536u);
}

// ---- hand-built tables ----

struct TableBuilder {
  Bytes bytes;
  // formatted: the whole formatted area including the 4-byte header (length patched here).
  TableBuilder& add(std::uint8_t type, Bytes formatted, std::vector<std::string> strings) {
    formatted[0] = type;
    formatted[1] = static_cast<std::uint8_t>(formatted.size());
    bytes.insert(bytes.end(), formatted.begin(), formatted.end());
    for (auto& s : strings) {
      bytes.insert(bytes.end(), s.begin(), s.end());
      bytes.push_back(0);
    }
    if (strings.empty()) bytes.push_back(0);
    bytes.push_back(0);
    return *this;
  }
  TableBuilder& end() { return add(127, Bytes(4, 0), {}); }
};

Bytes system_struct(const std::array<std::uint8_t, 16>& uuid) {
  Bytes f(0x1b, 0);
  f[4] = 1;  // manufacturer
  f[5] = 2;  // product
  f[7] = 3;  // serial
  for (int i = 0; i < 16; ++i) f[8 + i] = uuid[i];
  return f;
}

const std::array<std::uint8_t, 16> kRawUuid = {0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35,
                                               0x80, 0x51, 0xb7, 0xc0, 0x4f, 0x4e, 0x4d, 0x32};

TEST(SmbiosTable, UuidByteOrderDependsOnVersion) {
  TableBuilder t;
  t.add(1, system_struct(kRawUuid), {"Vendor", "Box", "SN1"}).end();
  EXPECT_EQ(parse_table(t.bytes, 2, 6).info.system.uuid, "4c4c4544-0042-3510-8051-b7c04f4e4d32");
  EXPECT_EQ(parse_table(t.bytes, 3, 0).info.system.uuid, "4c4c4544-0042-3510-8051-b7c04f4e4d32");
  // Before 2.6 the bytes were taken in wire order.
  EXPECT_EQ(parse_table(t.bytes, 2, 5).info.system.uuid, "44454c4c-4200-1035-8051-b7c04f4e4d32");
  auto r = parse_table(t.bytes, 2, 8);
  EXPECT_EQ(r.info.system.manufacturer, "Vendor");
  EXPECT_EQ(r.info.system.serial_number, "SN1");
  EXPECT_EQ(r.info.system.version, "");  // string index 0
}

TEST(SmbiosTable, MemoryDeviceSizes) {
  auto mem = [](std::uint16_t size, std::uint32_t ext, std::uint16_t speed) {
    Bytes f(0x22, 0);
    f[0x0c] = size & 0xff;
    f[0x0d] = size >> 8;
    f[0x12] = 0x1a;  // DDR4
    f[0x15] = speed & 0xff;
    f[0x16] = speed >> 8;
    f[0x17] = 1;
    for (int i = 0; i < 4; ++i) f[0x1c + i] = static_cast<std::uint8_t>(ext >> (8 * i));
    return f;
  };
  TableBuilder t;
  t.add(17, mem(0x7fff, 65536, 2933), {"Micron"})  // extended: 64 GiB
      .add(17, mem(0x8000 | 512, 0, 0), {"KB"})      // 512 KB granularity -> 0 MB
      .add(17, mem(0, 0, 0), {"empty"})              // empty slot: skipped
      .add(17, mem(16384, 0, 3200), {"Hynix"})
      .end();
  auto r = parse_table(t.bytes, 3, 2);
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.info.memory.size(), 3u);
  EXPECT_EQ(r.info.memory[0].size_mb, 65536u);
  EXPECT_EQ(r.info.memory[0].type, "DDR4");
  EXPECT_EQ(r.info.memory[0].speed_mts, 2933u);
  EXPECT_EQ(r.info.memory[0].manufacturer, "Micron");
  EXPECT_EQ(r.info.memory[1].size_mb, 0u);
  EXPECT_EQ(r.info.memory[2].size_mb, 16384u);
}

TEST(SmbiosTable, ProcessorCountsAndUnpopulatedSockets) {
  auto cpu = [](std::uint8_t status, std::uint8_t cores, std::uint16_t cores2, std::uint8_t threads,
                std::uint16_t threads2) {
    Bytes f(0x30, 0);
    f[0x07] = 1;
    f[0x10] = 2;
    f[0x14] = 0x10;  // max 4112 MHz
    f[0x15] = 0x10;
    f[0x18] = status;
    f[0x23] = cores;
    f[0x25] = threads;
    f[0x2a] = cores2 & 0xff;
    f[0x2b] = cores2 >> 8;
    f[0x2e] = threads2 & 0xff;
    f[0x2f] = threads2 >> 8;
    return f;
  };
  TableBuilder t;
  t.add(4, cpu(0x41, 0xff, 300, 0xff, 600), {"Intel(R) Corporation", "Xeon Big"})
      .add(4, cpu(0x00, 0, 0, 0, 0), {"Unpopulated"})
      .end();
  auto r = parse_table(t.bytes, 3, 0);
  ASSERT_EQ(r.info.processors.size(), 1u);
  EXPECT_EQ(r.info.processors[0].core_count, 300u);
  EXPECT_EQ(r.info.processors[0].thread_count, 600u);
  EXPECT_EQ(r.info.processors[0].speed_mhz, 4112u);  // no current speed: max speed
  EXPECT_EQ(r.info.processors[0].manufacturer, "Intel(R) Corporation");
}

TEST(SmbiosTable, MalformedLengthsAreErrorsNotCrashes) {
  TableBuilder good;
  good.add(1, system_struct(kRawUuid), {"Vendor", "Box", "SN1"});
  // A structure whose length byte is below the 4-byte header.
  Bytes short_len = good.bytes;
  short_len.insert(short_len.end(), {0x04, 0x02, 0x00, 0x00, 0x00, 0x00});
  auto r = parse_table(short_len, 3, 0);
  EXPECT_NE(r.error.find("length 2 < 4"), std::string::npos) << r.error;
  EXPECT_EQ(r.info.system.manufacturer, "Vendor");  // what came before survives

  // A length that runs past the end of the table.
  Bytes past = good.bytes;
  past.insert(past.end(), {0x04, 0xf0, 0x00, 0x00, 0x01});
  EXPECT_NE(parse_table(past, 3, 0).error.find("past the table end"), std::string::npos);

  // Strings never terminated.
  Bytes unterminated(good.bytes.begin(), good.bytes.end() - 2);
  EXPECT_NE(parse_table(unterminated, 3, 0).error.find("not terminated"), std::string::npos);

  // Header cut short.
  Bytes cut = good.bytes;
  cut.insert(cut.end(), {0x04, 0x2a});
  EXPECT_NE(parse_table(cut, 3, 0).error.find("truncated"), std::string::npos);

  // A type 1 too short for a UUID still gives its strings, and no UUID.
  TableBuilder tiny;
  Bytes f(0x08, 0);
  f[4] = 1;
  tiny.add(1, f, {"Tiny"}).end();
  auto t = parse_table(tiny.bytes, 2, 8);
  EXPECT_EQ(t.error, "");
  EXPECT_EQ(t.info.system.manufacturer, "Tiny");
  EXPECT_EQ(t.info.system.uuid, "");

  // A string index past the string set reads as empty.
  TableBuilder bad_index;
  Bytes g = system_struct(kRawUuid);
  g[4] = 9;
  bad_index.add(1, g, {"only"}).end();
  EXPECT_EQ(parse_table(bad_index.bytes, 2, 8).info.system.manufacturer, "");
}

TEST(SmbiosTable, StopsAtEndOfTableAndCleansStrings) {
  TableBuilder t;
  t.add(1, system_struct(kRawUuid), {"  Padded Vendor  ", std::string("Bin\x01\xff", 5), "SN"}).end();
  Bytes with_garbage = t.bytes;
  with_garbage.insert(with_garbage.end(), {0xde, 0xad});  // after type 127: ignored
  auto r = parse_table(with_garbage, 2, 8);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.info.system.manufacturer, "Padded Vendor");
  EXPECT_EQ(r.info.system.product_name, "Bin??");
}

TEST(SmbiosEntryPoint, RejectsBadInput) {
  auto ep = read_file(kFixtures + "qemu-q35-smbios28/smbios_entry_point");
  EXPECT_FALSE(parse_entry_point(Bytes{}).entry_point);
  EXPECT_FALSE(parse_entry_point(Bytes(ep.begin(), ep.begin() + 20)).entry_point);
  Bytes bad_sum = ep;
  bad_sum[0x08] ^= 1;
  EXPECT_NE(parse_entry_point(bad_sum).error.find("checksum"), std::string::npos);
  Bytes bad_len = ep;
  bad_len[0x05] = 0xff;
  EXPECT_FALSE(parse_entry_point(bad_len).entry_point);
  auto ep64 = read_file(kFixtures + "qemu-q35-smbios30/smbios_entry_point");
  Bytes bad64 = ep64;
  bad64[0x0c] ^= 0x10;
  EXPECT_NE(parse_entry_point(bad64).error.find("checksum"), std::string::npos);
  EXPECT_NE(parse(Bytes{'x'}, Bytes{}).error.find("anchor"), std::string::npos);
}

TEST(SmbiosEntryPoint, LegacyDmiAnchor) {
  Bytes ep = {'_', 'D', 'M', 'I', '_', 0, 0x20, 0x00, 0, 0, 0, 0, 0x05, 0x00, 0x24};
  std::uint8_t sum = 0;
  for (auto b : ep) sum = static_cast<std::uint8_t>(sum + b);
  ep[5] = static_cast<std::uint8_t>(-sum);
  auto r = parse_entry_point(ep);
  ASSERT_TRUE(r.entry_point) << r.error;
  EXPECT_EQ(r.entry_point->major, 2);
  EXPECT_EQ(r.entry_point->minor, 4);
  EXPECT_EQ(r.entry_point->table_length, 0x20u);
}

TEST(SmbiosMemoryType, Names) {
  EXPECT_EQ(memory_type_name(0x1a), "DDR4");
  EXPECT_EQ(memory_type_name(0x22), "DDR5");
  EXPECT_EQ(memory_type_name(0x02), "");
}

}  // namespace
}  // namespace ironboot::agent::smbios
