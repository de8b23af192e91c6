// Disk wiping. The plan (which byte ranges) is pure; the device is behind an interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "agent/erase_commands.hpp"
#include "agent/facts.hpp"
#include "agent/fs_root.hpp"
#include "agent/wire.hpp"

namespace ironboot::agent {

struct ByteRange {
  std::uint64_t offset = 0, length = 0;
  bool operator==(const ByteRange&) const = default;
};

constexpr std::uint64_t kMiB = 1024 * 1024;
constexpr std::uint64_t kEdgeBytes = 16 * kMiB;

// Ranges a fast wipe zeroes: the first and last 16 MiB (MBR, both GPT headers and tables,
// LVM labels, md superblocks of every version, and the primary superblocks of ext*, XFS,
// btrfs, ZFS labels) plus the btrfs mirror superblocks at 64 MiB and 256 GiB.
// Sorted, merged, clipped to the device.
std::vector<ByteRange> fast_wipe_ranges(std::uint64_t device_size);

// What SG_IO says about one SCSI command.
struct ScsiResult {
  int error = 0;  // -errno of the ioctl itself (-ENOTTY: not a SCSI device)
  std::uint8_t status = 0, host_status = 0, driver_status = 0;
  std::vector<std::uint8_t> sense;
  bool ok() const { return error == 0 && status == 0 && host_status == 0 && driver_status == 0; }
  std::string describe() const;
};

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;
  virtual std::uint64_t size() const = 0;
  // Each returns "" on success, else the error.
  virtual std::string write_zeros(std::uint64_t offset, std::uint64_t length) = 0;
  virtual std::string discard(std::uint64_t offset, std::uint64_t length) = 0;
  // Writes back and drops cached pages, so what is read next comes from the device.
  virtual std::string flush() = 0;
  // Reads from the device itself (not the page cache).
  virtual std::string read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  // NVMe admin passthrough (NVME_IOCTL_ADMIN_CMD): 0 done, > 0 the NVMe status, < 0 -errno
  // (-ENOTTY: not NVMe). `data` is data_len bytes.
  virtual int nvme_admin(const erase::NvmeAdminCommand& cmd, std::span<std::uint8_t> data);
  // The namespace this block device is (NVME_IOCTL_ID); 0 when not NVMe.
  virtual std::uint32_t nvme_namespace_id();
  // One SCSI command through SG_IO (ATA commands travel inside ATA PASS-THROUGH).
  virtual ScsiResult scsi(std::span<const std::uint8_t> cdb, erase::DataDirection direction,
                          std::span<std::uint8_t> data, std::uint32_t timeout_ms);
};

// A block device node opened exclusively for writing.
std::unique_ptr<BlockDevice> open_block_device(const std::string& path, std::string& error);

using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct WipeOutcome {
  std::string error;   // "" = wiped and verified
  std::string method;  // "zero", "zero-fill", "discard+zero-fill", "nvme-sanitize-block-erase", ...
  bool verified = false;
  std::string note;    // for the console: why no secure erase, or why it was followed by a zero-fill
};

struct WipeOptions {
  std::uint64_t chunk = 64 * kMiB;
  unsigned random_samples = 16;       // verification ranges besides the first and the last
  std::uint64_t sample_bytes = 64 * 1024;
  std::uint64_t seed = 0;             // where the random samples fall
  std::function<void(std::chrono::milliseconds)> sleep;  // between sanitize status polls
};

// fast: zero the fast ranges. full: discard everything when the device can (lets an SSD
// drop its mappings), then zero-fill all of it: discarded blocks need not read back as zeros.
// secure: the drive's own erase by transport (NVMe Sanitize or Format NVM with secure erase,
// ATA SECURITY ERASE UNIT, SCSI SANITIZE), followed by a zero-fill where the erase does not
// promise zeros; a drive without any of these is zero-filled. Every mode then reads back the
// first and last sample and `random_samples` random ones inside what it wiped, and succeeds
// only if they are all zeros. Progress is reported per chunk.
WipeOutcome wipe_device(BlockDevice& dev, const std::string& mode, const std::string& transport,
                        const ProgressFn& progress, const WipeOptions& options = {});

// The ranges a verification reads: the first and the last `sample` bytes of `wiped`, and n
// random ones inside it (4 KiB aligned, clipped). Pure: the same seed gives the same ranges.
std::vector<ByteRange> verification_ranges(const std::vector<ByteRange>& wiped, unsigned n,
                                           std::uint64_t sample, std::uint64_t seed);

// Whether the agent may wipe this disk: not removable, not read-only, not optical, non-empty.
bool wipe_eligible(const Disk& d);
// Why not ("removable", "read-only", "optical", "empty"); "" when eligible.
std::string ineligible_reason(const Disk& d);

struct WipeTarget {
  Disk disk;
  std::string transport;
};
struct WipePlan {
  std::vector<WipeTarget> targets;
  std::vector<SkippedDisk> skipped;
};

// Every /sys/block entry, wiped or skipped with the reason: only local transports (ata,
// nvme, virtio, scsi on a local HBA, mmc) are wiped, usb only with allow_usb; network,
// virtual and unknown transports never.
WipePlan plan_wipe(const FsRoot& fs, bool allow_usb);

}  // namespace ironboot::agent
