#include "http/server_context.hpp"

#include "common/log.hpp"
#include "http/file_response.hpp"

namespace ironboot::http {

HttpMetrics::HttpMetrics() {
  auto& m = metrics();
  connections = &m.gauge("ironboot_http_connections", "Open HTTP connections");
  rejected = &m.counter("ironboot_http_connections_rejected_total",
                        "Connections closed at accept because http.max_connections was reached");
  rejected_per_client = &m.counter("ironboot_http_connections_rejected_per_client_total",
                                   "Connections closed at accept because their address held "
                                   "http.max_connections_per_client already");
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

ServerContext::ServerContext()
    : sessions(ConnectionRegistry::create(metrics.connections)), log(logger("http")) {}

const std::string& ServerContext::date() {
  const std::time_t now = std::time(nullptr);
  if (now != date_second_) {
    date_second_ = now;
    date_ = http_date(now);
  }
  return date_;
}

}  // namespace ironboot::http
