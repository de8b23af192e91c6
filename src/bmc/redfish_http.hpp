// One keep-alive HTTP(S) connection to a Redfish service (Beast + Asio SSL, coroutines on the
// io_context). Certificate verification is on (system store plus the endpoint's CA file,
// with the host checked against the certificate, SNI for names) unless the endpoint says to
// skip it. Every request has a connect and a request timeout and a response size limit; a
// reused connection the BMC closed meanwhile is reopened once. Failures come back as a
// BmcStatus reason: Unreachable, Timeout, TLS or Protocol.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bmc/bmc.hpp"

namespace ironboot::bmc::redfish {

struct HttpLimits {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{20000};
  std::size_t max_response_bytes = 1024 * 1024;
};

struct HttpAnswer {
  BmcStatus transport;  // not ok: no HTTP answer at all
  int status = 0;
  std::string body;
  std::string etag, location, auth_token;
  std::optional<std::chrono::seconds> retry_after;  // Retry-After in seconds, when sent so
};

class RedfishHttp {
 public:
  // A CA file that cannot be loaded is remembered and fails every request with reason TLS.
  RedfishHttp(boost::asio::io_context& io, const BmcEndpoint& endpoint, HttpLimits limits);
  ~RedfishHttp();

  using Headers = std::vector<std::pair<std::string, std::string>>;
  boost::asio::awaitable<HttpAnswer> request(boost::beast::http::verb method, std::string target, Headers headers,
                                             std::string body);
  // Drops the connection; a request in flight completes with an error.
  void disconnect();

 private:
  struct Connection;
  boost::asio::awaitable<BmcStatus> connect();

  boost::asio::io_context& io_;
  BmcEndpoint endpoint_;
  HttpLimits limits_;
  std::string setup_error_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
  std::shared_ptr<Connection> conn_;
};

}  // namespace ironboot::bmc::redfish
