// The plain HTTP/1.1 server: a Listener on the shared io_context and one session per
// connection (http/session.hpp). No Beast in this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "http/router.hpp"
#include "http/server_context.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::http {

class HttpServer {
 public:
  // `router` must outlive the server's sessions (it is read on every request).
  HttpServer(boost::asio::io_context& io, const Router& router, ServerLimits limits);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting; error text on failure. `host` "0.0.0.0", "::", an address.
  std::string listen(const std::string& host, std::uint16_t port);
  bool listening() const;
  std::uint16_t port() const;  // the bound port (useful with port 0)
  // New limits for connections accepted from now on.
  void set_limits(const ServerLimits& limits);

  // Stops accepting, closes idle keep-alive connections, lets responses in flight finish.
  void stop();
  // True after stop() once every connection has closed.
  bool idle() const;
  std::size_t connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ironboot::http
