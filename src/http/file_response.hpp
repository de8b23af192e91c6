// Responses for files: Range, ETag, If-None-Match, If-Modified-Since, If-Range and
// Last-Modified over a file already opened. Sending it is the server's job (sendfile).
// Pure but for fstat(2) of a descriptor given to it and the open of serve_file_beneath.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace ironboot {
class BeneathDir;
}

namespace ironboot::http {

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
Response file_response(const Request& request, std::shared_ptr<OpenFile> file, const FileInfo& info,
                       std::string_view name);

// A file opened for serving, or why not.
struct Opened {
  int status = 200;  // 404 when absent or not a regular file
  std::shared_ptr<OpenFile> file;
  FileInfo info;
};
// Takes ownership of `fd` (from open(2); negative when that failed) and keeps it only when
// it is a regular file (fstat), with its size, mtime and inode.
Opened adopt_regular_file(int fd);

// GET|HEAD of `relative` beneath `dir` (see common/beneath.hpp: nothing outside it, bar the
// dir's follow_into links), answered as file_response with `name` choosing the
// Content-Type; 404 when it is absent or not a regular file.
Response serve_file_beneath(const Request& request, const BeneathDir& dir, std::string_view relative,
                            std::string_view name);

}  // namespace ironboot::http
