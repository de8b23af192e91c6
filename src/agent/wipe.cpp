#include "agent/wipe.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "agent/collect.hpp"
#include "agent/secure_erase.hpp"
#include "agent/sysfs.hpp"

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

namespace {

class FdBlockDevice final : public BlockDevice {
 public:
  FdBlockDevice(int fd, std::string path, std::uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  ~FdBlockDevice() override {
    ::close(fd_);
    if (direct_fd_ >= 0) ::close(direct_fd_);
  }
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

  std::string read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    // O_DIRECT so the device answers, not the page cache (a drive's own erase bypasses it).
    if (direct_fd_ < 0) direct_fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    const bool direct = direct_fd_ >= 0 && offset % 4096 == 0;
    const std::size_t len = direct ? (out.size() + 4095) / 4096 * 4096 : out.size();
    void* raw = std::aligned_alloc(4096, std::max<std::size_t>(len, 4096));
    if (!raw) return "out of memory";
    std::unique_ptr<void, decltype(&std::free)> buf(raw, &std::free);
    std::size_t got = 0;
    while (got < out.size()) {
      auto n = ::pread(direct ? direct_fd_ : fd_, static_cast<char*>(raw) + got, len - got,
                       static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return std::string("read: ") + std::strerror(errno);
      if (n == 0) return "read: end of device";
      got += static_cast<std::size_t>(n);
    }
    std::memcpy(out.data(), raw, out.size());
    return "";
  }

  int nvme_admin(const erase::NvmeAdminCommand& cmd, std::span<std::uint8_t> data) override {
    nvme_passthru_cmd c{};
    c.opcode = cmd.opcode;
    c.nsid = cmd.nsid;
    c.cdw10 = cmd.cdw10;
    c.cdw11 = cmd.cdw11;
    c.timeout_ms = cmd.timeout_ms;
    if (cmd.direction != erase::DataDirection::none) {
      if (data.size() < cmd.data_len) return -EINVAL;
      c.addr = reinterpret_cast<std::uintptr_t>(data.data());
      c.data_len = cmd.data_len;
    }
    int rc = ::ioctl(fd_, NVME_IOCTL_ADMIN_CMD, &c);
    return rc < 0 ? -errno : rc;
  }

  std::uint32_t nvme_namespace_id() override {
    int rc = ::ioctl(fd_, NVME_IOCTL_ID);
    return rc > 0 ? static_cast<std::uint32_t>(rc) : 0;
  }

  ScsiResult scsi(std::span<const std::uint8_t> cdb, erase::DataDirection direction, std::span<std::uint8_t> data,
                  std::uint32_t timeout_ms) override {
    ScsiResult r;
    r.sense.assign(64, 0);
    sg_io_hdr_t h{};
    h.interface_id = 'S';
    h.dxfer_direction = direction == erase::DataDirection::none        ? SG_DXFER_NONE
                        : direction == erase::DataDirection::from_device ? SG_DXFER_FROM_DEV
                                                                         : SG_DXFER_TO_DEV;
    h.cmd_len = static_cast<unsigned char>(cdb.size());
    h.cmdp = const_cast<unsigned char*>(cdb.data());
    h.mx_sb_len = static_cast<unsigned char>(r.sense.size());
    h.sbp = r.sense.data();
    if (direction != erase::DataDirection::none) {
      h.dxfer_len = static_cast<unsigned>(data.size());
      h.dxferp = data.data();
    }
    h.timeout = timeout_ms;
    if (::ioctl(fd_, SG_IO, &h) != 0) {
      r.error = -errno;
      r.sense.clear();
      return r;
    }
    r.status = h.status;
    r.host_status = static_cast<std::uint8_t>(h.host_status);
    r.driver_status = static_cast<std::uint8_t>(h.driver_status);
    r.sense.resize(h.sb_len_wr);
    return r;
  }

 private:
  int fd_;
  int direct_fd_ = -1;
  std::string path_;
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
  return std::make_unique<FdBlockDevice>(fd, path, size);
}

std::string ineligible_reason(const Disk& d) {
  if (d.removable) return "removable";
  if (d.read_only) return "read-only";
  if (d.type == "CD") return "optical";
  if (d.size_bytes == 0) return "empty";
  return "";
}

bool wipe_eligible(const Disk& d) { return ineligible_reason(d).empty(); }

WipePlan plan_wipe(const FsRoot& fs, bool allow_usb) {
  WipePlan plan;
  auto disks = collect_disks(fs);
  for (const auto& name : fs.list("/sys/block")) {
    const std::string base = "/sys/block/" + name;
    std::string nvme_transport = read_attr(fs, base + "/device/transport");
    if (nvme_transport.empty() && name.rfind("nvme", 0) == 0) {
      auto n = name.find('n', 4);  // nvme0n1 -> controller nvme0
      if (n != std::string::npos) nvme_transport = read_attr(fs, "/sys/class/nvme/" + name.substr(0, n) + "/transport");
    }
    auto transport = sysfs::classify_block_transport(name, fs.readlink(base), nvme_transport);
    const std::string device = "/dev/" + name;
    if (transport.kind == "usb" && allow_usb) transport.local = true;
    if (!transport.local) {
      std::string why = transport.kind == "usb" ? "usb (ironboot.wipe_usb not set)"
                        : transport.kind == "unknown" ? "unknown transport"
                                                      : transport.kind;
      plan.skipped.push_back({device, transport.kind, why});
      continue;
    }
    auto it = std::find_if(disks.begin(), disks.end(), [&](const Disk& d) { return d.name == name; });
    if (it == disks.end()) {
      plan.skipped.push_back({device, transport.kind, "no size"});
      continue;
    }
    if (auto why = ineligible_reason(*it); !why.empty()) {
      plan.skipped.push_back({device, transport.kind, why});
      continue;
    }
    plan.targets.push_back({*it, transport.kind});
  }
  return plan;
}

std::string ScsiResult::describe() const {
  if (error != 0) return std::strerror(-error);
  char buf[96];
  std::snprintf(buf, sizeof buf, "status 0x%02x host 0x%02x driver 0x%02x", status, host_status, driver_status);
  std::string out = buf;
  // Fixed (0x70/0x71) or descriptor (0x72/0x73) sense: key and ASC/ASCQ.
  if (sense.size() >= 14 && (sense[0] & 0x7e) == 0x70) {
    std::snprintf(buf, sizeof buf, ", sense %x/%02x/%02x", sense[2] & 0xf, sense[12], sense[13]);
    out += buf;
  } else if (sense.size() >= 4 && (sense[0] & 0x7e) == 0x72) {
    std::snprintf(buf, sizeof buf, ", sense %x/%02x/%02x", sense[1] & 0xf, sense[2], sense[3]);
    out += buf;
  }
  return out;
}

int BlockDevice::nvme_admin(const erase::NvmeAdminCommand&, std::span<std::uint8_t>) { return -ENOTTY; }
std::uint32_t BlockDevice::nvme_namespace_id() { return 0; }
ScsiResult BlockDevice::scsi(std::span<const std::uint8_t>, erase::DataDirection, std::span<std::uint8_t>, std::uint32_t) {
  ScsiResult r;
  r.error = -ENOTTY;
  return r;
}

std::vector<ByteRange> verification_ranges(const std::vector<ByteRange>& wiped, unsigned n, std::uint64_t sample,
                                           std::uint64_t seed) {
  std::vector<ByteRange> out;
  std::uint64_t total = 0;
  for (const auto& r : wiped) total += r.length;
  if (total == 0 || sample == 0) return out;
  auto clip = [&](const ByteRange& r, std::uint64_t off) {
    off = std::min(off, r.offset + r.length);
    return ByteRange{off, std::min(sample, r.offset + r.length - off)};
  };
  out.push_back(clip(wiped.front(), wiped.front().offset));
  const auto& last = wiped.back();
  std::uint64_t tail = last.length > sample ? last.offset + last.length - sample : last.offset;
  out.push_back(clip(last, tail));
  std::mt19937_64 rng(seed);
  for (unsigned i = 0; i < n; ++i) {
    std::uint64_t at = std::uniform_int_distribution<std::uint64_t>(0, total - 1)(rng);
    for (const auto& r : wiped) {
      if (at < r.length) {
        std::uint64_t off = r.offset + at;
        off = std::max(r.offset, off & ~std::uint64_t{4095});
        out.push_back(clip(r, off));
        break;
      }
      at -= r.length;
    }
  }
  std::erase_if(out, [](const ByteRange& r) { return r.length == 0; });
  return out;
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

std::string zero_fill(BlockDevice& dev, std::uint64_t chunk, const ProgressFn& progress) {
  std::uint64_t done = 0;
  return zero_ranges(dev, {{0, dev.size()}}, chunk, done, dev.size(), progress);
}

// "" when every sampled byte reads back as zero.
std::string verify_zeros(BlockDevice& dev, const std::vector<ByteRange>& wiped, const WipeOptions& o) {
  auto ranges = verification_ranges(wiped, o.random_samples, o.sample_bytes, o.seed);
  std::vector<std::uint8_t> buf;
  for (const auto& r : ranges) {
    buf.assign(r.length, 0xff);
    if (auto e = dev.read(r.offset, buf); !e.empty()) return "verification read at " + std::to_string(r.offset) + ": " + e;
    auto bad = std::find_if(buf.begin(), buf.end(), [](std::uint8_t b) { return b != 0; });
    if (bad != buf.end())
      return "verification: non-zero data at offset " + std::to_string(r.offset + static_cast<std::uint64_t>(bad - buf.begin()));
  }
  return "";
}

}  // namespace

WipeOutcome wipe_device(BlockDevice& dev, const std::string& mode, const std::string& transport,
                        const ProgressFn& progress, const WipeOptions& options) {
  WipeOutcome out;
  const std::uint64_t size = dev.size();
  const std::uint64_t chunk = std::max<std::uint64_t>(options.chunk, 4096);
  std::vector<ByteRange> wiped;
  bool zero_filled = false;
  bool erased_to_zero = false;
  if (mode == "fast") {
    out.method = "zero";
    wiped = fast_wipe_ranges(size);
    std::uint64_t total = 0, done = 0;
    for (auto& r : wiped) total += r.length;
    out.error = zero_ranges(dev, wiped, chunk, done, total, progress);
  } else if (mode == "full") {
    // Discard first where the device can (an SSD then drops its mappings), but never trust
    // it: discarded blocks need not read back as zeros.
    bool discarded = true;
    for (std::uint64_t off = 0; off < size && discarded; off += chunk)
      discarded = dev.discard(off, std::min(chunk, size - off)).empty();
    out.method = discarded ? "discard+zero-fill" : "zero-fill";
    wiped = {{0, size}};
    out.error = zero_fill(dev, chunk, progress);
    zero_filled = true;
  } else if (mode == "secure") {
    wiped = {{0, size}};
    auto attempt = secure_erase(dev, transport, options.sleep);
    if (attempt.result == EraseAttempt::Result::failed) {
      out.method = attempt.method;
      out.error = attempt.detail;
      return out;
    }
    if (attempt.result == EraseAttempt::Result::erased) {
      out.method = attempt.method;
      erased_to_zero = attempt.reads_zero;
      if (progress) progress(size, size);
    } else {
      out.note = "no secure erase (" + attempt.detail + "): zero-filled";
    }
    if (!erased_to_zero) {
      out.method = out.method.empty() ? "zero-fill" : out.method + "+zero-fill";
      out.error = zero_fill(dev, chunk, progress);
      zero_filled = true;
    }
  } else {
    out.error = "unknown wipe mode " + mode;
    return out;
  }
  if (out.error.empty()) out.error = dev.flush();
  if (!out.error.empty()) return out;
  out.error = verify_zeros(dev, wiped, options);
  if (!out.error.empty() && erased_to_zero && !zero_filled) {
    // The drive said its erase leaves zeros and it did not: overwrite, then judge again.
    out.note = "erase left non-zero data (" + out.error + "): zero-filled";
    out.method += "+zero-fill";
    out.error = zero_fill(dev, chunk, progress);
    if (out.error.empty()) out.error = dev.flush();
    if (out.error.empty()) out.error = verify_zeros(dev, wiped, options);
  }
  out.verified = out.error.empty();
  return out;
}

}  // namespace ironboot::agent
