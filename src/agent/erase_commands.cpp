#include "agent/erase_commands.hpp"

#include <algorithm>

namespace ironboot::agent::erase {
namespace {

std::uint16_t le16(std::span<const std::uint8_t> d, std::size_t at) {
  return at + 2 <= d.size() ? static_cast<std::uint16_t>(d[at] | (d[at + 1] << 8)) : 0;
}
std::uint32_t le32(std::span<const std::uint8_t> d, std::size_t at) {
  return at + 4 <= d.size() ? static_cast<std::uint32_t>(le16(d, at)) | (static_cast<std::uint32_t>(le16(d, at + 2)) << 16)
                            : 0;
}
std::uint64_t le64(std::span<const std::uint8_t> d, std::size_t at) {
  return at + 8 <= d.size() ? static_cast<std::uint64_t>(le32(d, at)) | (static_cast<std::uint64_t>(le32(d, at + 4)) << 32)
                            : 0;
}
std::uint8_t byte_at(std::span<const std::uint8_t> d, std::size_t at) { return at < d.size() ? d[at] : 0; }

// SAT-4 ATA PASS-THROUGH(16), 28-bit command, one 512-byte sector or none.
enum class AtaProtocol : std::uint8_t { non_data = 3, pio_in = 4, pio_out = 5 };
Cdb16 ata_pass_through(AtaProtocol protocol, std::uint8_t command) {
  Cdb16 c{};
  c[0] = 0x85;
  c[1] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(protocol) << 1);
  // T_DIR (bit 3, 1 = from device), BYTE_BLOCK (bit 2), T_LENGTH = 10b (count in SECTOR COUNT).
  if (protocol == AtaProtocol::pio_in) c[2] = 0x0e;
  if (protocol == AtaProtocol::pio_out) c[2] = 0x06;
  if (protocol != AtaProtocol::non_data) c[6] = 1;  // one sector
  c[13] = 0x40;  // DEVICE: LBA bit, as hdparm sends it
  c[14] = command;
  return c;
}

}  // namespace

NvmeAdminCommand nvme_identify_controller() {
  return {.opcode = 0x06, .nsid = 0, .cdw10 = 1, .data_len = kNvmeIdentifyBytes, .direction = DataDirection::from_device};
}

NvmeAdminCommand nvme_identify_namespace(std::uint32_t nsid) {
  return {.opcode = 0x06, .nsid = nsid, .cdw10 = 0, .data_len = kNvmeIdentifyBytes, .direction = DataDirection::from_device};
}

NvmeAdminCommand nvme_format(std::uint32_t nsid, unsigned lbaf, unsigned ses, std::uint32_t timeout_ms) {
  // CDW10: LBAF 3:0, MSET 4, PI 7:5, PIL 8, SES 11:9, LBAFU 13:12. Metadata/PI settings 0.
  std::uint32_t cdw10 = (lbaf & 0xfu) | ((ses & 0x7u) << 9) | (((lbaf >> 4) & 0x3u) << 12);
  return {.opcode = 0x80, .nsid = nsid, .cdw10 = cdw10, .timeout_ms = timeout_ms};
}

NvmeAdminCommand nvme_sanitize(NvmeSanitizeAction action) {
  // SANACT 2:0; AUSE (bit 3) 0: a failed sanitize must be retried, not left usable.
  return {.opcode = 0x84, .nsid = 0, .cdw10 = static_cast<std::uint32_t>(action)};
}

NvmeAdminCommand nvme_sanitize_status_log() {
  // Get Log Page 0x81 (Sanitize Status), NUMDL = dwords - 1, for the whole controller.
  std::uint32_t numd = kNvmeSanitizeLogBytes / 4 - 1;
  return {.opcode = 0x02, .nsid = 0xffffffff, .cdw10 = 0x81u | (numd << 16), .data_len = kNvmeSanitizeLogBytes,
          .direction = DataDirection::from_device};
}

NvmeController parse_nvme_identify_controller(std::span<const std::uint8_t> d) {
  NvmeController c;
  const auto oacs = le16(d, 256);
  const auto sanicap = le32(d, 328);
  const auto fna = byte_at(d, 524);
  c.format_supported = (oacs & 0x2) != 0;
  c.sanitize_crypto_erase = (sanicap & 0x1) != 0;
  c.sanitize_block_erase = (sanicap & 0x2) != 0;
  c.format_crypto_erase = (fna & 0x4) != 0;
  return c;
}

