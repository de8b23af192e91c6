#include "http/assets.hpp"

#include <fcntl.h>

#include <algorithm>

#include <boost/url/pct_string_view.hpp>

namespace ironboot::http {
namespace {

constexpr std::size_t kMaxAssetPath = 1024;

}  // namespace

std::optional<std::string> clean_asset_path(std::string_view encoded) {
  if (encoded.empty() || encoded.size() > kMaxAssetPath) return std::nullopt;
  const std::string text(encoded);  // NUL-terminated for Boost.URL, as the /ipxe query parser does
  auto pct = boost::urls::make_pct_string_view(boost::urls::string_view(text.c_str(), text.size()));
  if (!pct) return std::nullopt;
  std::string path = pct->decode();
  if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos) return std::nullopt;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    const std::string_view seg = std::string_view(path).substr(start, slash == std::string::npos ? slash : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return std::nullopt;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return path;
}

std::string AssetStore::add_dir(const std::string& mount, const std::string& dir,
                                const std::vector<std::string>& follow_into) {
  if (dirs_.count(mount)) return "asset mount '" + mount + "' is defined twice";
  BeneathDir root;
  if (std::string err = root.open(dir, follow_into); !err.empty()) return err;
  dirs_.emplace(mount, std::move(root));
  return {};
}

void AssetStore::add_file(const std::string& mount, const std::string& name, const std::string& path) {
  files_[mount][name] = path;
}

bool AssetStore::has_mount(const std::string& mount) const { return dirs_.count(mount) || files_.count(mount); }

Opened AssetStore::open(std::string_view rel) const {
  Opened missing;
  missing.status = 404;
  auto path = clean_asset_path(rel);
  if (!path) return missing;
  const auto slash = path->find('/');
  if (slash == std::string::npos) return missing;
  const std::string mount = path->substr(0, slash);
  const std::string inner = path->substr(slash + 1);

  if (auto m = files_.find(mount); m != files_.end()) {
    if (auto f = m->second.find(inner); f != m->second.end())
      return adopt_regular_file(::open(f->second.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  }
  auto d = dirs_.find(mount);
  if (d == dirs_.end()) return missing;
  // O_NONBLOCK: opening a FIFO placed in the directory must not stall the event loop.
  return adopt_regular_file(d->second.open_file(inner, O_RDONLY | O_NONBLOCK));
}

Response AssetStore::handle(const Request& request) const {
  constexpr std::string_view prefix = "/assets/";
  std::string_view rel = request.path;
  rel.remove_prefix(std::min(rel.size(), prefix.size()));
  Opened o = open(rel);
  if (o.status != 200) return text_response(404, "not found\n");
  return file_response(request, std::move(o.file), o.info, rel);
}

}  // namespace ironboot::http
