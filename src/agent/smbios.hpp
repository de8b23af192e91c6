// SMBIOS (DMTF DSP0134) decoder for /sys/firmware/dmi/tables/{smbios_entry_point,DMI}.
// Pure: bytes in, struct out. Never throws; checks every length before use.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "agent/facts.hpp"

namespace ironboot::agent::smbios {

struct EntryPoint {
  std::uint8_t major = 0, minor = 0;
  std::uint32_t table_length = 0;  // exact (2.x) or maximum (3.x)
  bool is_64bit = false;
};

struct EntryPointResult {
  std::optional<EntryPoint> entry_point;
  std::string error;  // set when entry_point is empty
};

// Accepts the "_SM_" (2.1+), "_SM3_" (3.0+) and legacy "_DMI_" anchors; verifies checksums.
EntryPointResult parse_entry_point(std::span<const std::uint8_t> bytes);

struct TableResult {
  SmbiosInfo info;    // everything decoded before an error, if any
  std::string error;  // "" when the whole table was well formed
};

// Walks the structure table. Version decides the UUID byte order and which fields exist.
TableResult parse_table(std::span<const std::uint8_t> table, std::uint8_t major, std::uint8_t minor);

// Both steps: the entry point's version applies to the table.
TableResult parse(std::span<const std::uint8_t> entry_point, std::span<const std::uint8_t> table);

// 16 raw UUID bytes as canonical lower-case text. From SMBIOS 2.6 the first three fields are
// little-endian; before that they were stored as given (big-endian).
std::string format_uuid(std::span<const std::uint8_t, 16> raw, bool little_endian_fields);

// SMBIOS type 17 "Memory Type" code as a name ("DDR4"), "" for unknown/other.
std::string memory_type_name(std::uint8_t code);

}  // namespace ironboot::agent::smbios
