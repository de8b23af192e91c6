// One HTTP/1.1 connection: read a request (header then body, each under a deadline and a
// size limit), dispatch it through the Router, write the response, repeat while keep-alive.
// Requests are answered in order, so pipelined requests simply wait in the read buffer.
// Templated on the stream so unit tests drive it over beast::test::stream; on a real TCP
// socket file bodies go out with sendfile(2).
//
// Internal header: includes Beast. Only http_server.cpp and the unit tests include it.
#pragma once

#include <sys/sendfile.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "common/log.hpp"
#include "http/server_context.hpp"

namespace ironboot::http {

namespace beast = boost::beast;
namespace asio = boost::asio;

// File bodies at least this large go out with sendfile(2); smaller ones are read and sent
// with the head in one write.
constexpr std::uint64_t kSendfileThreshold = 64 * 1024;
// Bytes sent to one connection in one turn of the loop before the others get theirs: each
// session writes until EAGAIN or this cap, then queues itself behind the sessions already
// ready, so 50 downloads share one thread round-robin (nginx's sendfile_max_chunk is 2 MB).
constexpr std::uint64_t kSendfileTurn = 2 * 1024 * 1024;
constexpr std::size_t kCopyChunk = 64 * 1024;
// TCP_NOTSENT_LOWAT on every connection: the kernel holds at most this much not-yet-sent data
// per socket and reports it writable again below half of it. Without it a socket queues up to
// its whole send buffer (4 MB) unsent, and those segments are then transmitted from the ACK
// processing of the receiver; with it the loop refills often and transmits them itself.
// Measured in bench/http (bench/README.md): 1.4-2x the large-file throughput, about twice the
// server CPU per MB.
constexpr int kUnsentLowWater = 128 * 1024;
// After an error response, unread request bytes are drained this long before closing, so
// the client reads our answer instead of a reset.
constexpr std::chrono::milliseconds kLingerTime{1000};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kIsSocket = std::is_same_v<Stream, asio::ip::tcp::socket>;

 public:
  Session(Stream stream, std::shared_ptr<ServerContext> ctx, std::string peer)
      : stream_(std::move(stream)), ctx_(std::move(ctx)), peer_(std::move(peer)), timer_(stream_.get_executor()) {
    ctx_->sessions.insert(this);
    ctx_->metrics.connections->inc();
  }
  ~Session() override {
    ctx_->sessions.erase(this);
    ctx_->metrics.connections->dec();
  }

  void start() { read_request(); }

  void drain() override {
    draining_ = true;
    if (phase_ == Phase::idle) close();
  }

 private:
  enum class Phase { idle, reading, handling, writing, lingering, closed };
  using Clock = std::chrono::steady_clock;

  // --- deadlines: one timer, re-armed lazily (moving a deadline later costs nothing) ---
  void arm(std::chrono::milliseconds d) {
    deadline_ = Clock::now() + d;
    if (timer_waits_ == 0 || deadline_ < timer_.expiry()) wait_timer();
  }
  void disarm() { deadline_ = Clock::time_point::max(); }
  void wait_timer() {
    ++timer_waits_;  // expires_at cancels an older wait; only the last one to finish acts
    timer_.expires_at(deadline_);
    timer_.async_wait([self = this->shared_from_this()](const beast::error_code&) { self->on_timer(); });
  }
  void on_timer() {
    if (--timer_waits_ > 0) return;
    if (phase_ == Phase::closed || deadline_ == Clock::time_point::max()) return;
    if (Clock::now() < deadline_) return wait_timer();
    if (phase_ != Phase::lingering) {
      ctx_->metrics.timeouts->inc();
      ctx_->log->debug("timeout phase={} peer={}", phase_name(), peer_);
    }
    close();
  }
  const char* phase_name() const {
    switch (phase_) {
      case Phase::idle: return "idle";
      case Phase::reading: return "request";
      case Phase::handling: return "handler";
      case Phase::writing: return "response";
      case Phase::lingering: return "linger";
      case Phase::closed: return "closed";
    }
    return "?";
  }

