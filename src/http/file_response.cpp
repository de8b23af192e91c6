#include "http/file_response.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <charconv>
#include <cstdio>

#include "common/beneath.hpp"
#include "common/text.hpp"

namespace ironboot::http {
namespace {

// RFC 9110 §5.6.3: optional whitespace around header list items is spaces and tabs.
constexpr std::string_view kOws = " \t";

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

FileInfo info_of(const struct stat& st) {
  FileInfo i;
  i.size = static_cast<std::uint64_t>(st.st_size);
  i.mtime_sec = st.st_mtim.tv_sec;
  i.mtime_nsec = st.st_mtim.tv_nsec;
  i.inode = st.st_ino;
  return i;
}

}  // namespace

Opened adopt_regular_file(int fd) {
  Opened o;
  if (fd < 0) {
    o.status = 404;
    return o;
  }
  auto file = std::make_shared<OpenFile>(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    o.status = 404;
    return o;
  }
  o.file = std::move(file);
  o.info = info_of(st);
  return o;
}

RangeResult parse_range(std::string_view header, std::uint64_t size) {
  RangeResult full{RangeResult::Kind::full, 0, size};
  header = trim(header, kOws);
  if (header.size() < 6 || !iequals(header.substr(0, 6), "bytes=")) return full;
  std::string_view spec = trim(header.substr(6), kOws);
  if (spec.find(',') != std::string_view::npos) return full;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return full;
  const std::string_view a = trim(spec.substr(0, dash), kOws), b = trim(spec.substr(dash + 1), kOws);
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
  std::string s(trim(text, kOws));
  struct tm tm {};
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return ::timegm(&tm);
}

bool etag_matches(std::string_view list, std::string_view etag) {
  list = trim(list, kOws);
  if (list == "*") return true;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma), kOws);
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

Response file_response(const Request& request, std::shared_ptr<OpenFile> file,
                             const FileInfo& info, std::string_view name) {
  Response r;
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
    const std::string_view if_range = trim(request.header("If-Range"), kOws);
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
  r.file = FileSlice{std::move(file), range.offset, range.length};
  return r;
}


Response serve_file_beneath(const Request& request, const BeneathDir& dir, std::string_view relative,
                            std::string_view name) {
  // O_NONBLOCK: opening a FIFO placed in the directory must not stall the event loop.
  Opened o = adopt_regular_file(dir.open_file(relative, O_RDONLY | O_NONBLOCK));
  if (o.status != 200) return text_response(404, "not found\n");
  return file_response(request, std::move(o.file), o.info, name);
}

}  // namespace ironboot::http
