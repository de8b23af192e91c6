#include "tftp/file_store.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ironboot::tftp {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tftp-store-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path path;
};

void write_file(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

std::string read_source(FileSource& s) {
  std::string out(s.size(), '\0');
  EXPECT_EQ(s.read(0, std::span(reinterpret_cast<std::uint8_t*>(out.data()), out.size())),
            static_cast<std::int64_t>(out.size()));
  return out;
}

TEST(TftpPath, RelativeComponents) {
  const std::vector<std::string> roots{"/srv/tftp"};
  std::string out;
  EXPECT_TRUE(relative_components("ipxe.efi", roots, out));
  EXPECT_EQ(out, "ipxe.efi");
  EXPECT_TRUE(relative_components("a//b/./c", roots, out));
  EXPECT_EQ(out, "a/b/c");
  EXPECT_TRUE(relative_components("boot\\x86\\pxe.0", roots, out));
  EXPECT_EQ(out, "boot/x86/pxe.0");
  EXPECT_TRUE(relative_components("/srv/tftp/sub/f", roots, out));
  EXPECT_EQ(out, "sub/f");
  EXPECT_FALSE(relative_components("../../etc/passwd", roots, out));
  EXPECT_FALSE(relative_components("a/../../b", roots, out));
  EXPECT_FALSE(relative_components("a/..", roots, out));
  EXPECT_FALSE(relative_components("..\\..\\etc\\passwd", roots, out));
  EXPECT_FALSE(relative_components("/etc/passwd", roots, out));
  EXPECT_FALSE(relative_components("/srv/tftpother/f", roots, out));
  EXPECT_TRUE(relative_components("..foo", roots, out));  // a name, not a parent reference
}

class TftpStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root = tmp.path / "root";
    outside = tmp.path / "outside";
    write_file(root / "small.bin", "hello");
    write_file(root / "dir" / "text.txt", "a\nb\n");
    write_file(outside / "secret", "secret");
    fs::create_symlink(outside / "secret", root / "escape");
    fs::create_symlink("dir/text.txt", root / "inside-link");
    fs::create_symlink("../outside/secret", root / "relative-escape");
  }
  DiskFileStore store(std::uint64_t cache_max = 1024, std::vector<std::string> follow = {}) {
    return DiskFileStore(FileStoreOptions{root.string(), std::move(follow), cache_max, 1 << 20});
  }
  TempDir tmp;
  fs::path root, outside;
};

TEST_F(TftpStore, ServesFilesAndSymlinksInsideTheRoot) {
  auto s = store();
  auto r = s.open("small.bin", false);
  ASSERT_TRUE(r.source);
  EXPECT_EQ(read_source(*r.source), "hello");
  auto l = s.open("inside-link", false);
  ASSERT_TRUE(l.source);
  EXPECT_EQ(read_source(*l.source), "a\nb\n");
  auto abs = s.open((root / "small.bin").string(), false);
  ASSERT_TRUE(abs.source);
}

TEST_F(TftpStore, RefusesEscapes) {
  auto s = store();
  EXPECT_EQ(s.open("../outside/secret", false).error, ErrorCode::access_violation);
  EXPECT_EQ(s.open("/etc/passwd", false).error, ErrorCode::access_violation);
  EXPECT_EQ(s.open("escape", false).error, ErrorCode::access_violation);
  EXPECT_EQ(s.open("relative-escape", false).error, ErrorCode::access_violation);
  EXPECT_EQ(s.open("missing", false).error, ErrorCode::file_not_found);
  EXPECT_EQ(s.open("small.bin/x", false).error, ErrorCode::file_not_found);
  EXPECT_EQ(s.open("dir", false).error, ErrorCode::file_not_found);
  EXPECT_EQ(s.open("", false).error, ErrorCode::file_not_found);
}

TEST_F(TftpStore, FollowsSymlinksOnlyIntoListedDirectories) {
  auto s = store(1024, {outside.string()});
  auto r = s.open("escape", false);
  ASSERT_TRUE(r.source);
  EXPECT_EQ(read_source(*r.source), "secret");
  // Listing a directory does not let a request name it directly.
  EXPECT_EQ(s.open("../outside/secret", false).error, ErrorCode::access_violation);
  EXPECT_EQ(s.open((outside / "secret").string(), false).error, ErrorCode::access_violation);
}

TEST_F(TftpStore, CacheIsRevalidatedByMtime) {
  auto s = store();
  EXPECT_EQ(read_source(*s.open("small.bin", false).source), "hello");
  EXPECT_EQ(s.cached_files(), 1u);
  write_file(root / "small.bin", "HELLO");  // same size, new content
  struct timespec times[2] = {{0, UTIME_NOW}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root / "small.bin").c_str(), times, 0), 0);
  EXPECT_EQ(read_source(*s.open("small.bin", false).source), "HELLO");
}

TEST_F(TftpStore, RefusalsCarryTheirReason) {
  auto s = store();
  EXPECT_STREQ(s.open("../outside/secret", false).reason, "outside_root");
  EXPECT_STREQ(s.open(root.string(), false).reason, "outside_root");  // the root is not a file in it
  EXPECT_STREQ(s.open("escape", false).reason, "symlink_outside_root");
  EXPECT_STREQ(s.open("relative-escape", false).reason, "symlink_outside_root");
  EXPECT_STREQ(s.open("missing", false).reason, "not_found");
  EXPECT_STREQ(s.open("dir", false).reason, "not_a_file");
}

