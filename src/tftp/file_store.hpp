// Maps a requested TFTP path to a FileSource under the root, with the path-safety rules,
// an mtime-revalidated in-memory cache for small files and pread-backed large files. Files
// are opened with openat2 beneath the root (common/beneath.hpp): no check-then-open race.
#pragma once

#include <cstdint>
#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/beneath.hpp"
#include "tftp/codec.hpp"
#include "tftp/source.hpp"

namespace ironboot::tftp {

struct OpenResult {
  std::shared_ptr<FileSource> source;  // null on error
  ErrorCode error = ErrorCode::not_defined;
  const char* reason = "";  // short label for logs and metrics
};

class FileStore {
 public:
  virtual ~FileStore() = default;
  virtual OpenResult open(std::string_view requested_path, bool netascii) = 0;
};

struct FileStoreOptions {
  std::string root;
  // Symlinks inside the root may resolve into these directories; others must stay inside.
  std::vector<std::string> follow_symlinks_into;
  std::uint64_t cache_max_file_size = 16 * 1024 * 1024;
  std::uint64_t cache_max_total = 256 * 1024 * 1024;
};

// Normalises a requested path to components relative to the root: '\' becomes '/', an
// absolute path must lie under `root` (as configured or canonical), ".." is refused.
// Returns false for a refused path. Pure.
bool relative_components(std::string_view requested, const std::vector<std::string>& roots, std::string& out);

class DiskFileStore final : public FileStore {
 public:
  explicit DiskFileStore(FileStoreOptions options);
  OpenResult open(std::string_view requested_path, bool netascii) override;

  std::size_t cached_files() const { return cache_.size(); }
  std::uint64_t cached_bytes() const { return cached_bytes_; }

 private:
  struct CacheEntry {
    std::uint64_t dev = 0, ino = 0, size = 0;
    std::int64_t mtime_sec = 0, mtime_nsec = 0;
    std::shared_ptr<const std::vector<std::uint8_t>> bytes;
  };
  void open_root();
  std::shared_ptr<const std::vector<std::uint8_t>> cached(const std::string& key, int fd, const struct ::stat& st);
  void make_room(std::uint64_t need);

  FileStoreOptions options_;
  std::vector<std::string> roots_;  // configured and canonical spelling of the root
  BeneathDir dir_;                  // the root, with follow_symlinks_into
  std::map<std::string, CacheEntry> cache_;  // by resolved path
  std::uint64_t cached_bytes_ = 0;
};

}  // namespace ironboot::tftp
