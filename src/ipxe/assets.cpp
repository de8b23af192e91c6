#include "ipxe/assets.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/url/pct_string_view.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <charconv>
#include <cstring>


namespace ironboot {
namespace {

constexpr std::size_t kMaxAssetPath = 1024;

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

FileInfo info_of(const struct stat& st) {
  FileInfo i;
  i.size = static_cast<std::uint64_t>(st.st_size);
  i.mtime_sec = st.st_mtim.tv_sec;
  i.mtime_nsec = st.st_mtim.tv_nsec;
  i.inode = st.st_ino;
  return i;
}

// Wraps an fd of a regular file; 404 otherwise.
AssetStore::Opened from_fd(int fd) {
  AssetStore::Opened o;
  if (fd < 0) {
    o.status = 404;
    return o;
  }
  auto file = std::make_shared<http::OpenFile>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    o.status = 404;
    return o;
  }
  o.file = std::move(file);
  o.info = info_of(st);
  return o;
}

}  // namespace

RangeResult parse_range(std::string_view header, std::uint64_t size) {
  RangeResult full{RangeResult::Kind::full, 0, size};
  header = trim(header);
  if (header.size() < 6 || !http::iequals(header.substr(0, 6), "bytes=")) return full;
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return full;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return full;
  const std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  RangeResult unsatisfiable{RangeResult::Kind::unsatisfiable, 0, 0};
  if (a.empty()) {  // suffix: the last N bytes
    auto n = parse_u64(b);
    if (!n) return full;
    if (*n == 0 || size == 0) return unsatisfiable;
    const std::uint64_t len = std::min(*n, size);
    return {RangeResult::Kind::partial, size - len, len};
  }
  auto first = parse_u64(a);
  if (!first) return full;
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    auto l = parse_u64(b);
    if (!l || *l < *first) return full;  // syntactically invalid: ignore the header
    last = std::min(*l, last);
  }
  if (*first >= size) return unsatisfiable;
  return {RangeResult::Kind::partial, *first, last - *first + 1};
}

std::string make_etag(const FileInfo& info) {
  char buf[80];
  const int n = std::snprintf(buf, sizeof buf, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(info.size),
                              static_cast<unsigned long long>(info.mtime_sec) * 1000000000ull +
                                  static_cast<unsigned long long>(info.mtime_nsec),
                              static_cast<unsigned long long>(info.inode));
  return std::string(buf, static_cast<std::size_t>(n));
}

std::string http_date(std::time_t t) {
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  char buf[64];
  const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
  std::string s(trim(text));
  struct tm tm {};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return ::timegm(&tm);
}

bool etag_matches(std::string_view list, std::string_view etag) {
  list = trim(list);
  if (list == "*") return true;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (item.size() > 2 && item.substr(0, 2) == "W/") item.remove_prefix(2);
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

std::string content_type_for(std::string_view name) {
  auto ends = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
  };
  if (ends(".ipxe") || ends(".txt") || ends(".cfg")) return "text/plain; charset=utf-8";
  if (ends(".json")) return "application/json";
  if (ends(".iso")) return "application/x-iso9660-image";
  return "application/octet-stream";
}

