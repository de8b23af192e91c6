#include "agent/smbios.hpp"

#include <array>
#include <cstdio>
#include <vector>

namespace ironboot::agent::smbios {
namespace {

using Bytes = std::span<const std::uint8_t>;

std::uint16_t le16(Bytes b, std::size_t at) { return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8)); }
std::uint32_t le32(Bytes b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8) |
         (static_cast<std::uint32_t>(b[at + 2]) << 16) | (static_cast<std::uint32_t>(b[at + 3]) << 24);
}

bool checksum_ok(Bytes b) {
  std::uint8_t sum = 0;
  for (auto c : b) sum = static_cast<std::uint8_t>(sum + c);
  return sum == 0;
}

bool starts_with(Bytes b, std::string_view anchor) {
  if (b.size() < anchor.size()) return false;
  for (std::size_t i = 0; i < anchor.size(); ++i)
    if (b[i] != static_cast<std::uint8_t>(anchor[i])) return false;
  return true;
}

// One structure: its formatted area and its strings (1-based in SMBIOS).
struct Structure {
  std::uint8_t type = 0;
  Bytes formatted;
  std::vector<std::string> strings;

  std::size_t length() const { return formatted.size(); }
  bool has(std::size_t offset, std::size_t width) const { return offset + width <= formatted.size(); }
  std::uint8_t u8(std::size_t at) const { return has(at, 1) ? formatted[at] : 0; }
  std::uint16_t u16(std::size_t at) const { return has(at, 2) ? le16(formatted, at) : 0; }
  std::uint32_t u32(std::size_t at) const { return has(at, 4) ? le32(formatted, at) : 0; }
  std::string str(std::size_t at) const {
    std::uint8_t index = u8(at);
    if (index == 0 || index > strings.size()) return "";
    return strings[index - 1];
  }
};

// Printable ASCII only (the report is JSON), trimmed.
std::string clean(std::string_view raw) {
  std::string s;
  s.reserve(raw.size());
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    s.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  std::size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(' ') - b + 1);
}

void decode_firmware(const Structure& s, SmbiosInfo& out) {
  out.have_firmware = true;
  out.firmware.vendor = s.str(0x04);
  out.firmware.version = s.str(0x05);
  out.firmware.date = s.str(0x08);
}

void decode_system(const Structure& s, bool uuid_le, SmbiosInfo& out) {
  out.have_system = true;
  auto& sys = out.system;
  sys.manufacturer = s.str(0x04);
  sys.product_name = s.str(0x05);
  sys.version = s.str(0x06);
  sys.serial_number = s.str(0x07);
  if (s.has(0x08, 16)) sys.uuid = format_uuid(s.formatted.subspan(0x08).first<16>(), uuid_le);
  sys.sku_number = s.str(0x19);
  sys.family = s.str(0x1a);
}

void decode_board(const Structure& s, bool chassis, BoardInfo& out) {
  out.manufacturer = s.str(0x04);
  if (chassis) {
    out.chassis_type = static_cast<std::uint8_t>(s.u8(0x05) & 0x7f);
  } else {
    out.product_name = s.str(0x05);
  }
  out.version = s.str(0x06);
  out.serial_number = s.str(0x07);
  out.asset_tag = s.str(0x08);
}

void decode_processor(const Structure& s, SmbiosInfo& out) {
  if (!s.has(0x18, 1)) return;
  if ((s.u8(0x18) & 0x40) == 0) return;  // socket unpopulated
  Processor p;
  p.manufacturer = s.str(0x07);
  p.product_name = s.str(0x10);
  p.speed_mhz = s.u16(0x16) ? s.u16(0x16) : s.u16(0x14);
  p.serial_number = s.str(0x20);
  if (s.has(0x23, 1)) p.core_count = s.u8(0x23);
  if (s.has(0x25, 1)) p.thread_count = s.u8(0x25);
  // 0xFF means "see the 16-bit field" (SMBIOS 3.0).
  if (p.core_count == 0xff && s.has(0x2a, 2)) p.core_count = s.u16(0x2a);
  if (p.thread_count == 0xff && s.has(0x2e, 2)) p.thread_count = s.u16(0x2e);
  out.processors.push_back(std::move(p));
}

