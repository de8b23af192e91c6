// State shared by the plain HTTP server's listener and its sessions (no Beast here). Sessions
// hold it by shared_ptr so it outlives every pending handler, even past the server's
// destruction.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <memory>
#include <string>

#include "common/metrics.hpp"
#include "http/connections.hpp"
#include "http/router.hpp"

namespace spdlog {
class logger;
}

namespace ironboot::http {

struct ServerLimits {
  std::uint32_t max_connections = 10000;
  std::uint32_t max_connections_per_client = 64;     // open connections from one address
  std::chrono::milliseconds first_byte_timeout{5000};  // a new connection's first request byte
  std::chrono::milliseconds header_timeout{10000};  // whole request head (and body) must arrive
  std::chrono::milliseconds idle_timeout{60000};    // keep-alive wait, and write progress
  std::uint32_t max_header_bytes = 8192;
  std::uint64_t max_body_bytes = 1024 * 1024;
};

struct HttpMetrics {
  HttpMetrics();
  Counter& requests(int status);

  Gauge* connections;
  Counter* rejected;
  Counter* rejected_per_client;
  Counter* timeouts;
  Counter* bytes_sent;
  Histogram* latency;

 private:
  std::map<int, Counter*> by_status_;
};

struct ServerContext {
  ServerContext();

  const Router* router = nullptr;
  ServerLimits limits;
  bool draining = false;
  HttpMetrics metrics;
  // One slot per open connection; draining one finishes the response in flight (if any)
  // and then closes it, or closes it at once when it waits for a request.
  std::shared_ptr<ConnectionRegistry> sessions;
  std::shared_ptr<spdlog::logger> log;

  // "Tue, 24 Nov 2026 03:37:01 GMT", recomputed at most once a second.
  const std::string& date();

 private:
  std::time_t date_second_ = 0;
  std::string date_;
};

}  // namespace ironboot::http
