#include "agent/wipe.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "agent/erase_commands.hpp"

#include "agent/sysfs.hpp"

namespace ironboot::agent {
namespace {

// A disk full of old data (0xab) in 512-byte sectors: zeroing clears sectors, discard only
// drops them to "whatever" (still non-zero here), reads return what is there. Zeroing can be
// made to lie (report success, leave the data), for the verification to catch.
class FakeDevice : public BlockDevice {
 public:
  FakeDevice(std::uint64_t size, bool discard_ok) : size_(size), discard_ok_(discard_ok), zero_(size / 512, false) {}
  std::uint64_t size() const override { return size_; }
  std::string write_zeros(std::uint64_t off, std::uint64_t len) override {
    if (off + len > size_) return "past end";
    zeroed.push_back({off, len});
    if (!lying_writes) mark(off, len, true);
    return "";
  }
  std::string discard(std::uint64_t off, std::uint64_t len) override {
    if (!discard_ok_) return "BLKDISCARD: Operation not supported";
    discarded.push_back({off, len});
    mark(off, len, false);
    return "";
  }
  std::string flush() override {
    ++flushes;
    return "";
  }
  std::string read(std::uint64_t off, std::span<std::uint8_t> out) override {
    if (off + out.size() > size_) return "past end";
    reads.push_back({off, out.size()});
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = zero_[(off + i) / 512] ? 0 : 0xab;
    return "";
  }
  void mark(std::uint64_t off, std::uint64_t len, bool zero) {
    for (std::uint64_t s = off / 512; s < (off + len + 511) / 512 && s < zero_.size(); ++s) zero_[s] = zero;
  }
  bool all_zero() const { return std::all_of(zero_.begin(), zero_.end(), [](bool z) { return z; }); }
  std::vector<ByteRange> zeroed, discarded, reads;
  int flushes = 0;
  bool lying_writes = false;

 private:
  std::uint64_t size_;
  bool discard_ok_;
  std::vector<bool> zero_;
};

// An NVMe namespace (nsid 1) of a controller with the capabilities given.
class FakeNvme final : public FakeDevice {
 public:
  FakeNvme(std::uint64_t size, bool format, std::uint32_t sanicap, bool dlfeat_zero)
      : FakeDevice(size, true), format_(format), sanicap_(sanicap), dlfeat_zero_(dlfeat_zero) {}
  std::uint32_t nvme_namespace_id() override { return 1; }
  int nvme_admin(const erase::NvmeAdminCommand& c, std::span<std::uint8_t> data) override {
    commands.push_back(c);
    if (c.opcode == 0x06 && c.cdw10 == 1) {
      std::fill(data.begin(), data.end(), 0);
      data[256] = format_ ? 0x2 : 0;
      data[328] = static_cast<std::uint8_t>(sanicap_);
      return 0;
    }
    if (c.opcode == 0x06 && c.cdw10 == 0) {
      std::fill(data.begin(), data.end(), 0);
      data[26] = 0x2;  // LBA format 2 in use
      data[33] = dlfeat_zero_ ? 0x9 : 0x0;
      return 0;
    }
    if (c.opcode == 0x80) {
      if (!format_) return 0x4002;  // invalid opcode-ish status
      erase_all();
      return 0;
    }
    if (c.opcode == 0x84) {
      sanitize_polls_left = 2;
      return 0;
    }
    if (c.opcode == 0x02 && (c.cdw10 & 0xff) == 0x81) {
      std::fill(data.begin(), data.end(), 0);
      if (sanitize_polls_left > 0) {
        --sanitize_polls_left;
        data[2] = 2;  // in progress
      } else {
        erase_all();
        data[2] = 1;
      }
      return 0;
    }
    return 0x4001;
  }
  // What the medium holds after an erase: zeros if the controller says so, else garbage.
  void erase_all() { mark(0, size(), dlfeat_zero_); }
  std::vector<erase::NvmeAdminCommand> commands;
  int sanitize_polls_left = 0;

