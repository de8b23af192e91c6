// Command blocks for the drives' own erase commands, and parsers for what the drives answer.
// Pure: bytes in, bytes out. References: NVM Express Base 2.0 (Identify, Format NVM,
// Sanitize, Sanitize Status log), ACS-3 (IDENTIFY DEVICE, security feature set) carried in
// SAT-4 ATA PASS-THROUGH(16), SBC-4 SANITIZE and SPC-5 REPORT SUPPORTED OPERATION CODES.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ironboot::agent::erase {

// ---- NVMe admin commands (the fields of struct nvme_passthru_cmd that matter here) ----------
enum class DataDirection { none, from_device, to_device };

struct NvmeAdminCommand {
  std::uint8_t opcode = 0;
  std::uint32_t nsid = 0;
  std::uint32_t cdw10 = 0, cdw11 = 0;
  std::uint32_t data_len = 0;
  DataDirection direction = DataDirection::none;
  std::uint32_t timeout_ms = 0;  // 0 = the kernel's admin timeout
  bool operator==(const NvmeAdminCommand&) const = default;
};

constexpr std::uint32_t kNvmeIdentifyBytes = 4096;
constexpr std::uint32_t kNvmeSanitizeLogBytes = 512;

NvmeAdminCommand nvme_identify_controller();
NvmeAdminCommand nvme_identify_namespace(std::uint32_t nsid);
// Format NVM keeping the LBA format `lbaf` (0..63); ses: 1 user data erase, 2 crypto erase.
NvmeAdminCommand nvme_format(std::uint32_t nsid, unsigned lbaf, unsigned ses, std::uint32_t timeout_ms);
enum class NvmeSanitizeAction : std::uint8_t { block_erase = 2, crypto_erase = 4 };
NvmeAdminCommand nvme_sanitize(NvmeSanitizeAction action);
NvmeAdminCommand nvme_sanitize_status_log();

struct NvmeController {
  bool format_supported = false;      // OACS bit 1
  bool sanitize_block_erase = false;  // SANICAP bit 1
  bool sanitize_crypto_erase = false; // SANICAP bit 0
  bool format_crypto_erase = false;   // FNA bit 2
};
NvmeController parse_nvme_identify_controller(std::span<const std::uint8_t> data);

struct NvmeNamespace {
  std::uint64_t size_blocks = 0;  // NSZE
  unsigned lba_format = 0;        // FLBAS index, including the upper bits (NVMe 2.0)
  bool reads_zero_after_deallocate = false;  // DLFEAT bits 2:0 == 001b
};
NvmeNamespace parse_nvme_identify_namespace(std::span<const std::uint8_t> data);

enum class SanitizeState { never, done, in_progress, failed, unknown };
struct NvmeSanitizeStatus {
  SanitizeState state = SanitizeState::unknown;
  std::uint16_t progress = 0;  // SPROG: fraction of 65536 done
};
NvmeSanitizeStatus parse_nvme_sanitize_status(std::span<const std::uint8_t> data);

// ---- ATA through SAT (SCSI ATA PASS-THROUGH(16)) -------------------------------------------
using Cdb16 = std::array<std::uint8_t, 16>;
using Cdb12 = std::array<std::uint8_t, 12>;
using Cdb10 = std::array<std::uint8_t, 10>;

constexpr std::size_t kAtaSectorBytes = 512;

Cdb16 ata_identify_device();
Cdb16 ata_security_set_password();
Cdb16 ata_security_erase_prepare();
Cdb16 ata_security_erase_unit();

// The 512-byte data block of SECURITY SET PASSWORD / ERASE UNIT: the user password
// (at most 32 bytes, zero padded), normal (not enhanced) erase.
std::vector<std::uint8_t> ata_password_block(const std::string& password);

struct AtaSecurity {
  bool supported = false, enabled = false, locked = false, frozen = false, count_expired = false;
  unsigned normal_erase_minutes = 0;  // 0 = not given
};
AtaSecurity parse_ata_identify(std::span<const std::uint8_t> data);

// ---- SCSI --------------------------------------------------------------------------------
enum class ScsiSanitizeAction : std::uint8_t { block_erase = 2, crypto_erase = 3 };
Cdb10 scsi_sanitize(ScsiSanitizeAction action);
// REPORT SUPPORTED OPERATION CODES for one opcode + service action (reporting options 010b).
Cdb12 scsi_report_supported(std::uint8_t opcode, std::uint16_t service_action, std::uint32_t alloc_len);
// SUPPORT field of the one-command answer: 011b (standard) or 101b (vendor) mean supported.
bool parse_scsi_supported(std::span<const std::uint8_t> data);

constexpr std::uint8_t kScsiSanitizeOpcode = 0x48;

}  // namespace ironboot::agent::erase
