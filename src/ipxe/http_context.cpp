#include "ipxe/http_context.hpp"

#include "ipxe/assets.hpp"

namespace ironboot::http {

HttpMetrics::HttpMetrics() {
  auto& m = metrics();
  connections = &m.gauge("ironboot_http_connections", "Open HTTP connections");
  rejected = &m.counter("ironboot_http_connections_rejected_total",
                        "Connections closed at accept because http.max_connections was reached");
  timeouts = &m.counter("ironboot_http_timeouts_total", "Connections closed by a header, idle or write timeout");
  bytes_sent = &m.counter("ironboot_http_response_bytes_total", "HTTP response body bytes sent");
  latency = &m.histogram("ironboot_http_request_duration_seconds",
                         "Time from a complete request to the last byte of its response", latency_buckets());
}

Counter& HttpMetrics::requests(int status) {
  auto it = by_status_.find(status);
  if (it != by_status_.end()) return *it->second;
  Counter& c = metrics().counter("ironboot_http_requests_total", "HTTP responses by status code",
                                 {{"code", std::to_string(status)}});
  by_status_.emplace(status, &c);
  return c;
}

const std::string& ServerContext::date() {
  const std::time_t now = std::time(nullptr);
  if (now != date_second_) {
    date_second_ = now;
    date_ = http_date(now);
  }
  return date_;
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
