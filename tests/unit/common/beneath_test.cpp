#include "common/beneath.hpp"
#include "common/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace ironboot {
namespace {

namespace fs = std::filesystem;

class BeneathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("beneath-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "root/sub");
    fs::create_directories(base_ / "boot");
    fs::create_directories(base_ / "secret");
    write(base_ / "root/a.txt", "a");
    write(base_ / "root/sub/b.txt", "b");
    write(base_ / "boot/ipxe.efi", "efi");
    write(base_ / "secret/key", "key");
    fs::create_symlink(base_ / "boot/ipxe.efi", base_ / "root/ipxe.efi");      // absolute, allowed
    fs::create_symlink(base_ / "secret/key", base_ / "root/key");              // absolute, refused
    fs::create_symlink("../secret/key", base_ / "root/rel-key");               // relative, refused
    fs::create_symlink("sub/b.txt", base_ / "root/inside");                    // relative, inside
    fs::create_symlink(base_ / "root/a.txt", base_ / "root/abs-inside");       // absolute, inside
  }
  void TearDown() override { fs::remove_all(base_); }
  static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  std::string read_fd(int fd) {
    char buf[64];
    const auto n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
  fs::path base_;
};

TEST_F(BeneathTest, OpensOnlyBeneathTheRoot) {
  BeneathDir dir;
  ASSERT_EQ(dir.open(base_ / "root", {(base_ / "boot").string(), (base_ / "absent").string()}), "");
  EXPECT_EQ(read_fd(dir.open_file("a.txt", O_RDONLY)), "a");
  EXPECT_EQ(read_fd(dir.open_file("sub/b.txt", O_RDONLY)), "b");
  EXPECT_EQ(read_fd(dir.open_file("inside", O_RDONLY)), "b");
  EXPECT_EQ(read_fd(dir.open_file("abs-inside", O_RDONLY)), "a");
  EXPECT_EQ(read_fd(dir.open_file("ipxe.efi", O_RDONLY)), "efi");
  EXPECT_EQ(dir.open_file("key", O_RDONLY), -EXDEV);
  EXPECT_EQ(dir.open_file("rel-key", O_RDONLY), -EXDEV);
  EXPECT_EQ(dir.open_file("../secret/key", O_RDONLY), -EXDEV);
  EXPECT_LT(dir.open_file((base_ / "secret/key").string(), O_RDONLY), 0);
  EXPECT_EQ(dir.open_file("missing", O_RDONLY), -ENOENT);
  EXPECT_EQ(dir.open_file("", O_RDONLY), -ENOENT);
}

TEST_F(BeneathTest, WithoutFollowDirsEveryEscapeIsRefused) {
  BeneathDir dir;
  ASSERT_EQ(dir.open(base_ / "root"), "");
  EXPECT_EQ(dir.open_file("ipxe.efi", O_RDONLY), -EXDEV);
  EXPECT_EQ(read_fd(dir.open_file("abs-inside", O_RDONLY)), "a");
}

TEST_F(BeneathTest, MissingRootIsAnError) {
  BeneathDir dir;
  EXPECT_NE(dir.open((base_ / "nope").string()), "");
  EXPECT_FALSE(dir.is_open());
  EXPECT_EQ(dir.open_file("a.txt", O_RDONLY), -EBADF);
}

TEST_F(BeneathTest, ReadFileReadsWholeFilesAndSaysWhenItCannot) {
  EXPECT_EQ(read_file((base_ / "root/a.txt").string()), std::string("a"));
  std::string binary("x\0y\n", 4);
  write(base_ / "bin", binary);
  EXPECT_EQ(read_file((base_ / "bin").string()), binary);
  EXPECT_EQ(read_file((base_ / "missing").string()), std::nullopt);
  EXPECT_EQ(read_file((base_ / "root").string()), std::nullopt) << "a directory is not a file";
}

TEST(PathWithin, OneRule) {
  EXPECT_TRUE(path_within("/srv/tftp", "/srv/tftp"));
  EXPECT_TRUE(path_within("/srv/tftp/a", "/srv/tftp"));
  EXPECT_FALSE(path_within("/srv/tftpx", "/srv/tftp"));
  EXPECT_FALSE(path_within("/srv", "/srv/tftp"));
  EXPECT_TRUE(path_within("/anything", "/"));
  EXPECT_FALSE(path_within("relative", "/"));
  EXPECT_FALSE(path_within("/a", ""));
}

}  // namespace
}  // namespace ironboot
