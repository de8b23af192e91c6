// Minimal HTTP/1.1 client for the agent API, behind an interface so tests can fake it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "agent/wire.hpp"

namespace ironboot::agent {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string session;  // the Ironboot-Session header: a renewed session token ("" when absent)
};

struct HttpResult {
  std::optional<HttpResponse> response;
  std::string error;  // transport error: refused, timeout, reset, oversized answer
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // target: "/agent/v1/register" (relative to the endpoint's base path); `bearer`: the
  // Authorization token ("" for none).
  virtual HttpResult request(const std::string& method, const std::string& target, const std::string& body,
                             const std::string& bearer, std::chrono::milliseconds timeout) = 0;
};

// One connection per request (Connection: close).
// Safe to use from several threads: each request has its own io_context and socket.
class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(Endpoint endpoint, std::size_t max_response_bytes = 1 << 20);
  HttpResult request(const std::string& method, const std::string& target, const std::string& body,
                     const std::string& bearer, std::chrono::milliseconds timeout) override;

 private:
  Endpoint endpoint_;
  std::size_t max_response_bytes_;
};

}  // namespace ironboot::agent