 private:
  bool format_;
  std::uint32_t sanicap_;
  bool dlfeat_zero_;
};

// A SATA disk behind libata's SAT: answers IDENTIFY and the security commands.
class FakeAta final : public FakeDevice {
 public:
  FakeAta(std::uint64_t size, std::uint16_t word128) : FakeDevice(size, false), word128_(word128) {}
  ScsiResult scsi(std::span<const std::uint8_t> cdb, erase::DataDirection, std::span<std::uint8_t> data,
                  std::uint32_t timeout_ms) override {
    ScsiResult r;
    if (cdb.size() != 16 || cdb[0] != 0x85) {
      r.status = 2;
      return r;
    }
    commands.push_back(cdb[14]);
    timeouts.push_back(timeout_ms);
    if (cdb[14] == 0xec) {
      std::fill(data.begin(), data.end(), 0);
      data[82 * 2] = 0x2;
      data[128 * 2] = static_cast<std::uint8_t>(word128_);
      data[89 * 2] = 30;  // 60 minutes
    } else if (cdb[14] == 0xf1 || cdb[14] == 0xf4) {
      passwords.emplace_back(reinterpret_cast<const char*>(data.data()) + 2);
      if (cdb[14] == 0xf4) mark(0, size(), true);
    }
    return r;
  }
  std::vector<std::uint8_t> commands;
  std::vector<std::uint32_t> timeouts;
  std::vector<std::string> passwords;

 private:
  std::uint16_t word128_;
};

WipeOptions chunked(std::uint64_t chunk) {
  WipeOptions o;
  o.chunk = chunk;
  return o;
}
WipeOptions sleeping(std::function<void(std::chrono::milliseconds)> sleep) {
  WipeOptions o;
  o.sleep = std::move(sleep);
  return o;
}

std::uint64_t covered(const std::vector<ByteRange>& v) {
  std::uint64_t n = 0;
  for (auto& r : v) n += r.length;
  return n;
}

TEST(WipePlan, FirstAndLast16MiBAndBtrfsMirrors) {
  const std::uint64_t size = 500ull * 1024 * kMiB;  // 500 GiB
  auto r = fast_wipe_ranges(size);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], (ByteRange{0, 16 * kMiB}));
  EXPECT_EQ(r[1], (ByteRange{64 * kMiB, 4096}));
  EXPECT_EQ(r[2], (ByteRange{256ull * 1024 * kMiB, 4096}));
  EXPECT_EQ(r[3], (ByteRange{size - 16 * kMiB, 16 * kMiB}));
}

TEST(WipePlan, SmallDevicesAreClippedAndMerged) {
  EXPECT_EQ(fast_wipe_ranges(20 * kMiB), (std::vector<ByteRange>{{0, 20 * kMiB}}));
  EXPECT_EQ(fast_wipe_ranges(4096), (std::vector<ByteRange>{{0, 4096}}));
  EXPECT_TRUE(fast_wipe_ranges(0).empty());
  auto r = fast_wipe_ranges(70 * kMiB);  // the 64 MiB mirror falls in the last 16 MiB
  EXPECT_EQ(r, (std::vector<ByteRange>{{0, 16 * kMiB}, {54 * kMiB, 16 * kMiB}}));
}

TEST(Wipe, FastZeroesTheEdgesWithProgressThenVerifiesThem) {
  FakeDevice dev(1024 * kMiB, true);
  std::vector<std::uint64_t> progress;
  auto out = wipe_device(dev, "fast", "virtio", [&](std::uint64_t done, std::uint64_t total) {
    progress.push_back(done);
    EXPECT_EQ(total, 32 * kMiB + 4096);
  }, chunked(8 * kMiB));
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "zero");
  EXPECT_TRUE(out.verified);
  EXPECT_EQ(covered(dev.zeroed), 32 * kMiB + 4096);
  EXPECT_TRUE(dev.discarded.empty());
  EXPECT_EQ(dev.flushes, 1);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 32 * kMiB + 4096);
  // First, last and 16 random samples, all inside the zeroed edges.
  ASSERT_EQ(dev.reads.size(), 18u);
  EXPECT_EQ(dev.reads[0].offset, 0u);
  EXPECT_EQ(dev.reads[1].offset + dev.reads[1].length, 1024 * kMiB);
  auto edges = fast_wipe_ranges(1024 * kMiB);
  for (const auto& r : dev.reads)
    EXPECT_TRUE(std::any_of(edges.begin(), edges.end(), [&](const ByteRange& e) {
      return r.offset >= e.offset && r.offset + r.length <= e.offset + e.length;
    })) << r.offset;
}

