#include "tftp/file_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>

namespace ironboot::tftp {
namespace {

// A large file read in 32 KiB chunks as the transfer advances: one pread serves ~20
// blocks. The descriptor and the chunk live as long as the transfer.
class PreadSource final : public FileSource {
 public:
  static constexpr std::size_t chunk_size = 32 * 1024;

  PreadSource(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~PreadSource() override { ::close(fd_); }
  PreadSource(const PreadSource&) = delete;
  PreadSource& operator=(const PreadSource&) = delete;
  std::uint64_t size() const override { return size_; }
  std::int64_t read(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (out.size() > chunk_size) return read_direct(offset, out);
    if (offset < chunk_offset_ || offset + out.size() > chunk_offset_ + chunk_len_) {
      if (chunk_.empty()) chunk_.resize(chunk_size);
      const auto n = read_direct(offset, chunk_);
      if (n < 0) return -1;
      chunk_offset_ = offset;
      chunk_len_ = static_cast<std::size_t>(n);
    }
    const auto available = chunk_offset_ + chunk_len_ - offset;
    const auto n = std::min<std::uint64_t>(out.size(), available);
    std::memcpy(out.data(), chunk_.data() + (offset - chunk_offset_), n);
    return static_cast<std::int64_t>(n);
  }

 private:
  std::int64_t read_direct(std::uint64_t offset, std::span<std::uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size()) {
      const auto n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -1;
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return static_cast<std::int64_t>(done);
  }

  int fd_;
  std::uint64_t size_;
  std::vector<std::uint8_t> chunk_;
  std::uint64_t chunk_offset_ = 0;
  std::size_t chunk_len_ = 0;
};

std::string strip_trailing_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// The path of the file behind `fd` as the kernel resolved it at the open, the cache key: every
// name and symlink of one file share an entry, and a replaced file replaces its entry.
// `fallback` (the request's path in the root) only without /proc.
std::string resolved_path(int fd, const std::string& fallback) {
  char link[32] = "/proc/self/fd/";
  *std::to_chars(link + 14, link + sizeof link - 1, fd).ptr = '\0';
  char buf[PATH_MAX];
  const auto n = ::readlink(link, buf, sizeof buf);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return fallback;
  return std::string(buf, static_cast<std::size_t>(n));
}

bool read_all(int fd, std::uint64_t size, std::vector<std::uint8_t>& out) {
  out.resize(size);
  std::uint64_t done = 0;
  while (done < size) {
    const auto n = ::pread(fd, out.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::uint64_t>(n);
  }
  return true;
}

}  // namespace

bool relative_components(std::string_view requested, const std::vector<std::string>& roots, std::string& out) {
  std::string path(requested);
  for (auto& c : path) {
    if (c == '\\') c = '/';
  }
  if (!path.empty() && path[0] == '/') {
    bool inside = false;
    for (const auto& root : roots) {
      // The root itself names no file beneath it, except "/", under which every path lies.
      if (path_within(path, root) && (path != root || root == "/")) {
        path.erase(0, root == "/" ? 1 : root.size() + 1);
        inside = true;
        break;
      }
    }
    if (!inside) return false;
  }
  out.clear();
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    const std::string_view part(path.data() + pos, end - pos);
    if (part == "..") return false;
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out.append(part);
    }
    pos = end + 1;
  }
  return true;
}

DiskFileStore::DiskFileStore(FileStoreOptions options) : options_(std::move(options)) {
  const auto configured = strip_trailing_slashes(options_.root);
  roots_.push_back(configured);
  const auto canonical = canonical_path(configured);
  if (!canonical.empty() && canonical != configured) roots_.push_back(canonical);
  open_root();
}

void DiskFileStore::open_root() {
  // A root that does not exist yet is opened again by the next request.
  if (!dir_.open(roots_.front(), options_.follow_symlinks_into).empty()) dir_ = BeneathDir{};
}

OpenResult DiskFileStore::open(std::string_view requested_path, bool netascii) {
  std::string relative;
  if (requested_path.find('\0') != std::string_view::npos ||
      !relative_components(requested_path, roots_, relative)) {
    return {nullptr, ErrorCode::access_violation, "outside_root"};
  }
  if (relative.empty()) return {nullptr, ErrorCode::file_not_found, "not_a_file"};
  if (!dir_.is_open()) open_root();
  if (!dir_.is_open()) return {nullptr, ErrorCode::file_not_found, "not_found"};
  // The kernel resolves the path beneath the root at the moment of the open; a symlink that
  // leaves it is followed only into follow_symlinks_into (-EXDEV otherwise).
  const int fd = dir_.open_file(relative, O_RDONLY | O_NONBLOCK);
  if (fd < 0) {
    if (fd == -ENOENT || fd == -ENOTDIR) return {nullptr, ErrorCode::file_not_found, "not_found"};
    if (fd == -EXDEV) return {nullptr, ErrorCode::access_violation, "symlink_outside_root"};
    return {nullptr, ErrorCode::access_violation, "unreadable"};
  }
  struct ::stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return {nullptr, ErrorCode::file_not_found, "not_a_file"};
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size <= options_.cache_max_file_size) {
    auto bytes = cached(resolved_path(fd, relative), fd, st);
    ::close(fd);
    if (!bytes) return {nullptr, ErrorCode::access_violation, "unreadable"};
    if (netascii) {
      bytes = std::make_shared<const std::vector<std::uint8_t>>(to_netascii(*bytes));
    }
    return {std::make_shared<MemorySource>(std::move(bytes)), ErrorCode::not_defined, ""};
  }
  if (netascii) {
    // netascii changes lengths, so block offsets no longer map to file offsets; it is for
    // small text files only.
    ::close(fd);
    return {nullptr, ErrorCode::not_defined, "netascii_too_large"};
  }
  return {std::make_shared<PreadSource>(fd, size), ErrorCode::not_defined, ""};
}

std::shared_ptr<const std::vector<std::uint8_t>> DiskFileStore::cached(const std::string& key, int fd,
                                                                      const struct ::stat& st) {
  const auto size = static_cast<std::uint64_t>(st.st_size);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    const auto& e = it->second;
    if (e.dev == st.st_dev && e.ino == st.st_ino && e.size == size && e.mtime_sec == st.st_mtim.tv_sec &&
        e.mtime_nsec == st.st_mtim.tv_nsec) {
      return e.bytes;
    }
    cached_bytes_ -= it->second.size;
    cache_.erase(it);
  }
  auto bytes = std::make_shared<std::vector<std::uint8_t>>();
  if (!read_all(fd, size, *bytes)) return nullptr;
  make_room(size);
  CacheEntry e{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino), size,
               st.st_mtim.tv_sec, st.st_mtim.tv_nsec, bytes};
  cache_.emplace(key, std::move(e));
  cached_bytes_ += size;
  return bytes;
}

void DiskFileStore::make_room(std::uint64_t need) {
  // Entries still used by a transfer stay: their memory is held either way.
  for (auto it = cache_.begin(); it != cache_.end() && cached_bytes_ + need > options_.cache_max_total;) {
    if (it->second.bytes.use_count() == 1) {
      cached_bytes_ -= it->second.size;
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace ironboot::tftp