http::Response file_response(const http::Request& request, std::shared_ptr<http::OpenFile> file,
                             const FileInfo& info, std::string_view name) {
  http::Response r;
  const std::string etag = make_etag(info);
  const std::string last_modified = http_date(static_cast<std::time_t>(info.mtime_sec));
  r.headers.push_back({"ETag", etag});
  r.headers.push_back({"Last-Modified", last_modified});
  r.headers.push_back({"Accept-Ranges", "bytes"});

  const std::string_view inm = request.header("If-None-Match");
  bool not_modified = false;
  if (!inm.empty()) {
    not_modified = etag_matches(inm, etag);
  } else if (auto ims = parse_http_date(request.header("If-Modified-Since"))) {
    not_modified = info.mtime_sec <= *ims;
  }
  if (not_modified) {
    r.status = 304;
    return r;
  }

  RangeResult range{RangeResult::Kind::full, 0, info.size};
  const std::string_view range_header = request.header("Range");
  if (!range_header.empty()) {
    const std::string_view if_range = trim(request.header("If-Range"));
    if (if_range.empty() || if_range == etag || if_range == last_modified) range = parse_range(range_header, info.size);
  }
  if (range.kind == RangeResult::Kind::unsatisfiable) {
    r.status = 416;
    r.headers.push_back({"Content-Range", "bytes */" + std::to_string(info.size)});
    r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
    r.body = "range not satisfiable\n";
    return r;
  }
  r.headers.push_back({"Content-Type", content_type_for(name)});
  if (range.kind == RangeResult::Kind::partial) {
    r.status = 206;
    r.headers.push_back({"Content-Range", "bytes " + std::to_string(range.offset) + "-" +
                                              std::to_string(range.offset + range.length - 1) + "/" +
                                              std::to_string(info.size)});
  }
  r.file = http::FileSlice{std::move(file), range.offset, range.length};
  return r;
}

std::optional<std::string> clean_asset_path(std::string_view encoded) {
  if (encoded.empty() || encoded.size() > kMaxAssetPath) return std::nullopt;
  const std::string text(encoded);  // NUL-terminated for Boost.URL, as in parse_boot_query
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

namespace {

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return {};
  return buf;
}

bool under(const std::string& path, const std::string& dir) {
  if (dir.empty()) return false;
  if (dir == "/") return true;
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/');
}

}  // namespace

AssetStore::~AssetStore() {
  for (auto& [name, d] : dirs_) ::close(d.fd);
}

std::string AssetStore::add_dir(const std::string& mount, const std::string& dir,
                                const std::vector<std::string>& follow_into) {
  if (dirs_.count(mount)) return "asset mount '" + mount + "' is defined twice";
  const int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return dir + ": " + std::strerror(errno);
  Dir d;
  d.fd = fd;
  d.canonical_root = real_path(dir);
  for (const auto& f : follow_into) {
    std::string c = real_path(f);
    if (!c.empty()) d.follow_into.push_back(std::move(c));
  }
  dirs_.emplace(mount, std::move(d));
  return {};
}

// The path escaped the root through a symlink: allowed only when everything resolves into
// the root or a follow_into directory (checked on the fully resolved path).
int AssetStore::open_following(const Dir& dir, const std::string& inner) const {
  if (dir.follow_into.empty() || dir.canonical_root.empty()) return -1;
  const std::string resolved = real_path(dir.canonical_root + "/" + inner);
  if (resolved.empty()) return -1;
  bool allowed = under(resolved, dir.canonical_root);
  for (const auto& f : dir.follow_into) allowed = allowed || under(resolved, f);
  if (!allowed) return -1;
  return ::open(resolved.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

void AssetStore::add_file(const std::string& mount, const std::string& name, const std::string& path) {
  files_[mount][name] = path;
}

bool AssetStore::has_mount(const std::string& mount) const { return dirs_.count(mount) || files_.count(mount); }

AssetStore::Opened AssetStore::open(std::string_view rel) const {
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
      return from_fd(::open(f->second.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  }
  auto d = dirs_.find(mount);
  if (d == dirs_.end()) return missing;
  struct open_how how {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, d->second.fd, inner.c_str(), &how, sizeof how));
  if (fd < 0 && errno == EXDEV) fd = open_following(d->second, inner);
  return from_fd(fd);
}

http::Response AssetStore::handle(const http::Request& request) const {
  constexpr std::string_view prefix = "/assets/";
  std::string_view rel = request.path;
  rel.remove_prefix(std::min(rel.size(), prefix.size()));
  Opened o = open(rel);
  if (o.status != 200) return http::text_response(404, "not found\n");
  return file_response(request, std::move(o.file), o.info, rel);
}

}  // namespace ironboot