void decode_memory_device(const Structure& s, SmbiosInfo& out) {
  if (!s.has(0x0c, 2)) return;
  std::uint16_t size = s.u16(0x0c);
  if (size == 0) return;  // empty slot
  MemoryModule m;
  if (size == 0x7fff) {
    m.size_mb = s.u32(0x1c) & 0x7fffffffu;  // extended size, MB (2.7+)
  } else if (size != 0xffff) {
    m.size_mb = (size & 0x8000) ? (size & 0x7fffu) / 1024 : size;  // bit 15: KB granularity
  }
  m.locator = s.str(0x10);
  m.type = memory_type_name(s.u8(0x12));
  std::uint32_t speed = s.u16(0x15);
  if (speed == 0xffff) speed = s.u32(0x54);  // extended speed (3.3+)
  m.speed_mts = speed;
  m.manufacturer = s.str(0x17);
  m.serial_number = s.str(0x18);
  m.product_name = s.str(0x1a);  // part number
  out.memory.push_back(std::move(m));
}

}  // namespace

std::string format_uuid(std::span<const std::uint8_t, 16> raw, bool little_endian_fields) {
  std::array<std::uint8_t, 16> b;
  for (std::size_t i = 0; i < 16; ++i) b[i] = raw[i];
  if (little_endian_fields) {
    std::swap(b[0], b[3]);
    std::swap(b[1], b[2]);
    std::swap(b[4], b[5]);
    std::swap(b[6], b[7]);
  }
  char out[37];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
  return out;
}

std::string memory_type_name(std::uint8_t code) {
  switch (code) {
    case 0x03: return "DRAM";
    case 0x04: return "EDRAM";
    case 0x05: return "VRAM";
    case 0x06: return "SRAM";
    case 0x07: return "RAM";
    case 0x08: return "ROM";
    case 0x09: return "FLASH";
    case 0x0a: return "EEPROM";
    case 0x0b: return "FEPROM";
    case 0x0c: return "EPROM";
    case 0x0d: return "CDRAM";
    case 0x0e: return "3DRAM";
    case 0x0f: return "SDRAM";
    case 0x10: return "SGRAM";
    case 0x11: return "RDRAM";
    case 0x12: return "DDR";
    case 0x13: return "DDR2";
    case 0x14: return "DDR2 FB-DIMM";
    case 0x18: return "DDR3";
    case 0x19: return "FBD2";
    case 0x1a: return "DDR4";
    case 0x1b: return "LPDDR";
    case 0x1c: return "LPDDR2";
    case 0x1d: return "LPDDR3";
    case 0x1e: return "LPDDR4";
    case 0x1f: return "Logical non-volatile device";
    case 0x20: return "HBM";
    case 0x21: return "HBM2";
    case 0x22: return "DDR5";
    case 0x23: return "LPDDR5";
    case 0x24: return "HBM3";
    default: return "";
  }
}

