// GET|HEAD /assets/<mount>/<path>: files from configured roots with Range, ETag,
// If-None-Match, If-Modified-Since and Last-Modified. Sending is the server's job (sendfile).
//
// Mounts:
//   agent/vmlinuz, agent/initramfs  the configured agent.kernel / agent.initrd files
//   tftp/...                        tftp.root (UEFI HTTP boot fetches the iPXE binaries here)
//   <basename>/...                  each http.asset_dirs entry
// Paths inside a directory mount are resolved with openat2(RESOLVE_BENEATH): "..", absolute
// paths and symlinks leading out of the root are refused, except symlinks whose target lies
// in one of the mount's `follow_into` directories (tftp.follow_symlinks_into, default /boot,
// the same rule as the TFTP server): Debian's /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi.
// The agent files are named by the configuration and opened through their full path.
#pragma once

#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipxe/http_types.hpp"

namespace ironboot {

struct FileInfo {
  std::uint64_t size = 0;
  std::int64_t mtime_sec = 0;
  std::int64_t mtime_nsec = 0;
  std::uint64_t inode = 0;
};

struct RangeResult {
  enum class Kind { full, partial, unsatisfiable };
  Kind kind = Kind::full;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};
// One "bytes=first-last", "bytes=first-" or "bytes=-suffix" range against a file of `size`
// bytes. Multiple ranges or invalid syntax → full (RFC 9110 lets a server ignore Range).
RangeResult parse_range(std::string_view header, std::uint64_t size);

std::string make_etag(const FileInfo& info);
std::string http_date(std::time_t t);
std::optional<std::time_t> parse_http_date(std::string_view text);
// If-None-Match list ("*", "\"a\", W/\"b\"") against our strong ETag (weak comparison).
bool etag_matches(std::string_view if_none_match, std::string_view etag);
std::string content_type_for(std::string_view name);

// The response for a file already opened: 200/206/304/416 with validators. Pure.
http::Response file_response(const http::Request& request, std::shared_ptr<http::OpenFile> file,
                             const FileInfo& info, std::string_view name);

// Percent-decodes and checks a relative asset path: no empty, "." or ".." segments, no NUL,
// no backslash. nullopt when refused.
std::optional<std::string> clean_asset_path(std::string_view encoded);

class AssetStore {
 public:
  AssetStore() = default;
  ~AssetStore();
  AssetStore(const AssetStore&) = delete;
  AssetStore& operator=(const AssetStore&) = delete;

  // A directory served under /assets/<mount>/. Error text when it cannot be opened.
  std::string add_dir(const std::string& mount, const std::string& dir,
                      const std::vector<std::string>& follow_into = {});
  // One file served as /assets/<mount>/<name>, opened through `path` (symlinks followed).
  void add_file(const std::string& mount, const std::string& name, const std::string& path);
  bool has_mount(const std::string& mount) const;

  struct Opened {
    int status = 200;  // 404 when absent or not a regular file
    std::shared_ptr<http::OpenFile> file;
    FileInfo info;
  };
  // `rel` is everything after "/assets/", still percent-encoded.
  Opened open(std::string_view rel) const;

  // The route handler for GET|HEAD /assets/.
  http::Response handle(const http::Request& request) const;

 private:
  struct Dir {
    int fd = -1;  // O_PATH
    std::string canonical_root;
    std::vector<std::string> follow_into;  // canonical
  };
  int open_following(const Dir& dir, const std::string& inner) const;
  std::map<std::string, Dir> dirs_;
  std::map<std::string, std::map<std::string, std::string>> files_;  // mount → name → path
};

}  // namespace ironboot
