#include "agent/secure_erase.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace ironboot::agent {
namespace {
using namespace std::chrono_literals;
using erase::DataDirection;
using Result = EraseAttempt::Result;

EraseAttempt unsupported(std::string why) { return {Result::unsupported, "", false, std::move(why)}; }
EraseAttempt failed(std::string method, std::string why) { return {Result::failed, std::move(method), false, std::move(why)}; }

std::string nvme_status_text(int rc) {
  if (rc < 0) return std::strerror(-rc);
  char buf[32];
  std::snprintf(buf, sizeof buf, "NVMe status 0x%x", static_cast<unsigned>(rc));
  return buf;
}

constexpr std::uint32_t kHourMs = 3'600'000;

EraseAttempt nvme_erase(BlockDevice& dev, const std::function<void(std::chrono::milliseconds)>& sleep) {
  const std::uint32_t nsid = dev.nvme_namespace_id();
  if (nsid == 0) return unsupported("no NVMe namespace id");
  std::vector<std::uint8_t> id(erase::kNvmeIdentifyBytes);
  if (int rc = dev.nvme_admin(erase::nvme_identify_controller(), id); rc != 0)
    return unsupported("Identify Controller: " + nvme_status_text(rc));
  const auto ctrl = erase::parse_nvme_identify_controller(id);
  std::vector<std::uint8_t> idns(erase::kNvmeIdentifyBytes);
  if (int rc = dev.nvme_admin(erase::nvme_identify_namespace(nsid), idns); rc != 0)
    return unsupported("Identify Namespace: " + nvme_status_text(rc));
  const auto ns = erase::parse_nvme_identify_namespace(idns);

  if (ctrl.sanitize_block_erase || ctrl.sanitize_crypto_erase) {
    // Sanitize also reaches caches and blocks outside the namespace's mapping.
    const bool block = ctrl.sanitize_block_erase;
    const std::string method = block ? "nvme-sanitize-block-erase" : "nvme-sanitize-crypto-erase";
    int rc = dev.nvme_admin(erase::nvme_sanitize(block ? erase::NvmeSanitizeAction::block_erase
                                                       : erase::NvmeSanitizeAction::crypto_erase),
                            {});
    if (rc < 0) return failed(method, "Sanitize: " + nvme_status_text(rc));
    if (rc == 0) {
      // It runs in the background; the Sanitize Status log says when it is done.
      std::vector<std::uint8_t> log(erase::kNvmeSanitizeLogBytes);
      for (int polls = 0; polls < 24 * 3600 / 2; ++polls) {
        if (int lrc = dev.nvme_admin(erase::nvme_sanitize_status_log(), log); lrc != 0)
          return failed(method, "Sanitize Status log: " + nvme_status_text(lrc));
        auto st = erase::parse_nvme_sanitize_status(log);
        if (st.state == erase::SanitizeState::done) return {Result::erased, method, block && ns.reads_zero_after_deallocate, ""};
        if (st.state == erase::SanitizeState::failed) return failed(method, "Sanitize reported failure");
        if (st.state != erase::SanitizeState::in_progress && polls > 5)
          return failed(method, "Sanitize never started");
        if (sleep) sleep(2s);
      }
      return failed(method, "Sanitize did not finish within 24 h");
    }
    // Refused (e.g. not allowed on this controller): Format NVM may still work.
  }
  if (!ctrl.format_supported) return unsupported("controller supports neither Sanitize nor Format NVM");
  // User data erase keeping the current LBA format (and so the device's size).
  int rc = dev.nvme_admin(erase::nvme_format(nsid, ns.lba_format, 1, 4 * kHourMs), {});
  if (rc < 0) return failed("nvme-format-user-data-erase", "Format NVM: " + nvme_status_text(rc));
  if (rc > 0) return unsupported("Format NVM refused: " + nvme_status_text(rc));
  return {Result::erased, "nvme-format-user-data-erase", ns.reads_zero_after_deallocate, ""};
}

EraseAttempt ata_erase(BlockDevice& dev) {
  std::vector<std::uint8_t> id(erase::kAtaSectorBytes);
  auto cdb = erase::ata_identify_device();
  if (auto r = dev.scsi(cdb, DataDirection::from_device, id, 30'000); !r.ok())
    return unsupported("IDENTIFY DEVICE: " + r.describe());
  const auto sec = erase::parse_ata_identify(id);
  if (!sec.supported) return unsupported("no ATA security feature set");
  if (sec.frozen) return unsupported("ATA security is frozen (the firmware froze it at boot)");
  if (sec.locked) return failed("ata-security-erase", "the drive is locked by a password");
  if (sec.enabled) return unsupported("ATA security already has a user password");
  if (sec.count_expired) return unsupported("ATA security password attempts exhausted");
  auto block = erase::ata_password_block(kAtaErasePassword);
  cdb = erase::ata_security_set_password();
  if (auto r = dev.scsi(cdb, DataDirection::to_device, block, 30'000); !r.ok())
    return unsupported("SECURITY SET PASSWORD: " + r.describe());
  cdb = erase::ata_security_erase_prepare();
  if (auto r = dev.scsi(cdb, DataDirection::none, {}, 30'000); !r.ok())
    return failed("ata-security-erase", "SECURITY ERASE PREPARE: " + r.describe() +
                                            " (user password left set to \"" + kAtaErasePassword + "\")");
  // The drive's own estimate, doubled, at least two hours.
  std::uint64_t minutes = std::max<std::uint64_t>(120, std::uint64_t{sec.normal_erase_minutes} * 2);
  auto timeout = static_cast<std::uint32_t>(std::min<std::uint64_t>(minutes * 60'000, 0xffffffffu));
  cdb = erase::ata_security_erase_unit();
  if (auto r = dev.scsi(cdb, DataDirection::to_device, block, timeout); !r.ok())
    return failed("ata-security-erase", "SECURITY ERASE UNIT: " + r.describe() + " (user password left set to \"" +
                                            kAtaErasePassword + "\")");
  return {Result::erased, "ata-security-erase", true, ""};  // normal erase writes zeros
}

EraseAttempt scsi_erase(BlockDevice& dev) {
  for (auto action : {erase::ScsiSanitizeAction::block_erase, erase::ScsiSanitizeAction::crypto_erase}) {
    std::vector<std::uint8_t> answer(32);
    auto query = erase::scsi_report_supported(erase::kScsiSanitizeOpcode, static_cast<std::uint16_t>(action),
                                              static_cast<std::uint32_t>(answer.size()));
    if (auto r = dev.scsi(query, DataDirection::from_device, answer, 30'000); !r.ok() || !erase::parse_scsi_supported(answer))
      continue;
    const std::string method =
        action == erase::ScsiSanitizeAction::block_erase ? "scsi-sanitize-block-erase" : "scsi-sanitize-crypto-erase";
    auto cdb = erase::scsi_sanitize(action);
    if (auto r = dev.scsi(cdb, DataDirection::none, {}, 24 * kHourMs); !r.ok())
      return failed(method, "SANITIZE: " + r.describe());
    return {Result::erased, method, false, ""};  // SBC leaves the content after sanitize unspecified
  }
  return unsupported("SANITIZE (block or crypto erase) not supported");
}

}  // namespace

EraseAttempt secure_erase(BlockDevice& dev, const std::string& transport,
                          const std::function<void(std::chrono::milliseconds)>& sleep) {
  if (transport == "nvme") return nvme_erase(dev, sleep);
  if (transport == "ata") return ata_erase(dev);
  if (transport == "scsi") return scsi_erase(dev);
  return unsupported("no erase command for transport " + transport);
}

}  // namespace ironboot::agent
