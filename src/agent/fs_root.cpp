#include "agent/fs_root.hpp"

#include "common/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace ironboot::agent {

DirFsRoot::DirFsRoot(std::string root) : root_(std::move(root)) {
  while (!root_.empty() && root_.back() == '/') root_.pop_back();
}

std::string DirFsRoot::full(const std::string& path) const { return root_ + path; }

std::optional<std::string> DirFsRoot::read(const std::string& path, std::size_t max_bytes) const {
  return read_file(full(path), max_bytes);
}

std::vector<std::string> DirFsRoot::list(const std::string& dir) const {
  std::vector<std::string> names;
  DIR* d = ::opendir(full(dir).c_str());
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool DirFsRoot::exists(const std::string& path) const {
  struct stat st;
  return ::stat(full(path).c_str(), &st) == 0;
}

std::string DirFsRoot::readlink(const std::string& path) const {
  char buf[4096];
  ssize_t n = ::readlink(full(path).c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string read_attr(const FsRoot& fs, const std::string& path) {
  auto s = fs.read(path, 64 * 1024);
  if (!s) return "";
  auto nl = s->find('\n');
  if (nl != std::string::npos) s->resize(nl);
  while (!s->empty() && (s->back() == ' ' || s->back() == '\t' || s->back() == '\r' || s->back() == '\0'))
    s->pop_back();
  return *s;
}

}  // namespace ironboot::agent