TEST(Wipe, FullNoLongerTrustsDiscard) {
  FakeDevice dev(200 * kMiB, true);
  std::uint64_t last_done = 0, last_total = 0;
  auto out = wipe_device(dev, "full", "nvme", [&](std::uint64_t d, std::uint64_t t) {
    EXPECT_GE(d, last_done);
    last_done = d;
    last_total = t;
  }, chunked(64 * kMiB));
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "discard+zero-fill");
  EXPECT_TRUE(out.verified);
  EXPECT_EQ(covered(dev.discarded), 200 * kMiB);
  EXPECT_EQ(covered(dev.zeroed), 200 * kMiB);
  EXPECT_TRUE(dev.all_zero());
  EXPECT_EQ(last_done, last_total);
}

TEST(Wipe, FullWithoutDiscardZeroFills) {
  FakeDevice dev(100 * kMiB, false);
  auto out = wipe_device(dev, "full", "ata", nullptr, chunked(16 * kMiB));
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "zero-fill");
  EXPECT_EQ(covered(dev.zeroed), 100 * kMiB);
  EXPECT_EQ(dev.zeroed.back().offset + dev.zeroed.back().length, 100 * kMiB);
}

TEST(Wipe, WritesThatDoNotStickFailTheVerification) {
  for (const char* mode : {"fast", "full", "secure"}) {
    FakeDevice dev(64 * kMiB, false);
    dev.lying_writes = true;
    auto out = wipe_device(dev, mode, "virtio", nullptr);
    EXPECT_FALSE(out.verified) << mode;
    EXPECT_EQ(out.error, "verification: non-zero data at offset 0") << mode;
  }
}

TEST(Wipe, VerificationRangesCoverStartEndAndRandomInside) {
  std::vector<ByteRange> wiped{{0, 16 * kMiB}, {100 * kMiB, 16 * kMiB}};
  auto r = verification_ranges(wiped, 8, 65536, 7);
  ASSERT_EQ(r.size(), 10u);
  EXPECT_EQ(r[0], (ByteRange{0, 65536}));
  EXPECT_EQ(r[1], (ByteRange{116 * kMiB - 65536, 65536}));
  for (std::size_t i = 2; i < r.size(); ++i) {
    EXPECT_EQ(r[i].offset % 4096, 0u);
    bool inside = (r[i].offset + r[i].length <= 16 * kMiB) ||
                  (r[i].offset >= 100 * kMiB && r[i].offset + r[i].length <= 116 * kMiB);
    EXPECT_TRUE(inside) << r[i].offset;
  }
  EXPECT_EQ(verification_ranges(wiped, 8, 65536, 7), r);  // same seed, same ranges
  EXPECT_NE(verification_ranges(wiped, 8, 65536, 8), r);
  // A device smaller than a sample is read whole.
  EXPECT_EQ(verification_ranges({{0, 4096}}, 0, 65536, 1), (std::vector<ByteRange>{{0, 4096}, {0, 4096}}));
  EXPECT_TRUE(verification_ranges({}, 4, 65536, 1).empty());
}

TEST(SecureWipe, NvmeFormatWithUserDataErase) {
  FakeNvme dev(64 * kMiB, true, 0, true);
  auto out = wipe_device(dev, "secure", "nvme", nullptr);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "nvme-format-user-data-erase");
  EXPECT_TRUE(out.verified);
  EXPECT_TRUE(dev.zeroed.empty());  // the drive did it
  ASSERT_EQ(dev.commands.size(), 3u);
  EXPECT_EQ(dev.commands[2].opcode, 0x80);
  EXPECT_EQ(dev.commands[2].nsid, 1u);
  EXPECT_EQ(dev.commands[2].cdw10, 0x2u | (1u << 9));  // LBA format kept, SES = user data erase
}

