#include "agent/erase_commands.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace ironboot::agent::erase {
namespace {

// Expected bytes written out from the specifications (NVMe 2.0 Figures for Identify, Format
// NVM, Sanitize and Get Log Page; SAT-4 ATA PASS-THROUGH(16); SBC-4 SANITIZE; SPC-5 REPORT
// SUPPORTED OPERATION CODES), not from the builders.

TEST(NvmeCommands, Builders) {
  EXPECT_EQ(nvme_identify_controller(),
            (NvmeAdminCommand{0x06, 0, 1, 0, 4096, DataDirection::from_device, 0}));
  EXPECT_EQ(nvme_identify_namespace(3), (NvmeAdminCommand{0x06, 3, 0, 0, 4096, DataDirection::from_device, 0}));
  // LBAF 2, SES 001b (bits 11:9) = 0x202; LBAF 0x13 -> LBAFL 3, LBAFU 1 (bits 13:12).
  EXPECT_EQ(nvme_format(1, 2, 1, 1000).cdw10, 0x202u);
  EXPECT_EQ(nvme_format(1, 0x13, 2, 1000).cdw10, 0x3u | (2u << 9) | (1u << 12));
  EXPECT_EQ(nvme_format(1, 2, 1, 1000).opcode, 0x80);
  EXPECT_EQ(nvme_format(1, 2, 1, 1000).timeout_ms, 1000u);
  EXPECT_EQ(nvme_format(1, 2, 1, 1000).direction, DataDirection::none);
  EXPECT_EQ(nvme_sanitize(NvmeSanitizeAction::block_erase), (NvmeAdminCommand{0x84, 0, 2, 0, 0, DataDirection::none, 0}));
  EXPECT_EQ(nvme_sanitize(NvmeSanitizeAction::crypto_erase).cdw10, 4u);
  // Log 0x81, NUMDL = 512/4 - 1 = 127 in bits 31:16.
  EXPECT_EQ(nvme_sanitize_status_log(),
            (NvmeAdminCommand{0x02, 0xffffffff, 0x007f0081, 0, 512, DataDirection::from_device, 0}));
}

TEST(NvmeCommands, ParsesIdentifyAndSanitizeStatus) {
  std::vector<std::uint8_t> ctrl(4096, 0);
  ctrl[256] = 0x06;        // OACS: Format NVM + firmware
  ctrl[328] = 0x03;        // SANICAP: crypto + block erase
  ctrl[524] = 0x04;        // FNA: crypto erase supported
  auto c = parse_nvme_identify_controller(ctrl);
  EXPECT_TRUE(c.format_supported);
  EXPECT_TRUE(c.sanitize_block_erase);
  EXPECT_TRUE(c.sanitize_crypto_erase);
  EXPECT_TRUE(c.format_crypto_erase);
  EXPECT_FALSE(parse_nvme_identify_controller(std::vector<std::uint8_t>(4096, 0)).format_supported);
  EXPECT_FALSE(parse_nvme_identify_controller({}).format_supported);  // short: all false

  std::vector<std::uint8_t> ns(4096, 0);
  ns[0] = 0x00; ns[1] = 0x00; ns[2] = 0x20;  // NSZE 0x200000 blocks
  ns[26] = 0x61;  // FLBAS: index 1, bit 4 (metadata) set, upper bits 6:5 = 11b -> 0x31
  ns[33] = 0x09;  // DLFEAT: reads of deallocated blocks return zeros (+ write zeroes dealloc)
  auto n = parse_nvme_identify_namespace(ns);
  EXPECT_EQ(n.size_blocks, 0x200000u);
  EXPECT_EQ(n.lba_format, 0x31u);
  EXPECT_TRUE(n.reads_zero_after_deallocate);
  ns[33] = 0x02;  // reads return all ones
  EXPECT_FALSE(parse_nvme_identify_namespace(ns).reads_zero_after_deallocate);

  std::vector<std::uint8_t> log(512, 0);
  log[0] = 0x00; log[1] = 0x80; log[2] = 0x02;
  auto st = parse_nvme_sanitize_status(log);
  EXPECT_EQ(st.state, SanitizeState::in_progress);
  EXPECT_EQ(st.progress, 0x8000);
  log[2] = 0x01;
  EXPECT_EQ(parse_nvme_sanitize_status(log).state, SanitizeState::done);
  log[2] = 0x04;
  EXPECT_EQ(parse_nvme_sanitize_status(log).state, SanitizeState::done);
  log[2] = 0x03;
  EXPECT_EQ(parse_nvme_sanitize_status(log).state, SanitizeState::failed);
  log[2] = 0x00;
  EXPECT_EQ(parse_nvme_sanitize_status(log).state, SanitizeState::never);
  EXPECT_EQ(parse_nvme_sanitize_status({}).state, SanitizeState::unknown);
}

TEST(AtaCommands, PassThrough16Blocks) {
  // 0x85; PROTOCOL 4 (PIO data-in) << 1; T_DIR=1 BYT_BLOK=1 T_LENGTH=10b; count 1; DEVICE 0x40; ECh.
  EXPECT_EQ(ata_identify_device(), (Cdb16{0x85, 0x08, 0x0e, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0xec, 0}));
  EXPECT_EQ(ata_security_set_password(), (Cdb16{0x85, 0x0a, 0x06, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0xf1, 0}));
  EXPECT_EQ(ata_security_erase_prepare(), (Cdb16{0x85, 0x06, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0xf3, 0}));
  EXPECT_EQ(ata_security_erase_unit(), (Cdb16{0x85, 0x0a, 0x06, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0xf4, 0}));
}

TEST(AtaCommands, PasswordBlockAndIdentify) {
  auto b = ata_password_block("ironboot");
  ASSERT_EQ(b.size(), 512u);
  EXPECT_EQ(b[0], 0);  // user password, normal erase
  EXPECT_EQ(b[1], 0);
  EXPECT_EQ(std::string(b.begin() + 2, b.begin() + 10), "ironboot");
  EXPECT_EQ(b[10], 0);
  auto longer = ata_password_block(std::string(40, 'x'));
  EXPECT_EQ(longer[33], 'x');
  EXPECT_EQ(longer[34], 0);  // 32 bytes at most

  std::vector<std::uint8_t> id(512, 0);
  id[82 * 2] = 0x02;
  id[128 * 2] = 0x29;  // supported, frozen, enhanced supported
  id[89 * 2] = 0x05;   // 10 minutes
  auto s = parse_ata_identify(id);
  EXPECT_TRUE(s.supported);
  EXPECT_TRUE(s.frozen);
  EXPECT_FALSE(s.enabled);
  EXPECT_FALSE(s.locked);
  EXPECT_EQ(s.normal_erase_minutes, 10u);
  id[89 * 2] = 0x10;
  id[89 * 2 + 1] = 0x80;  // extended format: 0x10 units
  EXPECT_EQ(parse_ata_identify(id).normal_erase_minutes, 32u);
  id[82 * 2] = 0;
  EXPECT_FALSE(parse_ata_identify(id).supported);
  EXPECT_FALSE(parse_ata_identify(std::vector<std::uint8_t>(10, 0xff)).supported);
}

TEST(ScsiCommands, SanitizeAndReportSupported) {
  EXPECT_EQ(scsi_sanitize(ScsiSanitizeAction::block_erase), (Cdb10{0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(scsi_sanitize(ScsiSanitizeAction::crypto_erase), (Cdb10{0x48, 0x03, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(scsi_report_supported(0x48, 2, 32), (Cdb12{0xa3, 0x0c, 0x02, 0x48, 0, 2, 0, 0, 0, 32, 0, 0}));
  EXPECT_TRUE(parse_scsi_supported(std::vector<std::uint8_t>{0, 0x03, 0, 10}));
  EXPECT_TRUE(parse_scsi_supported(std::vector<std::uint8_t>{0, 0x05, 0, 10}));
  EXPECT_FALSE(parse_scsi_supported(std::vector<std::uint8_t>{0, 0x01, 0, 0}));
  EXPECT_FALSE(parse_scsi_supported(std::vector<std::uint8_t>{0}));
}

}  // namespace
}  // namespace ironboot::agent::erase
