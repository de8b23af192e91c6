// The network clients one simulated machine uses: DHCP through one shared port-68 socket
// (replies matched by xid), TFTP, plain HTTP/1.1 over one keep-alive connection, and an
// HTTPS request to the embedded Kubernetes API. Every wait has a timeout; nothing throws.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ironboot::storm {

namespace net = boost::asio;
using udp = net::ip::udp;
using tcp = net::ip::tcp;
using Millis = std::chrono::milliseconds;

// Resend schedule of a UDP exchange: wait `first`, doubling, `attempts` sends in all.
struct Retry {
  Millis first{1000};
  unsigned attempts = 4;
};

// The generator's one DHCP client socket (0.0.0.0:client_port, broadcast allowed). Proxy
// replies to a DISCOVER are broadcast to the client port, so every machine's reply arrives
// here and is handed to the machine waiting for its xid.
class DhcpHub {
 public:
  // Throws when the socket cannot be set up (start-up, not the per-packet path).
  DhcpHub(net::io_context& io, std::uint16_t client_port, const std::string& interface);
  // The last send error, for the report ("" when none).
  const std::string& send_error() const { return send_error_; }
  // Sends `packet` to `to` until a BOOTREPLY with `xid` arrives or the schedule is spent.
  // `resends` counts the sends after the first.
  net::awaitable<std::optional<std::vector<std::uint8_t>>> exchange(std::vector<std::uint8_t> packet, std::uint32_t xid,
                                                                    udp::endpoint to, Retry retry, unsigned& resends);
  void start();
  void stop();

 private:
  struct Waiter {
    net::steady_timer* timer = nullptr;
    std::optional<std::vector<std::uint8_t>> reply;
  };
  net::awaitable<void> receive_loop();

  udp::socket socket_;
  std::unordered_map<std::uint32_t, Waiter*> waiters_;
  bool stopped_ = false;
  std::string send_error_;
};

// One request/reply over a socket of its own bound to `local` (the 4011 REQUEST, whose reply
// goes back to the sender's address and port). Replies not matching `xid` are skipped.
net::awaitable<std::optional<std::vector<std::uint8_t>>> udp_exchange(net::io_context& io, net::ip::address_v4 local,
                                                                      std::vector<std::uint8_t> packet,
                                                                      std::uint32_t xid, udp::endpoint to, Retry retry,
                                                                      unsigned& resends);

struct TftpResult {
  std::uint64_t bytes = 0;
  unsigned resends = 0;
  unsigned windowsize = 1;  // what the server's OACK granted
  std::string error;        // "" = complete
};

// RRQ `file` (octet, blksize, tsize 0, windowsize when > 1) from a socket bound to `local`;
// RFC 7440 client: ACK every `windowsize` blocks, the last in-order block after a gap.
net::awaitable<TftpResult> tftp_get(net::io_context& io, net::ip::address_v4 local, udp::endpoint server,
                                    std::string file, unsigned blksize, unsigned windowsize, Millis timeout,
                                    unsigned attempts);

struct HttpReply {
  unsigned status = 0;
  std::string body;          // only for text requests; downloads are counted, not kept
  std::uint64_t body_bytes = 0;
  std::string error;         // transport error; "" when an answer arrived
};

// One machine's keep-alive HTTP connection from its own address; reconnects when the server
// closed it between requests.
class HttpConnection {
 public:
  HttpConnection(net::io_context& io, net::ip::address_v4 local, tcp::endpoint server);
  ~HttpConnection();
  // `keep_body` false reads the body in chunks and only counts it (kernel, initrd).
  net::awaitable<HttpReply> request(boost::beast::http::verb method, std::string target, std::string body,
                                    std::string bearer, Millis timeout, bool keep_body = true);
  void close();

 private:
  net::awaitable<std::string> connect(Millis timeout);

  net::io_context& io_;
  net::ip::address_v4 local_;
  tcp::endpoint server_;
  std::optional<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

// A merge PATCH to the embedded API over a TLS connection of its own, as `kubectl patch`
// does: verified against the API's CA, bearer token.
net::awaitable<HttpReply> api_merge_patch(net::io_context& io, net::ssl::context& tls, tcp::endpoint api,
                                          std::string target, std::string patch, std::string bearer, Millis timeout);

}  // namespace ironboot::storm
