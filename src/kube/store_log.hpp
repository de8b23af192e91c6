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
// A record that is cut short or fails its checksum ends the log: it and everything after
// it are dropped on load (and logged), so a crash mid-append never loads garbage.
// Compaction writes every live object to a new file, fsyncs it and renames it over the log.
// Opening a log that has Secrets under a key other than the current one (or unsealed) compacts it.
#pragma once

#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <utility>

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

class StoreLog : public Journal {
 public:
  // Opens (creating) `path`, replays it into `store` and truncates a bad tail. Secrets are
  // sealed with the keys of secrets.key beside `path` (created on first start).
  // Throws std::runtime_error when the file cannot be read or written, or a sealed record
  // cannot be opened (startup only).
  StoreLog(std::string path, Store& store);
  StoreLog(std::string path, Store& store, SecretKeyring keys);
  ~StoreLog() override;
  StoreLog(const StoreLog&) = delete;
  StoreLog& operator=(const StoreLog&) = delete;

  const LogLoadStats& load_stats() const { return load_stats_; }

  void record(const Change& change) override;  // buffered until flush()
  bool has_pending() const { return !pending_.empty() || seal_failed_; }
  // Writes the pending records and fdatasync()s. Returns an error text ("" on success).
  std::string flush();
  // Group commit from another thread: take_pending() on the owning thread, then
  // write_and_sync() on the sync thread (one batch in flight at a time; no compaction meanwhile).
  std::string take_pending() {
    std::string next;
    next.reserve(pending_.capacity());  // the next batch is about as big: no regrowth while it fills
    return std::exchange(pending_, std::move(next));
  }
  std::string write_and_sync(const std::string& data);
  // Rewrites the log with only the live objects when it has grown well past them.
  void compact_if_needed();
  std::string compact();
  std::uint64_t file_bytes() const { return file_bytes_; }

  // Encodes one record (exposed for tests).
  static std::string encode_record(const std::string& payload);
  // {"rv":N,"r":"servers","o":<object_json>}
  static std::string put_payload(std::uint64_t rv, const std::string& resource, const std::string& object_json);
  static void append_put_payload(std::string& out, std::uint64_t rv, const std::string& resource,
                                 const std::string& object_json);
  // Scans the log at `path` (a missing file uses no key). Throws std::runtime_error when it
  // exists but cannot be read.
  static LogKeyUsage key_usage(const std::string& path);

 private:
  // Appends one framed put record (sealed when `resource` is kSealedResource). False when
  // sealing fails.
  bool append_put(std::string& out, std::uint64_t rv, const std::string& resource, const std::string& name,
                  const std::string& object_json) const;

  std::string path_;
  Store& store_;
  SecretKeyring keys_;
  std::set<std::string> resources_;  // every resource seen in the log: what compaction writes
  // Sticky: a Secret that could not be sealed is not in the log, so no later write may succeed.
  std::atomic<bool> seal_failed_ = false;
  int fd_ = -1;
  std::string pending_;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t bytes_after_compaction_ = 0;
  LogLoadStats load_stats_;
};

}  // namespace ironboot::kube
