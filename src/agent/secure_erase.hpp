// The drives' own erase commands, sequenced over a BlockDevice (whose ioctls a test fakes):
// NVMe Sanitize or Format NVM with secure erase, ATA SECURITY ERASE UNIT, SCSI SANITIZE.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "agent/wipe.hpp"

namespace ironboot::agent {

struct EraseAttempt {
  enum class Result { erased, unsupported, failed };
  Result result = Result::unsupported;
  std::string method;       // "nvme-sanitize-block-erase", "nvme-format-user-data-erase", ...
  bool reads_zero = false;  // the erase promises zeros; otherwise a zero-fill follows it
  std::string detail;       // why unsupported, or what failed
};

// The password ATA SECURITY ERASE UNIT needs set first. Fixed and documented (docs/agent.md)
// so a drive left locked by a power cut can be unlocked with hdparm --security-disable.
constexpr const char* kAtaErasePassword = "ironboot";

// By transport: "nvme", "ata", "scsi"; any other is unsupported. `sleep` paces the
// Sanitize status polls.
EraseAttempt secure_erase(BlockDevice& dev, const std::string& transport,
                          const std::function<void(std::chrono::milliseconds)>& sleep);

}  // namespace ironboot::agent
