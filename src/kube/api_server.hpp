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

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ironboot::kube
