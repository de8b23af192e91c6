#include "common/beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace ironboot {

namespace {

int openat2_fd(int dirfd, const std::string& path, int flags, std::uint64_t resolve) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOCTTY);
  how.resolve = resolve;
  long fd;
  do {
    fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
  } while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

// The part of `path` after `dir` ("" when equal), for a path known to be within `dir`.
std::string remainder(const std::string& path, const std::string& dir) {
  if (path.size() == dir.size()) return ".";
  return path.substr(dir == "/" ? 1 : dir.size() + 1);
}

}  // namespace

bool path_within(std::string_view path, std::string_view dir) {
  if (dir.empty() || path.empty()) return false;
  if (dir == "/") return path.front() == '/';
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

std::string canonical_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return {};
  return buf;
}

BeneathDir::~BeneathDir() { close_all(); }

BeneathDir::BeneathDir(BeneathDir&& other) noexcept
    : root_(std::exchange(other.root_, Dir{})), follow_(std::exchange(other.follow_, {})) {}

BeneathDir& BeneathDir::operator=(BeneathDir&& other) noexcept {
  if (this != &other) {
    close_all();
    root_ = std::exchange(other.root_, Dir{});
    follow_ = std::exchange(other.follow_, {});
  }
  return *this;
}

void BeneathDir::close_all() {
  if (root_.fd >= 0) ::close(root_.fd);
  for (auto& d : follow_) ::close(d.fd);
  root_ = Dir{};
  follow_.clear();
}

std::string BeneathDir::open(const std::string& dir, const std::vector<std::string>& follow_into) {
  close_all();
  const int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return dir + ": " + std::strerror(errno);
  root_.fd = fd;
  root_.canonical = canonical_path(dir);
  for (const auto& f : follow_into) {
    Dir d;
    d.canonical = canonical_path(f);
    if (d.canonical.empty()) continue;
    d.fd = ::open(d.canonical.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (d.fd >= 0) follow_.push_back(std::move(d));
  }
  return {};
}

int BeneathDir::open_file(std::string_view relative, int flags) const {
  if (root_.fd < 0) return -EBADF;
  const std::string rel(relative);
  if (rel.empty() || rel.find('\0') != std::string::npos) return -ENOENT;
  const int fd = openat2_fd(root_.fd, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
  if (fd == -EXDEV) return open_through_link(rel, flags);
  return fd;
}

// A symlink on the way left the root (an absolute link, or ".." past the top): allowed only
// when its fully resolved target lies in the root or a follow_into directory.
int BeneathDir::open_through_link(const std::string& relative, int flags) const {
  if (root_.canonical.empty()) return -EXDEV;
  const std::string resolved = canonical_path(root_.canonical + "/" + relative);
  if (resolved.empty()) return -errno;
  auto open_in = [&](const Dir& d) {
    return openat2_fd(d.fd, remainder(resolved, d.canonical), flags,
                      RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS);
  };
  if (path_within(resolved, root_.canonical)) return open_in(root_);
  for (const auto& d : follow_) {
    if (path_within(resolved, d.canonical)) return open_in(d);
  }
  return -EXDEV;
}

}  // namespace ironboot