TEST_F(TftpStore, OneCacheEntryPerFileWhateverNamesIt) {
  auto s = store();
  fs::create_symlink("small.bin", root / "small-link");
  EXPECT_EQ(read_source(*s.open("small.bin", false).source), "hello");
  EXPECT_EQ(read_source(*s.open("small-link", false).source), "hello");
  EXPECT_EQ(read_source(*s.open((root / "small.bin").string(), false).source), "hello");
  EXPECT_EQ(s.cached_files(), 1u);
  EXPECT_EQ(s.cached_bytes(), 5u);
}

TEST_F(TftpStore, AReplacedFileReplacesItsCacheEntry) {
  auto s = store();
  EXPECT_EQ(read_source(*s.open("small.bin", false).source), "hello");
  write_file(root / "small.new", "fresh!");
  fs::rename(root / "small.new", root / "small.bin");  // a new inode under the old name
  EXPECT_EQ(read_source(*s.open("small.bin", false).source), "fresh!");
  EXPECT_EQ(s.cached_files(), 1u);
  EXPECT_EQ(s.cached_bytes(), 6u);
}

TEST_F(TftpStore, RootCreatedAfterTheStoreIsServed) {
  const auto later = tmp.path / "later";
  DiskFileStore s(FileStoreOptions{later.string(), {}, 1024, 1 << 20});
  EXPECT_EQ(s.open("f", false).error, ErrorCode::file_not_found);
  write_file(later / "f", "late");
  auto r = s.open("f", false);
  ASSERT_TRUE(r.source);
  EXPECT_EQ(read_source(*r.source), "late");
}

TEST_F(TftpStore, SymlinkSwappedToLeaveTheRootIsRefused) {
  auto s = store();
  EXPECT_TRUE(s.open("inside-link", false).source);
  fs::remove(root / "inside-link");
  fs::create_symlink(outside / "secret", root / "inside-link");
  EXPECT_EQ(s.open("inside-link", false).error, ErrorCode::access_violation);
}

TEST_F(TftpStore, LargeFilesAreReadInBlocks) {
  std::string big(5000, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  write_file(root / "big.bin", big);
  auto s = store(1024);
  auto r = s.open("big.bin", false);
  ASSERT_TRUE(r.source);
  EXPECT_EQ(s.cached_files(), 0u);  // above the cache limit: not loaded
  std::array<std::uint8_t, 10> buf{};
  EXPECT_EQ(r.source->read(4995, buf), 5);
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + 5), big.substr(4995));
  EXPECT_EQ(read_source(*r.source), big);
  EXPECT_EQ(s.open("big.bin", true).error, ErrorCode::not_defined);  // netascii only for small files
}

TEST_F(TftpStore, LargeFileChunkedReadsMatchAtAnyOffset) {
  std::string big(200 * 1024 + 7, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 131) ^ (i >> 9));
  write_file(root / "big.bin", big);
  auto s = store(1024);
  auto r = s.open("big.bin", false);
  ASSERT_TRUE(r.source);
  std::vector<std::uint8_t> buf(1428);
  // Sequential blocks, then a retransmission far back, then a block straddling a chunk end.
  for (std::uint64_t off : {0ul, 1428ul, 2856ul, 150000ul, 1428ul, 32768ul - 100, 200 * 1024ul}) {
    const auto n = r.source->read(off, buf);
    const auto want = std::min<std::uint64_t>(buf.size(), big.size() - off);
    ASSERT_EQ(n, static_cast<std::int64_t>(want)) << off;
    EXPECT_EQ(std::string(buf.begin(), buf.begin() + n), big.substr(off, want)) << off;
  }
  std::vector<std::uint8_t> huge(65464);  // larger than a chunk: read directly
  ASSERT_EQ(r.source->read(100, huge), 65464);
  EXPECT_EQ(std::string(huge.begin(), huge.end()), big.substr(100, 65464));
}

TEST_F(TftpStore, NetasciiConvertsLineEnds) {
  auto s = store();
  auto r = s.open("dir/text.txt", true);
  ASSERT_TRUE(r.source);
  EXPECT_EQ(read_source(*r.source), "a\r\nb\r\n");
}

// The default configuration on Debian: root /usr/lib/ipxe whose ipxe.efi is a symlink to
// /boot/ipxe.efi (package `ipxe`, a dependency in scripts/install-deps).
TEST(TftpStoreDebian, DefaultConfigServesIpxeEfiThroughItsSymlink) {
  if (!fs::is_symlink("/usr/lib/ipxe/ipxe.efi")) GTEST_SKIP() << "Debian ipxe package layout not present";
  DiskFileStore with_default(FileStoreOptions{"/usr/lib/ipxe", {"/boot"}, 16 << 20, 256 << 20});
  auto r = with_default.open("ipxe.efi", false);
  ASSERT_TRUE(r.source);
  EXPECT_EQ(r.source->size(), fs::file_size("/boot/ipxe.efi"));
  ASSERT_TRUE(with_default.open("undionly.kpxe", false).source);
  EXPECT_EQ(with_default.open("../../../etc/passwd", false).error, ErrorCode::access_violation);

  DiskFileStore strict(FileStoreOptions{"/usr/lib/ipxe", {}, 16 << 20, 256 << 20});
  EXPECT_EQ(strict.open("ipxe.efi", false).error, ErrorCode::access_violation);
}

}  // namespace
}  // namespace ironboot::tftp
