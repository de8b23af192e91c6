// Files opened beneath a root directory and nowhere else. The root is opened once (O_PATH);
// every lookup is one openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) from it, so "..",
// absolute paths and symlinks that lead out are refused by the kernel at the moment of the
// open: there is no check-then-open race. A symlink inside the root may lead into one of
// the `follow_into` directories (Debian's /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi): its
// resolved target is then opened beneath that directory with RESOLVE_NO_SYMLINKS, so a link
// swapped in meanwhile fails instead of escaping.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ironboot {

// True when `path` is `dir` or lies beneath it; both absolute and without trailing '/'.
// "/" contains every absolute path.
bool path_within(std::string_view path, std::string_view dir);

// realpath(3) of `path`, or "" when it cannot be resolved.
std::string canonical_path(const std::string& path);

class BeneathDir {
 public:
  BeneathDir() = default;
  ~BeneathDir();
  BeneathDir(BeneathDir&& other) noexcept;
  BeneathDir& operator=(BeneathDir&& other) noexcept;
  BeneathDir(const BeneathDir&) = delete;
  BeneathDir& operator=(const BeneathDir&) = delete;

  // Opens `dir` as the root. Entries of `follow_into` that do not exist are ignored (they
  // are an allowance, not a requirement). Error text when `dir` cannot be opened.
  std::string open(const std::string& dir, const std::vector<std::string>& follow_into = {});
  bool is_open() const { return root_.fd >= 0; }
  const std::string& canonical_root() const { return root_.canonical; }

  // Opens `relative` (a path inside the root; a leading '/' is refused by the kernel) with
  // `flags` (O_CLOEXEC and O_NOCTTY are added). A file descriptor, or -errno: -EXDEV or
  // -ELOOP when it would leave the root, -ENOENT when absent.
  int open_file(std::string_view relative, int flags) const;

 private:
  struct Dir {
    int fd = -1;  // O_PATH | O_DIRECTORY
    std::string canonical;
  };
  int open_through_link(const std::string& relative, int flags) const;
  void close_all();

  Dir root_;
  std::vector<Dir> follow_;
};

}  // namespace ironboot
