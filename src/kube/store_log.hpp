// Durability for the Store: an append-only log of changes under data_dir.
// Record framing: u32 length (LE), u32 CRC-32 of the payload (LE), JSON payload
// {"rv":N,"r":"servers","o":{...}} (put), {"rv":N,"r":"servers","d":"name"} (delete) or
// {"rv":N} (the resourceVersion header a compacted log starts with).
// Secrets are sealed (secret_box.hpp): a put of resource "secrets" is
// {"rv":N,"r":"secrets","n":"<name>","k":"<key id>","iv":"<base64 nonce>","e":"<base64 ciphertext+tag>"},
// the ciphertext being the object's JSON under AES-256-GCM with AAD = (resource, name, rv).
// {"rv":N,"k":"<key id>"} marks the key the log is written with from then on (the compacted
// log's header carries it too); `secrets-key prune` relies on it. A sealed record that does
// not authenticate, or names a key the keyring lacks, is a hard load error (never dropped).
// Every batch of records written with one fdatasync ends with a commit record {"rv":N,"c":1}
// (N: the batch's last resourceVersion); a write is acknowledged only after it is synced.
// On load, records after the last commit record belong to a batch never acknowledged and are
// dropped, like a record cut short or failing its checksum at the end (a torn tail), and the
// file is truncated there (logged). A bad record followed by a commit record further on is
// damage to acknowledged data: start-up is refused, naming the offset, after a copy of the log
// is written beside it (store.log.corrupt-<unix time>). Logs written before commit records
// existed keep what precedes their first bad record.
// A failed write or fdatasync truncates the file back to the last synced offset; the caller
// rolls the store back (Store::roll_back_to) and retries with probe records.
// Compaction writes every live object to a new file, fsyncs it and renames it over the log; the
// snapshot is taken on the owning thread, the writing can run on the sync thread.
// Opening a log that has Secrets under a key other than the current one (or unsealed) compacts it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/secret_box.hpp"
#include "kube/store.hpp"

namespace ironboot::kube {

struct LogLoadStats {
  std::uint64_t records = 0;
  std::uint64_t dropped_bytes = 0;  // torn or corrupt tail removed
  std::uint64_t valid_bytes = 0;
  std::string drop_reason;
  std::uint64_t sealed_records = 0;
  bool reencrypted = false;  // compacted on open to move Secrets to the current key
};

// Which keys a log's records need (read by `secrets-key prune`, without decrypting).
struct LogKeyUsage {
  std::set<std::string> sealed_with;       // key ids of sealed records
  std::string writer_key;                  // the newest key marker; "" when there is none
  std::uint64_t unsealed_secrets = 0;      // Secret puts stored in plaintext (older logs)
};

// The resource whose objects are sealed in the log.
inline constexpr const char* kSealedResource = "secrets";

// The file operations the log uses: POSIX (posix_log_files()) in the daemon; tests substitute
// ones that fail on purpose. Same contracts as the system calls (-1 and errno on failure).
class LogFiles {
 public:
  virtual ~LogFiles() = default;
  virtual int open(const char* path, int flags, mode_t mode) = 0;
  virtual ssize_t write(int fd, const void* data, std::size_t size) = 0;
  virtual int fdatasync(int fd) = 0;
  virtual int fsync(int fd) = 0;
  virtual int ftruncate(int fd, off_t size) = 0;
  virtual off_t lseek(int fd, off_t offset, int whence) = 0;
  virtual int rename(const char* from, const char* to) = 0;
  virtual int close(int fd) = 0;
};
LogFiles& posix_log_files();

// What compaction writes: the live objects at one resourceVersion (texts are immutable and
// shared, so another thread may write them out).
struct CompactionSnapshot {
  std::uint64_t rv = 0;
  std::vector<std::pair<std::string, StoredPtr>> objects;  // resource, object
};

class StoreLog : public Journal {
 public:
  // Opens (creating) `path`, replays it into `store` and truncates a bad tail. Secrets are
  // sealed with the keys of secrets.key beside `path` (created on first start).
  // Throws std::runtime_error when the file cannot be read or written, or a sealed record
  // cannot be opened (startup only).
  StoreLog(std::string path, Store& store);
  StoreLog(std::string path, Store& store, SecretKeyring keys, LogFiles* files = nullptr);
  ~StoreLog() override;
  StoreLog(const StoreLog&) = delete;
  StoreLog& operator=(const StoreLog&) = delete;

  const LogLoadStats& load_stats() const { return load_stats_; }

  void record(const Change& change) override;  // buffered until flush()
  bool has_pending() const { return !pending_.empty() || seal_failed_; }
  // Writes the pending records and fdatasync()s. Returns an error text ("" on success); on
  // failure the records are dropped and the file is back at its last synced size (roll the
  // store back).
  std::string flush();
  // Group commit from another thread: take_pending() on the owning thread (the batch with its
  // commit record), then write_and_sync() on the sync thread (one job in flight at a time).
  std::string take_pending();
  // Drops the records not yet taken (their changes are being rolled back).
  void discard_pending() { pending_.clear(); }
  // A commit record alone: written to find out whether the disk takes writes again.
  std::string probe_record() const;
  // Appends and fdatasyncs `data`; on failure truncates the file back to the last synced
  // offset and returns the error.
  std::string write_and_sync(const std::string& data);
  // Compaction when the log has grown well past the live objects: snapshot on the owning
  // thread, write_compaction() on any one thread while no other write runs.
  bool compaction_due() const;
  CompactionSnapshot compaction_snapshot() const;
  std::string write_compaction(const CompactionSnapshot& snapshot);
  std::string compact();  // both at once (flushes first)
  std::uint64_t file_bytes() const { return file_bytes_; }

  // Encodes one record (exposed for tests).
  static std::string encode_record(const std::string& payload);
  // {"rv":N,"r":"servers","o":<object_json>}
  static std::string put_payload(std::uint64_t rv, const std::string& resource, std::string_view object_json);
  static void append_put_payload(std::string& out, std::uint64_t rv, const std::string& resource,
                                 std::string_view object_json);
  // Scans the log at `path` (a missing file uses no key). Throws std::runtime_error when it
  // exists but cannot be read.
  static LogKeyUsage key_usage(const std::string& path);

 private:
  // Appends one framed put record (sealed when `resource` is kSealedResource). False when
  // sealing fails.
  bool append_put(std::string& out, std::uint64_t rv, const std::string& resource, std::string_view name,
                  std::string_view object_json) const;

  std::string commit_record(std::uint64_t rv) const;
  // Loads the log into the store (see the header comment); returns the offset it is good to.
  std::size_t load(const std::string& data, bool& stale_secrets, std::string& writer_key);
  bool truncate_to_synced();

  std::string path_;
  Store& store_;
  LogFiles& files_;
  SecretKeyring keys_;
  std::set<std::string> resources_;  // every resource seen in the log: what compaction writes
  // Sticky: a Secret that could not be sealed is not in the log, so no later write may succeed.
  std::atomic<bool> seal_failed_ = false;
  int fd_ = -1;
  std::string pending_;
  std::atomic<std::uint64_t> file_bytes_ = 0;  // synced size (written on the sync thread)
  bool truncate_pending_ = false;             // a failed truncate is retried before the next write
  std::uint64_t bytes_after_compaction_ = 0;
  LogLoadStats load_stats_;
};

}  // namespace ironboot::kube
