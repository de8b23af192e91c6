#include "clients.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <charconv>
#include <memory>

namespace ironboot::storm {

namespace beast = boost::beast;
namespace http = boost::beast::http;

namespace {

constexpr auto kAwait = net::as_tuple(net::use_awaitable);
constexpr std::size_t kMaxDatagram = 65536;
constexpr std::uint32_t kMaxTextBody = 4 * 1024 * 1024;

std::optional<std::uint32_t> reply_xid(const std::uint8_t* p, std::size_t n) {
  if (n < 240 || p[0] != 2) return std::nullopt;  // not a BOOTREPLY
  return (std::uint32_t{p[4]} << 24) | (std::uint32_t{p[5]} << 16) | (std::uint32_t{p[6]} << 8) | p[7];
}

// Cancels a socket's pending operations when the time is up, unless destroyed first.
class Deadline {
 public:
  Deadline(udp::socket& socket, Millis after) : timer_(socket.get_executor(), after) {
    timer_.async_wait([state = state_, s = &socket](boost::system::error_code ec) {
      if (ec || !state->alive) return;
      state->expired = true;
      s->cancel();
    });
  }
  ~Deadline() {
    state_->alive = false;
    timer_.cancel();
  }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    bool alive = true, expired = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
  net::steady_timer timer_;
};

void put16(std::vector<std::uint8_t>& out, unsigned v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

void put_text(std::vector<std::uint8_t>& out, std::string_view s) {
  out.insert(out.end(), s.begin(), s.end());
  out.push_back(0);
}

unsigned get16(const std::uint8_t* p) { return (unsigned{p[0]} << 8) | p[1]; }

// OACK option values as name -> number (unknown or non-numeric values are left out).
std::optional<unsigned> oack_value(const std::uint8_t* p, std::size_t n, std::string_view name) {
  std::size_t i = 2;
  while (i < n) {
    const auto* key = reinterpret_cast<const char*>(p + i);
    const std::size_t key_len = strnlen(key, n - i);
    if (i + key_len >= n) return std::nullopt;
    const std::size_t v = i + key_len + 1;
    const auto* value = reinterpret_cast<const char*>(p + v);
    const std::size_t value_len = strnlen(value, n - v);
    if (v + value_len >= n) return std::nullopt;
    if (std::string_view(key, key_len) == name) {
      unsigned out = 0;
      auto [end, ec] = std::from_chars(value, value + value_len, out);
      if (ec != std::errc() || end != value + value_len) return std::nullopt;
      return out;
    }
    i = v + value_len + 1;
  }
  return std::nullopt;
}

}  // namespace

// ---- DHCP ---------------------------------------------------------------------------

DhcpHub::DhcpHub(net::io_context& io, std::uint16_t client_port, const std::string& interface) : socket_(io) {
  socket_.open(udp::v4());
  // Broadcasts leave through the machines' interface (the namespace has no default route).
  if (setsockopt(socket_.native_handle(), SOL_SOCKET, SO_BINDTODEVICE, interface.c_str(),
                 static_cast<socklen_t>(interface.size())) != 0)
    throw std::runtime_error("SO_BINDTODEVICE " + interface + ": " + std::strerror(errno));
  socket_.set_option(net::socket_base::reuse_address(true));
  socket_.set_option(net::socket_base::broadcast(true));
  // A storm's replies arrive in bursts; the default buffer would drop some.
  socket_.set_option(net::socket_base::receive_buffer_size(8 * 1024 * 1024));
  socket_.bind(udp::endpoint(net::ip::address_v4::any(), client_port));
}

void DhcpHub::start() { net::co_spawn(socket_.get_executor(), receive_loop(), net::detached); }

void DhcpHub::stop() {
  stopped_ = true;
  boost::system::error_code ignore;
  socket_.close(ignore);
}

net::awaitable<void> DhcpHub::receive_loop() {
  std::vector<std::uint8_t> buffer(kMaxDatagram);
  udp::endpoint from;
  while (!stopped_) {
    auto [ec, n] = co_await socket_.async_receive_from(net::buffer(buffer), from, kAwait);
    if (ec) {
      if (ec == net::error::operation_aborted || !socket_.is_open()) co_return;
      continue;
    }
    const auto xid = reply_xid(buffer.data(), n);
    if (!xid) continue;
    auto it = waiters_.find(*xid);
    if (it == waiters_.end() || it->second->reply) continue;
    it->second->reply.emplace(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    it->second->timer->cancel();
  }
}

net::awaitable<std::optional<std::vector<std::uint8_t>>> DhcpHub::exchange(std::vector<std::uint8_t> packet,
                                                                           std::uint32_t xid, udp::endpoint to,
                                                                           Retry retry, unsigned& resends) {
  net::steady_timer timer(socket_.get_executor());
  Waiter waiter;
  waiter.timer = &timer;
  waiters_[xid] = &waiter;
  Millis wait = retry.first;
  for (unsigned attempt = 0; attempt < retry.attempts && !waiter.reply; ++attempt) {
    if (attempt > 0) ++resends;
    auto [sec, sent] = co_await socket_.async_send_to(net::buffer(packet), to, kAwait);
    (void)sent;
    if (sec) {
      send_error_ = sec.message();
      break;
    }
    timer.expires_after(wait);
    if (!waiter.reply) {
      auto [tec] = co_await timer.async_wait(kAwait);
      (void)tec;
    }
    wait *= 2;
  }
  waiters_.erase(xid);
  co_return std::move(waiter.reply);
}

net::awaitable<std::optional<std::vector<std::uint8_t>>> udp_exchange(net::io_context& io, net::ip::address_v4 local,
                                                                      std::vector<std::uint8_t> packet,
                                                                      std::uint32_t xid, udp::endpoint to, Retry retry,
                                                                      unsigned& resends) {
  udp::socket socket(io);
  boost::system::error_code ec;
  socket.open(udp::v4(), ec);
  if (!ec) socket.bind(udp::endpoint(local, 0), ec);
  if (ec) co_return std::nullopt;
  std::vector<std::uint8_t> buffer(kMaxDatagram);
  Millis wait = retry.first;
  for (unsigned attempt = 0; attempt < retry.attempts; ++attempt) {
    if (attempt > 0) ++resends;
    auto [sec, sent] = co_await socket.async_send_to(net::buffer(packet), to, kAwait);
    (void)sent;
    if (sec) co_return std::nullopt;
    Deadline deadline(socket, wait);
    while (!deadline.expired()) {
      udp::endpoint from;
      auto [rec, n] = co_await socket.async_receive_from(net::buffer(buffer), from, kAwait);
      if (rec) break;
      if (reply_xid(buffer.data(), n) == xid) {
        buffer.resize(n);
        co_return buffer;
      }
    }
    wait *= 2;
  }
  co_return std::nullopt;
}

// ---- TFTP ---------------------------------------------------------------------------

net::awaitable<TftpResult> tftp_get(net::io_context& io, net::ip::address_v4 local, udp::endpoint server,
                                    std::string file, unsigned blksize, unsigned windowsize, Millis timeout,
                                    unsigned attempts) {
  TftpResult result;
  udp::socket socket(io);
  boost::system::error_code ec;
  socket.open(udp::v4(), ec);
  if (!ec) socket.bind(udp::endpoint(local, 0), ec);
  if (ec) {
    result.error = "socket: " + ec.message();
    co_return result;
  }
  std::vector<std::uint8_t> last;  // what a timeout resends: the RRQ, then the latest ACK
  put16(last, 1);
  put_text(last, file);
  put_text(last, "octet");
  put_text(last, "blksize");
  put_text(last, std::to_string(blksize));
  put_text(last, "tsize");
  put_text(last, "0");
  if (windowsize > 1) {
    put_text(last, "windowsize");
    put_text(last, std::to_string(windowsize));
  }
  std::optional<udp::endpoint> peer;
  udp::endpoint dest = server;
  unsigned block_size = 512, window = 1, in_window = 0, tries = 0;
  std::optional<unsigned> tsize;
  std::uint32_t expected = 1;  // the next block, counting past the 16-bit wrap
  bool gap_acked = false;
  std::vector<std::uint8_t> buffer(kMaxDatagram);
  auto ack = [&](std::uint32_t block) {
    last.clear();
    put16(last, 4);
    put16(last, block & 0xffff);
  };
  bool send = true;
  while (true) {
    if (send) {
      auto [sec, sent] = co_await socket.async_send_to(net::buffer(last), dest, kAwait);
      (void)sent;
      if (sec) {
        result.error = "send: " + sec.message();
        co_return result;
      }
    }
    send = false;
    udp::endpoint from;
    std::size_t n = 0;
    {
      Deadline deadline(socket, timeout);
      auto [rec, got] = co_await socket.async_receive_from(net::buffer(buffer), from, kAwait);
      n = got;
      if (rec) {
        if (++tries >= attempts) {
          result.error = "timeout at block " + std::to_string(expected);
          co_return result;
        }
        ++result.resends;
        send = true;
        continue;
      }
    }
    if (n < 4 || from.address() != server.address()) continue;
    if (!peer) {
      peer = from;
      dest = from;
    } else if (from != *peer) {
      continue;
    }
    const unsigned op = get16(buffer.data());
    if (op == 5) {
      result.error = "error " + std::to_string(get16(buffer.data() + 2)) + ": " +
                     std::string(reinterpret_cast<const char*>(buffer.data() + 4), strnlen(reinterpret_cast<const char*>(buffer.data() + 4), n - 4));
      co_return result;
    }
    if (op == 6 && expected == 1) {
      block_size = oack_value(buffer.data(), n, "blksize").value_or(512);
      window = oack_value(buffer.data(), n, "windowsize").value_or(1);
      tsize = oack_value(buffer.data(), n, "tsize");
      result.windowsize = window;
      ack(0);
      send = true;
      tries = 0;
      continue;
    }
    if (op != 3) continue;
    const unsigned block = get16(buffer.data() + 2);
    if (block != (expected & 0xffff)) {
      // RFC 7440: on a gap, acknowledge the last block received in order, once.
      if (!gap_acked && window > 1) {
        ack(expected - 1);
        send = true;
        gap_acked = true;
        in_window = 0;
      }
      continue;
    }
    gap_acked = false;
    tries = 0;
    const std::size_t payload = n - 4;
    result.bytes += payload;
    ++expected;
    ++in_window;
    if (payload < block_size) {
      ack(expected - 1);
      auto [sec, sent] = co_await socket.async_send_to(net::buffer(last), dest, kAwait);
      (void)sec;
      (void)sent;
      if (tsize && *tsize != result.bytes)
        result.error = "size " + std::to_string(result.bytes) + " differs from tsize " + std::to_string(*tsize);
      co_return result;
    }
    if (in_window >= window) {
      ack(expected - 1);
      send = true;
      in_window = 0;
    }
  }
}

// ---- HTTP ---------------------------------------------------------------------------

HttpConnection::HttpConnection(net::io_context& io, net::ip::address_v4 local, tcp::endpoint server)
    : io_(io), local_(local), server_(server) {}

HttpConnection::~HttpConnection() { close(); }

void HttpConnection::close() {
  if (!stream_) return;
  boost::system::error_code ignore;
  stream_->socket().shutdown(tcp::socket::shutdown_both, ignore);
  stream_->close();
  stream_.reset();
  buffer_.clear();
}

net::awaitable<std::string> HttpConnection::connect(Millis timeout) {
  stream_.emplace(io_);
  boost::system::error_code ec;
  stream_->socket().open(tcp::v4(), ec);
  if (!ec) stream_->socket().bind(tcp::endpoint(local_, 0), ec);
  if (ec) {
    stream_.reset();
    co_return "bind: " + ec.message();
  }
  stream_->expires_after(timeout);
  auto [cec] = co_await stream_->async_connect(server_, kAwait);
  if (cec) {
    stream_.reset();
    co_return "connect: " + cec.message();
  }
  co_return std::string();
}

net::awaitable<HttpReply> HttpConnection::request(http::verb method, std::string target, std::string body,
                                                  std::string bearer, Millis timeout, bool keep_body) {
  HttpReply reply;
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, server_.address().to_string() + ":" + std::to_string(server_.port()));
  req.set(http::field::user_agent, "ironboot-storm");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = stream_.has_value();
    if (!stream_) {
      std::string error = co_await connect(timeout);
      if (!error.empty()) {
        reply.error = error;
        co_return reply;
      }
    }
    stream_->expires_after(timeout);
    auto [wec, wn] = co_await http::async_write(*stream_, req, kAwait);
    (void)wn;
    boost::system::error_code ec = wec;
    bool keep_alive = false;
    if (!ec && keep_body) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxTextBody);
      auto [rec, rn] = co_await http::async_read(*stream_, buffer_, parser, kAwait);
      (void)rn;
      ec = rec;
      if (!ec) {
        reply.status = parser.get().result_int();
        reply.body = std::move(parser.get().body());
        reply.body_bytes = reply.body.size();
        keep_alive = parser.get().keep_alive();
      }
    } else if (!ec) {
      // Downloads are read through a fixed buffer and counted: a thousand machines fetching
      // an initrd must not hold a thousand copies.
      http::response_parser<http::buffer_body> parser;
      parser.body_limit(boost::none);
      auto [hec, hn] = co_await http::async_read_header(*stream_, buffer_, parser, kAwait);
      (void)hn;
      ec = hec;
      // A body of known length is read straight off the socket into one discard buffer, 256 KB
      // at a time: through the parser every byte would be copied twice (socket -> buffer_ ->
      // body), and at a GB/s the generator, on the same 2 cores, would set the pace.
      const bool known_length = !ec && !parser.is_done() && !parser.chunked() && parser.content_length();
      if (known_length) {
        static std::array<char, 256 * 1024> sink;
        std::uint64_t left = *parser.content_length();
        const std::size_t buffered = static_cast<std::size_t>(std::min<std::uint64_t>(left, buffer_.size()));
        buffer_.consume(buffered);
        left -= buffered;
        reply.body_bytes = buffered;
        while (!ec && left > 0) {
          const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, sink.size()));
          auto [bec, bn] = co_await stream_->async_read_some(net::buffer(sink.data(), want), kAwait);
          ec = bec;
          left -= bn;
          reply.body_bytes += bn;
        }
      }
      std::array<char, 65536> chunk;
      while (!known_length && !ec && !parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        auto [bec, bn] = co_await http::async_read(*stream_, buffer_, parser, kAwait);
        (void)bn;
        if (bec == http::error::need_buffer) bec = {};
        ec = bec;
        reply.body_bytes += chunk.size() - parser.get().body().size;
      }
      if (!ec) {
        reply.status = parser.get().result_int();
        keep_alive = parser.get().keep_alive();
      }
    }
    if (!ec) {
      if (!keep_alive) close();
      co_return reply;
    }
    close();
    // A kept-alive connection the server closed meanwhile: once more on a new one.
    const bool stale = reused && (ec == http::error::end_of_stream || ec == net::error::connection_reset ||
                                  ec == net::error::broken_pipe || ec == net::error::eof);
    if (!stale) {
      reply.error = ec == beast::error::timeout ? std::string("timeout") : ec.message();
      co_return reply;
    }
    reply = HttpReply{};
  }
  reply.error = "connection closed twice";
  co_return reply;
}

