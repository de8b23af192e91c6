// The embedded API's I/O shell: TLS listener (Asio SSL + Beast), bearer tokens to principals
// and their authorization (kube/authz.hpp), group-committed durability before answering
// writes, and chunked watch streams. Beast stays in api_server.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace boost::asio {
class io_context;
}

namespace ironboot {
struct EmbeddedClusterConfig;
}

namespace ironboot::kube {

class Store;
class Transport;

class EmbeddedApiServer {
 public:
  EmbeddedApiServer(boost::asio::io_context& io, const EmbeddedClusterConfig& config);
  ~EmbeddedApiServer();

  // Loads the store and credentials, binds. Returns an error text on failure.
  std::string start();
  void stop();
  bool idle() const;
  // False while the store log cannot be written (writes are answered 503; /readyz fails).
  bool writable() const;
  // The bound port (after start), for tests that listen on port 0.
  std::uint16_t port() const;
  Store& store();
  // For this process's own client (the informers, the write queue, Events): requests go
  // straight to the handler as the admin token's over HTTPS would, writes are answered once
  // durable, and watches are fed from the store's publish after each log sync, with the same
  // events, order and resourceVersions as a watch over HTTPS. Usable while this server lives;
  // after stop() every request ends with status 0.
  std::shared_ptr<Transport> local_transport();

 private:
  struct Impl;
  class Local;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ironboot::kube