EntryPointResult parse_entry_point(std::span<const std::uint8_t> b) {
  EntryPointResult r;
  EntryPoint ep;
  if (starts_with(b, "_SM3_")) {
    if (b.size() < 0x18) return {std::nullopt, "64-bit entry point shorter than 24 bytes"};
    std::size_t len = b[0x06];
    if (len < 0x18 || len > b.size()) return {std::nullopt, "64-bit entry point length field out of range"};
    if (!checksum_ok(b.first(len))) return {std::nullopt, "64-bit entry point checksum mismatch"};
    ep.major = b[0x07];
    ep.minor = b[0x08];
    ep.table_length = le32(b, 0x0c);
    ep.is_64bit = true;
  } else if (starts_with(b, "_SM_")) {
    if (b.size() < 0x1f) return {std::nullopt, "32-bit entry point shorter than 31 bytes"};
    std::size_t len = b[0x05];
    // Some firmware writes 0x1e (a known SMBIOS 2.1 erratum); accept it like Linux does.
    if (len < 0x1e || len > b.size()) return {std::nullopt, "32-bit entry point length field out of range"};
    if (!checksum_ok(b.first(len))) return {std::nullopt, "32-bit entry point checksum mismatch"};
    if (!starts_with(b.subspan(0x10), "_DMI_")) return {std::nullopt, "32-bit entry point lacks _DMI_ anchor"};
    if (!checksum_ok(b.subspan(0x10, 0x0f))) return {std::nullopt, "intermediate entry point checksum mismatch"};
    ep.major = b[0x06];
    ep.minor = b[0x07];
    ep.table_length = le16(b, 0x16);
  } else if (starts_with(b, "_DMI_")) {
    if (b.size() < 0x0f) return {std::nullopt, "legacy DMI entry point shorter than 15 bytes"};
    if (!checksum_ok(b.first(0x0f))) return {std::nullopt, "legacy DMI entry point checksum mismatch"};
    ep.major = b[0x0e] >> 4;
    ep.minor = b[0x0e] & 0x0f;
    ep.table_length = le16(b, 0x06);
  } else {
    return {std::nullopt, "no SMBIOS anchor (_SM_, _SM3_ or _DMI_)"};
  }
  r.entry_point = ep;
  return r;
}

TableResult parse_table(std::span<const std::uint8_t> table, std::uint8_t major, std::uint8_t minor) {
  TableResult r;
  r.info.major = major;
  r.info.minor = minor;
  const bool uuid_le = major > 2 || (major == 2 && minor >= 6);
  std::size_t at = 0;
  while (at < table.size()) {
    if (table.size() - at < 4) {
      r.error = "structure header truncated at offset " + std::to_string(at);
      return r;
    }
    Structure s;
    s.type = table[at];
    std::size_t len = table[at + 1];
    if (len < 4) {
      r.error = "structure at offset " + std::to_string(at) + " has length " + std::to_string(len) + " < 4";
      return r;
    }
    if (len > table.size() - at) {
      r.error = "structure at offset " + std::to_string(at) + " runs past the table end";
      return r;
    }
    s.formatted = table.subspan(at, len);
    // The string set follows and ends with an empty string: "\0\0" when there are none.
    std::size_t p = at + len;
    bool terminated = false;
    if (p + 1 < table.size() && table[p] == 0 && table[p + 1] == 0) {
      p += 2;
      terminated = true;
    } else {
      while (p < table.size()) {
        std::size_t nul = p;
        while (nul < table.size() && table[nul] != 0) ++nul;
        if (nul == table.size()) break;
        s.strings.push_back(
            clean(std::string_view(reinterpret_cast<const char*>(table.data() + p), nul - p)));
        p = nul + 1;
        if (p < table.size() && table[p] == 0) {
          ++p;
          terminated = true;
          break;
        }
      }
    }
    if (!terminated) {
      r.error = "strings of structure at offset " + std::to_string(at) + " are not terminated";
      return r;
    }
    switch (s.type) {
      case 0: decode_firmware(s, r.info); break;
      case 1: decode_system(s, uuid_le, r.info); break;
      case 2: decode_board(s, false, r.info.baseboard); break;
      case 3: decode_board(s, true, r.info.chassis); break;
      case 4: decode_processor(s, r.info); break;
      case 17: decode_memory_device(s, r.info); break;
      default: break;
    }
    at = p;
    if (s.type == 127) break;  // end-of-table
  }
  return r;
}

TableResult parse(std::span<const std::uint8_t> entry_point, std::span<const std::uint8_t> table) {
  auto ep = parse_entry_point(entry_point);
  if (!ep.entry_point) {
    TableResult r;
    r.error = ep.error;
    return r;
  }
  if (ep.entry_point->table_length < table.size()) table = table.first(ep.entry_point->table_length);
  return parse_table(table, ep.entry_point->major, ep.entry_point->minor);
}

}  // namespace ironboot::agent::smbios
