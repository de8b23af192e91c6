// GET|HEAD /assets/<mount>/<path>: files from configured roots, answered by file_response
// (Range, ETag, conditional requests).
//
// Mounts (the iPXE service sets them up from the configuration, see docs/http.md):
//   agent/vmlinuz, agent/initramfs  the configured agent.kernel / agent.initrd files
//   tftp/...                        tftp.root (UEFI HTTP boot fetches the iPXE binaries here)
//   <basename>/...                  each http.asset_dirs entry
// Directory mounts open files through a BeneathDir (common/beneath.hpp): "..", absolute
// paths and symlinks leading out of the root are refused, except symlinks whose target lies
// in one of the mount's `follow_into` directories (tftp.follow_symlinks_into, default /boot,
// the same rule as the TFTP server): Debian's /usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi.
// The agent files are named by the configuration and opened through their full path.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/beneath.hpp"
#include "http/file_response.hpp"
#include "http/message.hpp"

namespace ironboot::http {

// Percent-decodes and checks a relative asset path: no empty, "." or ".." segments, no NUL,
// no backslash. nullopt when refused.
std::optional<std::string> clean_asset_path(std::string_view encoded);

class AssetStore {
 public:
  AssetStore() = default;
  AssetStore(const AssetStore&) = delete;
  AssetStore& operator=(const AssetStore&) = delete;

  // A directory served under /assets/<mount>/. Error text when it cannot be opened.
  std::string add_dir(const std::string& mount, const std::string& dir,
                      const std::vector<std::string>& follow_into = {});
  // One file served as /assets/<mount>/<name>, opened through `path` (symlinks followed).
  void add_file(const std::string& mount, const std::string& name, const std::string& path);
  bool has_mount(const std::string& mount) const;

  // `rel` is everything after "/assets/", still percent-encoded.
  Opened open(std::string_view rel) const;

  // The route handler for GET|HEAD /assets/.
  Response handle(const Request& request) const;

 private:
  std::map<std::string, BeneathDir> dirs_;
  std::map<std::string, std::map<std::string, std::string>> files_;  // mount → name → path
};

}  // namespace ironboot::http