NvmeNamespace parse_nvme_identify_namespace(std::span<const std::uint8_t> d) {
  NvmeNamespace n;
  n.size_blocks = le64(d, 0);
  const auto flbas = byte_at(d, 26);
  n.lba_format = (flbas & 0xfu) | (((flbas >> 5) & 0x3u) << 4);
  n.reads_zero_after_deallocate = (byte_at(d, 33) & 0x7) == 0x1;
  return n;
}

NvmeSanitizeStatus parse_nvme_sanitize_status(std::span<const std::uint8_t> d) {
  NvmeSanitizeStatus s;
  if (d.size() < 4) return s;
  s.progress = le16(d, 0);
  switch (le16(d, 2) & 0x7) {
    case 0: s.state = SanitizeState::never; break;
    case 1:
    case 4: s.state = SanitizeState::done; break;  // 100b: done, media not deallocated
    case 2: s.state = SanitizeState::in_progress; break;
    case 3: s.state = SanitizeState::failed; break;
    default: s.state = SanitizeState::unknown; break;
  }
  return s;
}

Cdb16 ata_identify_device() { return ata_pass_through(AtaProtocol::pio_in, 0xec); }
Cdb16 ata_security_set_password() { return ata_pass_through(AtaProtocol::pio_out, 0xf1); }
Cdb16 ata_security_erase_prepare() { return ata_pass_through(AtaProtocol::non_data, 0xf3); }
Cdb16 ata_security_erase_unit() { return ata_pass_through(AtaProtocol::pio_out, 0xf4); }

std::vector<std::uint8_t> ata_password_block(const std::string& password) {
  // Word 0: bit 0 = 0 compares the user password, bit 1 = 0 normal erase (writes zeros);
  // SET PASSWORD's bit 8 = 0 keeps the master password capability "high". Words 1-16: password.
  std::vector<std::uint8_t> block(kAtaSectorBytes, 0);
  std::copy_n(password.begin(), std::min<std::size_t>(password.size(), 32), block.begin() + 2);
  return block;
}

AtaSecurity parse_ata_identify(std::span<const std::uint8_t> d) {
  AtaSecurity s;
  if (d.size() < kAtaSectorBytes) return s;
  const auto w82 = le16(d, 82 * 2), w128 = le16(d, 128 * 2), w89 = le16(d, 89 * 2);
  s.supported = (w82 & 0x2) != 0 && (w128 & 0x1) != 0;
  s.enabled = (w128 & 0x2) != 0;
  s.locked = (w128 & 0x4) != 0;
  s.frozen = (w128 & 0x8) != 0;
  s.count_expired = (w128 & 0x10) != 0;
  // Word 89: time in 2-minute units; bit 15 set = extended format in bits 14:0, else 7:0.
  unsigned units = (w89 & 0x8000) ? (w89 & 0x7fffu) : (w89 & 0xffu);
  s.normal_erase_minutes = units * 2;
  return s;
}

Cdb10 scsi_sanitize(ScsiSanitizeAction action) {
  Cdb10 c{};
  c[0] = kScsiSanitizeOpcode;
  c[1] = static_cast<std::uint8_t>(action);  // IMMED 0: the command returns when done; AUSE 0
  return c;                                  // parameter list length 0 (no overwrite pattern)
}

Cdb12 scsi_report_supported(std::uint8_t opcode, std::uint16_t service_action, std::uint32_t alloc_len) {
  Cdb12 c{};
  c[0] = 0xa3;
  c[1] = 0x0c;
  c[2] = 0x02;
  c[3] = opcode;
  c[4] = static_cast<std::uint8_t>(service_action >> 8);
  c[5] = static_cast<std::uint8_t>(service_action);
  c[6] = static_cast<std::uint8_t>(alloc_len >> 24);
  c[7] = static_cast<std::uint8_t>(alloc_len >> 16);
  c[8] = static_cast<std::uint8_t>(alloc_len >> 8);
  c[9] = static_cast<std::uint8_t>(alloc_len);
  return c;
}

bool parse_scsi_supported(std::span<const std::uint8_t> d) {
  if (d.size() < 2) return false;
  const auto support = d[1] & 0x7;
  return support == 3 || support == 5;
}

}  // namespace ironboot::agent::erase