TEST(SecureWipe, NvmeSanitizeIsPreferredAndPolled) {
  FakeNvme dev(64 * kMiB, true, 0x2, true);
  int sleeps = 0;
  auto out = wipe_device(dev, "secure", "nvme", nullptr, sleeping([&](std::chrono::milliseconds) { ++sleeps; }));
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "nvme-sanitize-block-erase");
  EXPECT_TRUE(out.verified);
  EXPECT_EQ(sleeps, 2);
  EXPECT_EQ(dev.commands[2].opcode, 0x84);
  EXPECT_EQ(dev.commands[2].cdw10, 2u);
}

TEST(SecureWipe, NvmeEraseWithoutZerosIsFollowedByAZeroFill) {
  FakeNvme dev(64 * kMiB, true, 0, false);
  auto out = wipe_device(dev, "secure", "nvme", nullptr);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "nvme-format-user-data-erase+zero-fill");
  EXPECT_TRUE(out.verified);
  EXPECT_TRUE(dev.all_zero());
}

TEST(SecureWipe, NvmeWithoutFormatFallsBackToZeroFill) {
  FakeNvme dev(64 * kMiB, false, 0, true);
  auto out = wipe_device(dev, "secure", "nvme", nullptr);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "zero-fill");
  EXPECT_NE(out.note.find("neither Sanitize nor Format NVM"), std::string::npos);
  EXPECT_TRUE(dev.all_zero());
}

TEST(SecureWipe, AtaSecurityEraseUnit) {
  FakeAta dev(64 * kMiB, 0x1);  // supported, not enabled, not frozen
  auto out = wipe_device(dev, "secure", "ata", nullptr);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "ata-security-erase");
  EXPECT_TRUE(out.verified);
  EXPECT_EQ(dev.commands, (std::vector<std::uint8_t>{0xec, 0xf1, 0xf3, 0xf4}));
  EXPECT_EQ(dev.passwords, (std::vector<std::string>{"ironboot", "ironboot"}));
  EXPECT_EQ(dev.timeouts.back(), 120u * 60'000);  // 2 x the drive's 60 min, at least 2 h
}

TEST(SecureWipe, FrozenAtaFallsBackToZeroFill) {
  FakeAta dev(64 * kMiB, 0x1 | 0x8);
  auto out = wipe_device(dev, "secure", "ata", nullptr);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "zero-fill");
  EXPECT_EQ(dev.commands, (std::vector<std::uint8_t>{0xec}));
  EXPECT_NE(out.note.find("frozen"), std::string::npos);
}

// A SAS disk that supports SANITIZE block erase (SBC leaves what it reads back unspecified).
class FakeSas final : public FakeDevice {
 public:
  explicit FakeSas(std::uint64_t size) : FakeDevice(size, false) {}
  ScsiResult scsi(std::span<const std::uint8_t> cdb, erase::DataDirection, std::span<std::uint8_t> data,
                  std::uint32_t) override {
    cdbs.emplace_back(cdb.begin(), cdb.end());
    ScsiResult r;
    if (cdb[0] == 0xa3) {
      std::fill(data.begin(), data.end(), 0);
      data[1] = cdb[5] == 2 ? 0x03 : 0x01;  // block erase supported, crypto erase not
    } else if (cdb[0] == 0x48) {
      mark(0, size(), false);
    } else {
      r.status = 2;
    }
    return r;
  }
  std::vector<std::vector<std::uint8_t>> cdbs;
};

