// The store never acknowledges what it has not persisted: writes and fdatasyncs that fail (a
// fake LogFiles), the truncation back to the last synced offset, and the store's roll-back.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <filesystem>

#include "kube/secret_box.hpp"
#include "kube/store.hpp"
#include "kube/store_log.hpp"
#include "store_fixtures.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

using store_testing::obj;
using store_testing::TempDir;

// POSIX, except that writes past a byte budget fail with ENOSPC (after writing what fits, as
// a full disk does) and chosen fdatasyncs fail with EIO.
class FailingFiles final : public LogFiles {
 public:
  std::size_t write_budget = SIZE_MAX;  // bytes that may still be written
  int failing_syncs = 0;                // the next this many fdatasyncs fail
  int open(const char* path, int flags, mode_t mode) override { return ::open(path, flags, mode); }
  ssize_t write(int fd, const void* data, std::size_t size) override {
    if (write_budget == 0) {
      errno = ENOSPC;
      return -1;
    }
    const std::size_t n = std::min(size, write_budget);
    const ssize_t done = ::write(fd, data, n);
    if (done > 0 && write_budget != SIZE_MAX) write_budget -= static_cast<std::size_t>(done);
    return done;
  }
  int fdatasync(int fd) override {
    if (failing_syncs > 0) {
      --failing_syncs;
      errno = EIO;
      return -1;
    }
    return ::fdatasync(fd);
  }
  int fsync(int fd) override { return ::fsync(fd); }
  int ftruncate(int fd, off_t size) override { return ::ftruncate(fd, size); }
  off_t lseek(int fd, off_t offset, int whence) override { return ::lseek(fd, offset, whence); }
  int rename(const char* from, const char* to) override { return ::rename(from, to); }
  int close(int fd) override { return ::close(fd); }
};

SecretKeyring keys_in(const std::string& dir) { return load_or_create_secret_keys(secrets_key_path(dir)); }

TEST(StoreLogFaults, AFullDiskTruncatesBackAndTheStoreRollsBack) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  FailingFiles files;
  Store s;
  StoreLog log(path, s, keys_in(dir.path), &files);
  s.set_journal(&log);
  s.put("servers", obj("a", 1));
  ASSERT_EQ(log.flush(), "");
  s.mark_durable(s.resource_version());
  const std::uint64_t durable = s.resource_version();
  const auto synced = std::filesystem::file_size(path);
  EXPECT_EQ(log.file_bytes(), synced);

  // The disk fills in the middle of the next batch: an update of a and a create of b.
  files.write_budget = 20;
  s.put("servers", obj("a", 2));
  s.put("servers", obj("b", 1));
  const std::string err = log.flush();
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err;
  EXPECT_EQ(std::filesystem::file_size(path), synced) << "the partial batch is cut off";
  EXPECT_EQ(s.roll_back_to(durable), 2u);
  EXPECT_EQ(s.get("servers", "a")->at("spec").at("v"), 1) << "a is back at its durable version";
  EXPECT_FALSE(s.contains("servers", "b"));
  std::vector<Change> history;
  ASSERT_TRUE(s.changes_since(durable, history));
  EXPECT_TRUE(history.empty()) << "rolled-back changes leave the history";

  // Space again: the next write lands right after the last synced one.
  files.write_budget = SIZE_MAX;
  ASSERT_EQ(log.write_and_sync(log.probe_record()), "");
  s.put("servers", obj("c", 1));
  ASSERT_EQ(log.flush(), "");
  EXPECT_GT(s.resource_version(), durable + 2) << "resourceVersions of rolled-back changes are not reused";

  Store reloaded;
  StoreLog again(path, reloaded, keys_in(dir.path));
  EXPECT_EQ(again.load_stats().dropped_bytes, 0u);
  EXPECT_EQ(reloaded.get("servers", "a")->at("spec").at("v"), 1);
  EXPECT_FALSE(reloaded.contains("servers", "b"));
  EXPECT_TRUE(reloaded.contains("servers", "c"));
  EXPECT_EQ(reloaded.resource_version(), s.resource_version());
}

TEST(StoreLogFaults, AFailedFdatasyncIsNotAcknowledgedEither) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  FailingFiles files;
  Store s;
  StoreLog log(path, s, keys_in(dir.path), &files);
  s.set_journal(&log);
  const auto synced = std::filesystem::file_size(path);
  files.failing_syncs = 1;
  s.put("servers", obj("a", 1));
  const std::string err = log.flush();
  EXPECT_NE(err.find("fdatasync"), std::string::npos) << err;
  EXPECT_EQ(std::filesystem::file_size(path), synced) << "written but not synced: cut off";
  EXPECT_EQ(s.roll_back_to(0), 1u);
  EXPECT_EQ(s.size(), 0u);
  s.put("servers", obj("b", 1));
  ASSERT_EQ(log.flush(), "");
  Store reloaded;
  StoreLog again(path, reloaded, keys_in(dir.path));
  EXPECT_FALSE(reloaded.contains("servers", "a"));
  EXPECT_TRUE(reloaded.contains("servers", "b"));
}

TEST(StoreLogFaults, RollBackRestoresDeletedObjectsAndKeepsDurableOnes) {
  Store s;
  struct NullJournal : Journal {
    void record(const Change&) override {}
  } journal;
  s.set_journal(&journal);
  s.put("servers", obj("a", 1));
  s.put("servers", obj("b", 1));
  s.mark_durable(2);
  s.erase("servers", "a");
  s.put("servers", obj("b", 2));
  s.put("servers", obj("c", 1));
  EXPECT_EQ(s.roll_back_to(2), 3u);
  ASSERT_TRUE(s.contains("servers", "a"));
  EXPECT_EQ(s.find("servers", "a")->rv(), 1u);
  EXPECT_EQ(s.get("servers", "b")->at("spec").at("v"), 1);
  EXPECT_FALSE(s.contains("servers", "c"));
  EXPECT_EQ(s.roll_back_to(0), 0u) << "durable changes are never undone";
}

TEST(StoreLogFaults, CompactionWrittenFromASnapshot) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  {
    Store s;
    StoreLog log(path, s, keys_in(dir.path));
    s.set_journal(&log);
    for (int i = 0; i < 50; ++i) s.put("servers", obj("a", i));
    ASSERT_EQ(log.flush(), "");
    const CompactionSnapshot snap = log.compaction_snapshot();
    // Changes after the snapshot are appended after the compacted file is in place.
    s.put("servers", obj("b", 1));
    ASSERT_EQ(log.write_compaction(snap), "");
    ASSERT_EQ(log.flush(), "");
  }
  Store s;
  StoreLog log(path, s, keys_in(dir.path));
  EXPECT_EQ(log.load_stats().dropped_bytes, 0u);
  EXPECT_EQ(s.get("servers", "a")->at("spec").at("v"), 49);
  EXPECT_TRUE(s.contains("servers", "b"));
  EXPECT_EQ(s.resource_version(), 51u);
}

}  // namespace
}  // namespace ironboot::kube
