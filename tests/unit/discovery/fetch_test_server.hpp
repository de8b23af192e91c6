// An HTTP or HTTPS server on a loopback address for the Environment fetch tests: its own
// io_context on its own thread, one canned reply per path (a status and body, a head that
// claims another length, a body without a length, a stall).
#pragma once

#include <openssl/evp.h>

#include <cstdio>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace ironboot::discovery::testing {

// SHA-512 of `data` in lower-case hex, computed here independently of the fetcher.
inline std::string sha512_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha512(), nullptr);
  std::string hex;
  char byte[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(byte, sizeof byte, "%02x", md[i]);
    hex += byte;
  }
  return hex;
}

class FetchTestServer {
 public:
  struct Reply {
    unsigned status = 200;
    std::string body;
    std::string extra_head;                     // more header lines, each ending in \r\n
    std::optional<std::uint64_t> claimed_length;  // Content-Length to announce instead of the body's
    bool no_length = false;                     // no Content-Length: the body ends with the connection
    bool stall_before_body = false;             // the head, then nothing
  };
  static Reply reply(unsigned status, std::string body, std::string extra_head = {}) {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    r.extra_head = std::move(extra_head);
    return r;
  }

  // `cert_pem` / `key_pem` empty: plain HTTP.
  explicit FetchTestServer(const std::string& address = "127.0.0.1", const std::string& cert_pem = {},
                           const std::string& key_pem = {})
      : acceptor_(io_, {boost::asio::ip::make_address(address), 0}) {
    if (!cert_pem.empty()) {
      tls_ = std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
      tls_->use_certificate_chain(boost::asio::buffer(cert_pem));
      tls_->use_private_key(boost::asio::buffer(key_pem), boost::asio::ssl::context::pem);
    }
    boost::asio::co_spawn(io_, accept_loop(), boost::asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FetchTestServer() {
    io_.stop();
    thread_.join();
  }

  void route(const std::string& path, Reply reply) {
    std::lock_guard lock(mutex_);
    routes_[path] = std::move(reply);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int requests() const { return requests_; }

 private:
  using tcp = boost::asio::ip::tcp;
  static constexpr auto kAwait = boost::asio::as_tuple(boost::asio::use_awaitable);

  boost::asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kAwait);
      if (ec) co_return;
      boost::asio::co_spawn(io_, serve(std::move(socket)), boost::asio::detached);
    }
  }

  boost::asio::awaitable<void> serve(tcp::socket socket) {
    if (!tls_) {
      co_await exchange(socket);
      co_return;
    }
    boost::asio::ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
    auto [ec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server, kAwait);
    if (ec) co_return;  // the client refused the certificate
    co_await exchange(stream);
  }

  template <class Stream>
  boost::asio::awaitable<void> exchange(Stream& stream) {
    boost::beast::flat_buffer buffer;
    boost::beast::http::request<boost::beast::http::empty_body> req;
    auto [rec, rn] = co_await boost::beast::http::async_read(stream, buffer, req, kAwait);
    if (rec) co_return;
    ++requests_;
    Reply reply;
    {
      std::lock_guard lock(mutex_);
      auto it = routes_.find(std::string(req.target()));
      if (it == routes_.end()) reply.status = 404;
      else reply = it->second;
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nConnection: close\r\n" + reply.extra_head;
    if (!reply.no_length)
      head += "Content-Length: " + std::to_string(reply.claimed_length.value_or(reply.body.size())) + "\r\n";
    head += "\r\n";
    auto [hec, hn] = co_await boost::asio::async_write(stream, boost::asio::buffer(head), kAwait);
    if (hec) co_return;
    if (reply.stall_before_body) {
      boost::asio::steady_timer forever(io_, std::chrono::hours(1));
      co_await forever.async_wait(kAwait);
      co_return;
    }
    auto [bec, bn] = co_await boost::asio::async_write(stream, boost::asio::buffer(reply.body), kAwait);
    if (bec) co_return;
    boost::system::error_code ignore;
    boost::beast::get_lowest_layer(stream).shutdown(tcp::socket::shutdown_both, ignore);
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_;
  std::mutex mutex_;
  std::map<std::string, Reply> routes_;
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace ironboot::discovery::testing
