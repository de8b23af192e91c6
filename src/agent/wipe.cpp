#include "agent/wipe.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ironboot::agent {

std::vector<ByteRange> fast_wipe_ranges(std::uint64_t size) {
  std::vector<ByteRange> raw;
  auto add = [&](std::uint64_t off, std::uint64_t len) {
    if (off >= size) return;
    raw.push_back({off, std::min(len, size - off)});
  };
  add(0, kEdgeBytes);
  add(size > kEdgeBytes ? size - kEdgeBytes : 0, kEdgeBytes);
  add(64 * kMiB, 4096);                    // btrfs superblock mirror 1
  add(256ull * 1024 * kMiB, 4096);         // btrfs superblock mirror 2
  std::sort(raw.begin(), raw.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
  std::vector<ByteRange> merged;
  for (auto r : raw) {
    if (!merged.empty() && r.offset <= merged.back().offset + merged.back().length) {
      auto end = std::max(merged.back().offset + merged.back().length, r.offset + r.length);
      merged.back().length = end - merged.back().offset;
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

bool wipe_eligible(const Disk& d) {
  return !d.removable && !d.read_only && d.type != "CD" && d.size_bytes > 0;
}

namespace {

std::string zero_ranges(BlockDevice& dev, const std::vector<ByteRange>& ranges, std::uint64_t chunk,
                        std::uint64_t& done, std::uint64_t total, const ProgressFn& progress) {
  for (const auto& r : ranges) {
    for (std::uint64_t off = 0; off < r.length; off += chunk) {
      auto len = std::min(chunk, r.length - off);
      if (auto e = dev.write_zeros(r.offset + off, len); !e.empty()) return e;
      done += len;
      if (progress) progress(done, total);
    }
  }
  return "";
}

class FdBlockDevice final : public BlockDevice {
 public:
  FdBlockDevice(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~FdBlockDevice() override { ::close(fd_); }
  std::uint64_t size() const override { return size_; }

  std::string write_zeros(std::uint64_t offset, std::uint64_t length) override {
    // BLKZEROOUT lets the device do it (WRITE ZEROES / WRITE SAME); else plain writes.
    std::uint64_t range[2] = {offset, length};
    if (::ioctl(fd_, BLKZEROOUT, range) == 0) return "";
    static const std::vector<char> zeros(4 * kMiB, 0);
    while (length > 0) {
      auto n = ::pwrite(fd_, zeros.data(), std::min<std::uint64_t>(length, zeros.size()), static_cast<off_t>(offset));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::string("write: ") + std::strerror(errno);
      offset += static_cast<std::uint64_t>(n);
      length -= static_cast<std::uint64_t>(n);
    }
    return "";
  }

  std::string discard(std::uint64_t offset, std::uint64_t length) override {
    std::uint64_t range[2] = {offset, length};
    if (::ioctl(fd_, BLKDISCARD, range) == 0) return "";
    return std::string("BLKDISCARD: ") + std::strerror(errno);
  }

  std::string flush() override {
    if (::fsync(fd_) != 0) return std::string("fsync: ") + std::strerror(errno);
    ::ioctl(fd_, BLKFLSBUF, 0);  // drop cached pages so readers see the zeros
    return "";
  }

 private:
  int fd_;
  std::uint64_t size_;
};

}  // namespace

std::unique_ptr<BlockDevice> open_block_device(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDWR | O_EXCL | O_CLOEXEC);
  if (fd < 0) {
    error = "open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::uint64_t size = 0;
  if (::ioctl(fd, BLKGETSIZE64, &size) != 0) {
    error = "BLKGETSIZE64 " + path + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  return std::make_unique<FdBlockDevice>(fd, size);
}

WipeOutcome wipe_device(BlockDevice& dev, const std::string& mode, const ProgressFn& progress, std::uint64_t chunk) {
  WipeOutcome out;
  const std::uint64_t size = dev.size();
  chunk = std::max<std::uint64_t>(chunk, 4096);
  auto edges = fast_wipe_ranges(size);
  std::uint64_t edge_total = 0;
  for (auto& r : edges) edge_total += r.length;
  std::uint64_t done = 0;
  if (mode == "full") {
    const std::uint64_t total = size + edge_total;
    // Discard in chunks so progress moves; the first failure decides the method.
    out.method = "discard";
    for (std::uint64_t off = 0; off < size; off += chunk) {
      auto len = std::min(chunk, size - off);
      if (auto e = dev.discard(off, len); !e.empty()) {
        if (off != 0) {
          out.error = e;
          return out;
        }
        out.method = "zero-fill";
        break;
      }
      done += len;
      if (progress) progress(done, total);
    }
    if (out.method == "zero-fill") {
      done = 0;
      out.error = zero_ranges(dev, {{0, size}}, chunk, done, size, progress);
      if (out.error.empty()) out.error = dev.flush();
      return out;
    }
    out.error = zero_ranges(dev, edges, chunk, done, total, progress);
  } else {
    out.method = "zero";
    out.error = zero_ranges(dev, edges, chunk, done, edge_total, progress);
  }
  if (out.error.empty()) out.error = dev.flush();
  return out;
}

}  // namespace ironboot::agent
