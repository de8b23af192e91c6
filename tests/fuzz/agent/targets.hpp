// Entry points shared by the libFuzzer targets and the corpus unit test. Each feeds one
// input to the agent's pure parsers and checks invariants that must hold for any input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <span>
#include <string_view>

#include "agent/smbios.hpp"
#include "agent/sysfs.hpp"
#include "agent/wire.hpp"

namespace ironboot::agent::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

// First byte: length of the entry point; the rest of the input is the table.
inline void smbios_one(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  auto whole = smbios::parse_table(in, 3, 0);
  for (const auto& m : whole.info.memory) check(m.size_mb <= 0x7fffffffu);
  smbios::parse_table(in, 2, 5);
  if (size > 1) {
    std::size_t ep_len = std::min<std::size_t>(data[0], size - 1);
    auto r = smbios::parse(in.subspan(1, ep_len), in.subspan(1 + ep_len));
    check(r.info.system.uuid.empty() || r.info.system.uuid.size() == 36);
  }
}

inline void sysfs_one(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto info = sysfs::parse_cpuinfo(text);
  check(info.counts.cores <= info.counts.threads);
  check(info.counts.sockets <= info.counts.threads);
  sysfs::count_cpu_list(text);
  sysfs::parse_meminfo_total_mb(text);
  sysfs::vpd80_serial(text);
  sysfs::pci_description(text.substr(0, 8), text.substr(size / 2));
  sysfs::BlockAttrs a;
  a.name = std::string(text.substr(0, 8));
  a.size = std::string(text.substr(0, 24));
  a.model = std::string(text);
  if (auto d = sysfs::make_disk(a)) check(d->size_bytes % 512 == 0);
}

inline void wire_one(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = parse_instruction_body(text);
  if (r.instruction && r.instruction->action == Action::wipe)
    check(r.instruction->mode == "fast" || r.instruction->mode == "full");
  auto c = parse_cmdline(text);
  check(c.mac.empty() || c.mac.size() == 17);
  parse_endpoint(text);
}

}  // namespace ironboot::agent::fuzz