// ---- embedded API -------------------------------------------------------------------

net::awaitable<HttpReply> api_merge_patch(net::io_context& io, net::ssl::context& tls, tcp::endpoint api,
                                          std::string target, std::string patch, std::string bearer, Millis timeout) {
  HttpReply reply;
  beast::ssl_stream<beast::tcp_stream> stream(io, tls);
  beast::get_lowest_layer(stream).expires_after(timeout);
  auto [cec] = co_await beast::get_lowest_layer(stream).async_connect(api, kAwait);
  if (cec) {
    reply.error = "api connect: " + cec.message();
    co_return reply;
  }
  auto [hec] = co_await stream.async_handshake(net::ssl::stream_base::client, kAwait);
  if (hec) {
    reply.error = "api handshake: " + hec.message();
    co_return reply;
  }
  http::request<http::string_body> req{http::verb::patch, target + "?fieldManager=kubectl-patch", 11};
  req.set(http::field::host, api.address().to_string() + ":" + std::to_string(api.port()));
  req.set(http::field::user_agent, "ironboot-storm");
  req.set(http::field::authorization, "Bearer " + bearer);
  req.set(http::field::content_type, "application/merge-patch+json");
  req.set(http::field::accept, "application/json");
  req.body() = std::move(patch);
  req.keep_alive(false);
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, kAwait);
  (void)wn;
  if (wec) {
    reply.error = "api write: " + wec.message();
    co_return reply;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxTextBody);
  auto [rec, rn] = co_await http::async_read(stream, buffer, parser, kAwait);
  (void)rn;
  if (rec) {
    reply.error = "api read: " + rec.message();
    co_return reply;
  }
  reply.status = parser.get().result_int();
  reply.body = std::move(parser.get().body());
  beast::get_lowest_layer(stream).expires_after(Millis(1000));
  auto [sec] = co_await stream.async_shutdown(kAwait);
  (void)sec;
  co_return reply;
}

}  // namespace ironboot::storm