  // --- reading ---
  void read_request() {
    if (draining_ || ctx_->draining) return close();
    parser_.emplace();
    parser_->header_limit(ctx_->limits.max_header_bytes);
    parser_->body_limit(ctx_->limits.max_body_bytes);
    if (buffer_.size() > 0) return read_header();
    // Wait for the first byte under the idle deadline; the header deadline starts then.
    phase_ = Phase::idle;
    arm(ctx_->limits.idle_timeout);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](const beast::error_code& ec, std::size_t n) {
                              self->buffer_.commit(n);
                              if (ec) return self->close();
                              self->read_header();
                            });
  }

  void read_header() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::reading;
    arm(ctx_->limits.header_timeout);
    beast::http::async_read_header(stream_, buffer_, *parser_,
                                   [self = this->shared_from_this()](const beast::error_code& ec, std::size_t) {
                                     self->on_header(ec);
                                   });
  }

  void on_header(const beast::error_code& ec) {
    if (ec) return on_read_error(ec);
    if (parser_->is_done()) return on_request();
    const auto& req = parser_->get();
    if (beast::iequals(req[beast::http::field::expect], "100-continue")) {
      continue_ = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(continue_),
                        [self = this->shared_from_this()](const beast::error_code& ec2, std::size_t) {
                          if (ec2) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    beast::http::async_read(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](const beast::error_code& ec, std::size_t) {
                              if (ec) return self->on_read_error(ec);
                              self->on_request();
                            });
  }

  void on_read_error(const beast::error_code& ec) {
    if (phase_ == Phase::closed) return;
    using e = beast::http::error;
    int status = 400;
    if (ec == e::header_limit || ec == e::buffer_overflow) {
      status = 431;
    } else if (ec == e::body_limit) {
      status = 413;
    } else if (ec == e::end_of_stream || ec == e::partial_message ||
               ec.category() != beast::http::make_error_code(e::bad_method).category()) {
      // The peer went away or the socket failed: nobody to answer.
      return close();
    }
    ctx_->log->debug("bad request status={} error=\"{}\" peer={}", status, ec.message(), peer_);
    request_.method = "-";
    request_.path = "-";
    request_keep_alive_ = false;
    head_request_ = false;
    started_ = Clock::now();
    send(text_response(status, std::string(reason_phrase(status)) + "\n"));
  }

  void on_request() {
    auto& req = parser_->get();
    phase_ = Phase::handling;
    disarm();
    started_ = Clock::now();
    request_keep_alive_ = req.keep_alive();
    http10_ = req.version() == 10;
    request_ = Request{};
    request_.method = std::string(req.method_string());
    request_.target = std::string(req.target());
    request_.peer = peer_;
    head_request_ = request_.method == "HEAD";
    const std::string_view target = req.target();
    if (target.empty() || target.front() != '/') {
      request_keep_alive_ = false;
      request_.path = "-";
      return send(text_response(400, "bad request target\n"));
    }
    const auto q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    request_.headers.reserve(8);
    for (const auto& f : req) request_.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    request_.body = std::move(req.body());
    // The responder keeps the session alive until it is called, and lets go of it then, so
    // a handler that keeps a used Responder around does not hold the connection open.
    auto holder = std::make_shared<std::shared_ptr<Session>>(this->shared_from_this());
    ctx_->router->dispatch(request_, [holder](Response response) {
      auto self = std::move(*holder);
      if (self) self->send(std::move(response));
    });
  }

  // --- writing ---
  void send(Response response) {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::writing;
    response_ = std::move(response);
    keep_alive_ = request_keep_alive_ && !draining_ && !ctx_->draining;
    const int status = response_.status;
    const bool no_body_status = status == 304 || status == 204 || status < 200;
    const bool send_body = !no_body_status && !head_request_;
    head_ = serialize_head(response_, keep_alive_, keep_alive_ && http10_, !no_body_status, ctx_->date());
    body_bytes_ = send_body ? response_.content_length() : 0;
    arm(ctx_->limits.idle_timeout);

    if (send_body && response_.file) {
      file_offset_ = static_cast<off_t>(response_.file->offset);
      file_remaining_ = response_.file->length;
      if constexpr (kIsSocket) {
        if (file_remaining_ >= kSendfileThreshold) return send_head_then_file();
      }
      if (file_remaining_ <= kCopyChunk) {
        if (!read_file_chunk(response_.body)) return close();
        file_remaining_ = 0;
      } else {
        return write_buffers(asio::buffer(head_), [](Session& s) { s.copy_file(); });
      }
    }
    if (!send_body) response_.body.clear();
    std::array<asio::const_buffer, 2> bufs{asio::buffer(head_), asio::buffer(response_.body)};
    write_buffers(bufs, [](Session& s) { s.on_response_written(); });
  }

  template <class Buffers, class Next>
  void write_buffers(const Buffers& buffers, Next next) {
    asio::async_write(stream_, buffers,
                      [self = this->shared_from_this(), next](const beast::error_code& ec, std::size_t) {
                        if (ec) return self->close();
                        next(*self);
                      });
  }

  // Reads the next piece of the file slice into `out`; false on a read error or short file.
  bool read_file_chunk(std::string& out) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(file_remaining_, kCopyChunk));
    out.resize(want);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(response_.file->file->fd(), out.data() + got, want - got, file_offset_);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
      file_offset_ += n;
    }
    return true;
  }

  // Without sendfile (in-memory streams): pread + write, one chunk at a time.
  void copy_file() {
    if (file_remaining_ == 0) return on_response_written();
    if (!read_file_chunk(chunk_)) return close();
    file_remaining_ -= chunk_.size();
    arm(ctx_->limits.idle_timeout);
    write_buffers(asio::buffer(chunk_), [](Session& s) { s.copy_file(); });
  }

  // The head and the file go out corked (TCP_CORK), so the head shares a segment with the
  // first file bytes and no partial segment is pushed at the end of each sendfile call; the
  // cork is lifted after the last byte, which pushes the tail at once.
  void send_head_then_file() {
    if constexpr (kIsSocket) {
      beast::error_code ec;
      stream_.native_non_blocking(true, ec);
      if (ec) return close();
      set_cork(true);
      const ssize_t n = ::send(stream_.native_handle(), head_.data(), head_.size(), MSG_NOSIGNAL);
      if (n == static_cast<ssize_t>(head_.size())) return sendfile_turn();
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return close();
      const std::size_t done = n > 0 ? static_cast<std::size_t>(n) : 0;
      write_buffers(asio::buffer(head_.data() + done, head_.size() - done), [](Session& s) { s.sendfile_turn(); });
    }
  }

  void set_cork(bool on) {
    if constexpr (kIsSocket) {
      const int value = on ? 1 : 0;
      ::setsockopt(stream_.native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
    }
  }

  // One turn of a file body: sendfile until the socket is full (then wait for writability),
  // the turn's share is used (then yield to the loop), or the body is done.
  void sendfile_turn() {
    if constexpr (kIsSocket) {
      if (phase_ == Phase::closed) return;
      arm(ctx_->limits.idle_timeout);
      const int out = stream_.native_handle();
      const int in = response_.file->file->fd();
      std::uint64_t turn_left = kSendfileTurn;
      while (file_remaining_ > 0) {
        if (turn_left == 0) {
          asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->sendfile_turn(); });
          return;
        }
        const auto want = static_cast<std::size_t>(std::min(file_remaining_, turn_left));
        const ssize_t n = ::sendfile(out, in, &file_offset_, want);
        if (n > 0) {
          file_remaining_ -= static_cast<std::uint64_t>(n);
          turn_left -= static_cast<std::uint64_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          stream_.async_wait(asio::ip::tcp::socket::wait_write,
                             [self = this->shared_from_this()](const beast::error_code& ec) {
                               if (ec) return self->close();
                               self->sendfile_turn();
                             });
          return;
        }
        // n == 0: the file shrank under us; the promised length can no longer be kept.
        ctx_->log->debug("sendfile failed error=\"{}\" peer={}", n == 0 ? "file truncated" : std::strerror(errno),
                         peer_);
        return close();
      }
      set_cork(false);
      on_response_written();
    }
  }

  void on_response_written() {
    const auto elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    auto& m = ctx_->metrics;
    m.requests(response_.status).inc();
    m.bytes_sent->inc(body_bytes_);
    m.latency->observe(elapsed);
    if (ctx_->log->should_log(spdlog::level::debug)) {
      ctx_->log->debug("request method={} path={} status={} bytes={} duration_us={} peer={}", request_.method,
                       request_.path, response_.status, body_bytes_,
                       static_cast<long long>(elapsed * 1e6), peer_);
    }
    response_ = Response{};
    request_.body.clear();
    if (keep_alive_) return read_request();
    linger_close();
  }

  // Half-close and discard what the client still sends, for a bounded time.
  void linger_close() {
    if constexpr (kIsSocket) {
      phase_ = Phase::lingering;
      beast::error_code ec;
      stream_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      if (ec) return close();
      arm(kLingerTime);
      linger_read();
    } else {
      close();
    }
  }
  void linger_read() {
    buffer_.clear();
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](const beast::error_code& ec, std::size_t) {
                              if (ec) return self->close();
                              self->linger_read();
                            });
  }

  void close() {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    disarm();
    beast::error_code ec;
    timer_.cancel();
    if constexpr (kIsSocket) {
      stream_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      stream_.close(ec);
    } else {
      stream_.close();
    }
  }

  Stream stream_;
  std::shared_ptr<ServerContext> ctx_;
  std::string peer_;
  asio::steady_timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  int timer_waits_ = 0;
  Phase phase_ = Phase::idle;
  bool draining_ = false;

  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  Request request_;
  bool request_keep_alive_ = false;
  bool http10_ = false;
  bool head_request_ = false;
  Clock::time_point started_;

  Response response_;
  bool keep_alive_ = false;
  std::string head_;
  std::string continue_;
  std::string chunk_;
  std::uint64_t body_bytes_ = 0;
  off_t file_offset_ = 0;
  std::uint64_t file_remaining_ = 0;
};

}  // namespace ironboot::http
