// Plain HTTP request/response values exchanged between the server and its handlers.
// No Beast or Asio here: any library can register routes by including router.hpp only.
#pragma once

#include <any>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ironboot::http {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;   // "GET", "HEAD", "POST", ...
  std::string target;   // as received: "/ipxe?uuid=..."
  std::string path;     // target up to '?', not percent-decoded
  std::string query;    // after '?', not percent-decoded; "" when absent
  std::vector<Header> headers;
  std::string body;     // at most http.max_body_bytes
  std::string peer;     // "10.0.0.5:49152", "[fe80::1]:80"
  // The route's head guard ran on this request (Router::check_head), and what it established
  // for the handler (the agent API's verified token claims), so nothing is checked twice.
  bool head_checked = false;
  std::any guarded;

  // First header with that name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const;
  // The peer's address without port or brackets: "10.0.0.5", "fe80::1".
  std::string peer_address() const;
};

// The value of `key` in a raw query string ("a=1&b=2"), not percent-decoded (for values of
// digits and token characters); nullopt when absent, "" for "key" or "key=".
std::optional<std::string_view> query_value(std::string_view query, std::string_view key);

// An open, read-only file descriptor; closed when the last owner lets go.
class OpenFile {
 public:
  explicit OpenFile(int fd) : fd_(fd) {}
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// A byte range of a file, sent with sendfile(2) where the transport allows it.
struct FileSlice {
  std::shared_ptr<OpenFile> file;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct Response {
  int status = 200;
  // Content-Type, ETag, ... (Content-Length, Connection and Server are added by the server).
  std::vector<Header> headers;
  std::string body;
  // When set the payload is this file range instead of `body`.
  std::optional<FileSlice> file;

  Response& set(std::string name, std::string value);
  std::uint64_t content_length() const { return file ? file->length : body.size(); }
};

// A response with a text body and Content-Type.
Response text_response(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");

// Standard reason phrase for a status code ("Not Found"); "Unknown" for others.
std::string_view reason_phrase(int status);

// The status line and headers of a response, with a Date and Server line. `keep_alive` false
// adds "Connection: close", `http10_keep_alive` "Connection: keep-alive"; `with_length` adds
// Content-Length. Header values with CR or LF are dropped (a handler bug must not split the
// response), and so are the framing headers the handler may not set.
std::string serialize_head(const Response& response, bool keep_alive, bool http10_keep_alive, bool with_length,
                           const std::string& date);

}  // namespace ironboot::http
