// Disk wiping. The plan (which byte ranges) is pure; the device is behind an interface.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/facts.hpp"

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

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;
  virtual std::uint64_t size() const = 0;
  // Each returns "" on success, else the error.
  virtual std::string write_zeros(std::uint64_t offset, std::uint64_t length) = 0;
  virtual std::string discard(std::uint64_t offset, std::uint64_t length) = 0;
  virtual std::string flush() = 0;
};

// A block device node opened exclusively for writing.
std::unique_ptr<BlockDevice> open_block_device(const std::string& path, std::string& error);

using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct WipeOutcome {
  std::string error;   // "" = wiped
  std::string method;  // "zero", "discard", "zero-fill"
};

// fast: zero the fast ranges. full: BLKDISCARD everything (then zero the fast ranges, as
// discarded blocks need not read back as zeros); when discard is not supported, zero-fill
// the whole device. Progress is reported per chunk.
WipeOutcome wipe_device(BlockDevice& dev, const std::string& mode, const ProgressFn& progress,
                        std::uint64_t chunk = 64 * kMiB);

// Whether the agent may wipe this disk: not removable, not read-only, not optical, non-empty.
bool wipe_eligible(const Disk& d);

}  // namespace ironboot::agent
