#include "http/message.hpp"

#include <unistd.h>

#include "common/text.hpp"

namespace ironboot::http {

std::string_view Request::header(std::string_view name) const {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}

std::string Request::peer_address() const {
  std::string_view p = peer;
  if (!p.empty() && p.front() == '[') {
    const auto close = p.find(']');
    return std::string(close == std::string_view::npos ? p.substr(1) : p.substr(1, close - 1));
  }
  const auto colon = p.rfind(':');
  // One colon: IPv4 with a port; none or several: no port to strip.
  if (colon != std::string_view::npos && p.find(':') == colon) p = p.substr(0, colon);
  return std::string(p);
}

std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == key) return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

OpenFile::~OpenFile() {
  if (fd_ >= 0) ::close(fd_);
}

Response& Response::set(std::string name, std::string value) {
  for (auto& h : headers) {
    if (iequals(h.name, name)) {
      h.value = std::move(value);
      return *this;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
  return *this;
}

Response text_response(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.push_back({"Content-Type", std::move(content_type)});
  return r;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {
bool has_crlf(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }
}  // namespace

std::string serialize_head(const Response& response, bool keep_alive, bool http10_keep_alive, bool with_length,
                           const std::string& date) {
  std::string h;
  h.reserve(256);
  h += "HTTP/1.1 ";
  h += std::to_string(response.status);
  h += ' ';
  h += reason_phrase(response.status);
  h += "\r\nServer: ironboot\r\nDate: ";
  h += date;
  h += "\r\n";
  for (const auto& f : response.headers) {
    if (has_crlf(f.name) || has_crlf(f.value) || f.name.empty()) continue;
    if (iequals(f.name, "Content-Length") || iequals(f.name, "Connection") || iequals(f.name, "Transfer-Encoding"))
      continue;
    h += f.name;
    h += ": ";
    h += f.value;
    h += "\r\n";
  }
  if (with_length) {
    h += "Content-Length: ";
    h += std::to_string(response.content_length());
    h += "\r\n";
  }
  if (!keep_alive) {
    h += "Connection: close\r\n";
  } else if (http10_keep_alive) {
    h += "Connection: keep-alive\r\n";
  }
  h += "\r\n";
  return h;
}

}  // namespace ironboot::http