TEST(SecureWipe, ScsiSanitizeThenZeroFill) {
  FakeSas dev(32 * kMiB);
  auto out = wipe_device(dev, "secure", "scsi", nullptr);
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.method, "scsi-sanitize-block-erase+zero-fill");
  EXPECT_TRUE(out.verified);
  ASSERT_EQ(dev.cdbs.size(), 2u);
  EXPECT_EQ(dev.cdbs[1], (std::vector<std::uint8_t>{0x48, 0x02, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(dev.all_zero());
}

TEST(SecureWipe, ScsiWithoutSanitizeAndVirtioZeroFill) {
  FakeDevice scsi(32 * kMiB, false);  // every SG_IO fails: ENOTTY
  auto out = wipe_device(scsi, "secure", "scsi", nullptr);
  EXPECT_EQ(out.method, "zero-fill");
  EXPECT_TRUE(out.verified);
  FakeDevice virtio(32 * kMiB, false);
  out = wipe_device(virtio, "secure", "virtio", nullptr);
  EXPECT_EQ(out.method, "zero-fill");
  EXPECT_TRUE(virtio.all_zero());
}

TEST(Wipe, Eligibility) {
  Disk d;
  d.type = "SSD";
  d.size_bytes = 1;
  EXPECT_TRUE(wipe_eligible(d));
  d.removable = true;
  EXPECT_FALSE(wipe_eligible(d));
  d.removable = false;
  d.read_only = true;
  EXPECT_FALSE(wipe_eligible(d));
  d.read_only = false;
  d.type = "CD";
  EXPECT_FALSE(wipe_eligible(d));
  d.type = "HDD";
  d.size_bytes = 0;
  EXPECT_FALSE(wipe_eligible(d));
}

TEST(Transport, FromTheSysfsPath) {
  using sysfs::BlockTransport;
  using sysfs::classify_block_transport;
  EXPECT_EQ(classify_block_transport("sda", "../devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda", ""),
            (BlockTransport{"ata", true}));
  EXPECT_EQ(classify_block_transport("nvme0n1", "../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1", "pcie"),
            (BlockTransport{"nvme", true}));
  EXPECT_EQ(classify_block_transport("vda", "../devices/pci0000:00/0000:00:03.0/virtio0/block/vda", ""),
            (BlockTransport{"virtio", true}));
  EXPECT_EQ(classify_block_transport("sda", "../devices/pci0000:00/0000:00:05.0/virtio1/host2/target2:0:0/2:0:0:0/block/sda", ""),
            (BlockTransport{"virtio", true}));
  EXPECT_EQ(classify_block_transport(
                "sdb", "../devices/pci0000:00/0000:03:00.0/host0/port-0:0/end_device-0:0/target0:0:0/0:0:0:0/block/sdb", ""),
            (BlockTransport{"scsi", true}));
  EXPECT_EQ(classify_block_transport(
                "sdc", "../devices/pci0000:00/0000:00:1d.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdc", ""),
            (BlockTransport{"usb", false}));
  EXPECT_EQ(classify_block_transport("sdd", "../devices/platform/host7/session1/target7:0:0/7:0:0:0/block/sdd", ""),
            (BlockTransport{"iscsi", false}));
  EXPECT_EQ(classify_block_transport(
                "sde", "../devices/pci0000:00/0000:05:00.0/host8/rport-8:0-0/target8:0:0/8:0:0:0/block/sde", ""),
            (BlockTransport{"fc", false}));
  EXPECT_EQ(classify_block_transport("nvme1n1", "../devices/virtual/nvme-fabrics/ctl/nvme1/nvme1n1", "tcp"),
            (BlockTransport{"nvme-tcp", false}));
  EXPECT_EQ(classify_block_transport("nvme2n1", "../devices/virtual/nvme-subsystem/nvme-subsys2/nvme2n1", "rdma"),
            (BlockTransport{"nvme-rdma", false}));
  EXPECT_EQ(classify_block_transport("nvme0n1", "../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1", "pcie"),
            (BlockTransport{"nvme", true}));
  EXPECT_EQ(classify_block_transport("mmcblk0", "../devices/pci0000:00/0000:00:1c.0/mmc_host/mmc0/mmc0:0001/block/mmcblk0", ""),
            (BlockTransport{"mmc", true}));
  for (auto [name, kind] : {std::pair{"loop0", "loop"}, {"md127", "md"}, {"dm-0", "dm"}, {"zram0", "zram"},
                            {"nbd3", "nbd"}, {"rbd0", "rbd"}, {"ram0", "ram"}})
    EXPECT_EQ(classify_block_transport(name, std::string("../devices/virtual/block/") + name, ""),
              (BlockTransport{kind, false}));
  EXPECT_EQ(classify_block_transport("xvda", "../devices/vbd-51712/block/xvda", ""), (BlockTransport{"unknown", false}));
  EXPECT_EQ(classify_block_transport("sdz", "", ""), (BlockTransport{"unknown", false}));
}

// A /sys tree: a virtio disk, an NVMe namespace, a USB disk that claims to be fixed, a loop
// device, a read-only SATA disk and an iSCSI LUN.
class PlanTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() / ("ironboot-plan-" + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    disk("vda", "../devices/pci0000:00/0000:00:03.0/virtio0/block/vda", "0");
    disk("nvme0n1", "../devices/pci0000:00/0000:00:04.0/nvme/nvme0/nvme0n1", "0");
    write("sys/class/nvme/nvme0/transport", "pcie\n");
    disk("sda", "../devices/pci0000:00/0000:00:1d.0/usb1/1-1/1-1:1.0/host2/target2:0:0/2:0:0:0/block/sda", "0");
    disk("loop0", "../devices/virtual/block/loop0", "0");
    disk("sdb", "../devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdb", "1");
    disk("sdc", "../devices/platform/host3/session1/target3:0:0/3:0:0:0/block/sdc", "0");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    std::filesystem::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  void disk(const std::string& name, const std::string& target, const std::string& ro) {
    // /sys/block/X is a symlink into /sys/devices; the attributes live at the target.
    std::filesystem::path dir = (root_ / "sys/block" / target).lexically_normal();
    std::filesystem::create_directories(dir / "queue");
    std::ofstream(dir / "size") << "2097152\n";
    std::ofstream(dir / "ro") << ro << "\n";
    std::ofstream(dir / "removable") << "0\n";
    std::ofstream(dir / "queue/rotational") << "0\n";
    std::filesystem::create_directories(root_ / "sys/block");
    std::filesystem::create_symlink(target, root_ / "sys/block" / name);
  }
  std::filesystem::path root_;
};

TEST_F(PlanTree, OnlyLocalDisksAreWiped) {
  DirFsRoot fs(root_.string());
  auto plan = plan_wipe(fs, false);
  std::vector<std::string> targets;
  for (const auto& t : plan.targets) targets.push_back(t.disk.device_name + "=" + t.transport);
  EXPECT_EQ(targets, (std::vector<std::string>{"/dev/nvme0n1=nvme", "/dev/vda=virtio"}));
  EXPECT_EQ(plan.skipped, (std::vector<SkippedDisk>{{"/dev/loop0", "loop", "loop"},
                                                    {"/dev/sda", "usb", "usb (ironboot.wipe_usb not set)"},
                                                    {"/dev/sdb", "ata", "read-only"},
                                                    {"/dev/sdc", "iscsi", "iscsi"}}));
  auto with_usb = plan_wipe(fs, true);
  ASSERT_EQ(with_usb.targets.size(), 3u);
  EXPECT_EQ(with_usb.targets[1].disk.device_name, "/dev/sda");
  EXPECT_EQ(with_usb.targets[1].transport, "usb");
}

TEST(Wipe, OpenBlockDeviceRefusesRegularFiles) {
  char path[] = "/tmp/ironboot-wipe-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::string error;
  EXPECT_EQ(open_block_device(path, error), nullptr);
  EXPECT_NE(error.find("BLKGETSIZE64"), std::string::npos);
  ::unlink(path);
  EXPECT_EQ(open_block_device("/nonexistent/dev", error), nullptr);
}

}  // namespace
}  // namespace ironboot::agent
