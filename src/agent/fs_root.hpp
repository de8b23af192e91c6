// All collector file I/O goes through FsRoot, so tests point collectors at a fixture tree.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace ironboot::agent {

class FsRoot {
 public:
  virtual ~FsRoot() = default;
  // Contents of an absolute path ("/proc/cpuinfo"), at most max_bytes; nullopt if unreadable.
  virtual std::optional<std::string> read(const std::string& path, std::size_t max_bytes = 1 << 20) const = 0;
  // Entry names of a directory, sorted, without "." and ".."; empty if it cannot be listed.
  virtual std::vector<std::string> list(const std::string& dir) const = 0;
  virtual bool exists(const std::string& path) const = 0;
  // Target of a symlink, "" if none.
  virtual std::string readlink(const std::string& path) const = 0;
};

// The real filesystem below `root` ("" or "/" = the running system).
class DirFsRoot final : public FsRoot {
 public:
  explicit DirFsRoot(std::string root = "");
  std::optional<std::string> read(const std::string& path, std::size_t max_bytes = 1 << 20) const override;
  std::vector<std::string> list(const std::string& dir) const override;
  bool exists(const std::string& path) const override;
  std::string readlink(const std::string& path) const override;

 private:
  std::string full(const std::string& path) const;
  std::string root_;
};

// First line of a sysfs attribute with trailing whitespace removed, "" if absent.
std::string read_attr(const FsRoot& fs, const std::string& path);

}  // namespace ironboot::agent
