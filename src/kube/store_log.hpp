// Durability for the Store: an append-only log of changes under data_dir.
// Record framing: u32 length (LE), u32 CRC-32 of the payload (LE), JSON payload
// {"rv":N,"r":"servers","o":{...}} (put), {"rv":N,"r":"servers","d":"name"} (delete) or
// {"rv":N} (the resourceVersion header a compacted log starts with).
// A record that is cut short or fails its checksum ends the log: it and everything after
// it are dropped on load (and logged), so a crash mid-append never loads garbage.
// Compaction writes every live object to a new file, fsyncs it and renames it over the log.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "kube/store.hpp"

namespace ironboot::kube {

struct LogLoadStats {
  std::uint64_t records = 0;
  std::uint64_t dropped_bytes = 0;  // torn or corrupt tail removed
  std::uint64_t valid_bytes = 0;
  std::string drop_reason;
};

class StoreLog : public Journal {
 public:
  // Opens (creating) `path`, replays it into `store` and truncates a bad tail.
  // Throws std::runtime_error when the file cannot be read or written (startup only).
  StoreLog(std::string path, Store& store);
  ~StoreLog() override;
  StoreLog(const StoreLog&) = delete;
  StoreLog& operator=(const StoreLog&) = delete;

  const LogLoadStats& load_stats() const { return load_stats_; }

  void record(const Change& change) override;  // buffered until flush()
  bool has_pending() const { return !pending_.empty(); }
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

 private:
  void open_for_append();

  std::string path_;
  Store& store_;
  int fd_ = -1;
  std::string pending_;
  std::uint64_t file_bytes_ = 0;
  std::uint64_t bytes_after_compaction_ = 0;
  LogLoadStats load_stats_;
};

}  // namespace ironboot::kube
