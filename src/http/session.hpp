// One HTTP/1.1 connection of the plain server, on the session skeleton
// (http/session_skeleton.hpp): read a request (the first byte, the head and the body each
// under a deadline and a size limit), dispatch it through the Router, write the response,
// repeat while keep-alive. Requests are answered in order, so pipelined requests simply
// wait in the read buffer. Templated on the stream so unit tests drive it over
// beast::test::stream; on a real TCP socket file bodies go out with sendfile(2).
//
// Internal header: includes Beast. Only http/server.cpp and the unit tests include it.
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
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
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
#include "http/session_skeleton.hpp"

namespace ironboot::http {

// File bodies at least this large go out with sendfile(2); smaller ones are read and sent
// with the head in one write.
constexpr std::uint64_t kSendfileThreshold = 64 * 1024;
// Bytes sent to one connection in one turn of the loop before the others get theirs: each
// session writes until EAGAIN or this cap, then queues itself behind the sessions already
// ready, so 50 downloads share one thread round-robin (nginx's sendfile_max_chunk is 2 MB).
constexpr std::uint64_t kSendfileTurn = 2 * 1024 * 1024;
constexpr std::size_t kCopyChunk = 64 * 1024;
// No TCP_NOTSENT_LOWAT on the sockets: with it (128 KB) the loop refilled each socket often and
// transmitted the segments itself, which doubled wrk's single-client throughput but, in the
// real-agent boot storm (100 machines at once, bench/README.md), served 0.6x as fast at 2.4x
// the server CPU per MB; without it a socket queues up to its send buffer and the kernel
// sends from the receiver's ACKs, as for nginx.
// After an error response, unread request bytes are drained this long before closing, so
// the client reads our answer instead of a reset.
constexpr std::chrono::milliseconds kLingerTime{1000};

// The answer of a Router handler, awaited by the session. The Responder's copies share one
// Answer; the last copy dropped without answering abandons the request (the connection then
// closes without a response, as nothing will ever answer it). Once it has answered, the
// Responder lets go of the session's state, so a handler that keeps a used Responder around
// holds nothing of the connection.
class PendingResponse {
 public:
  explicit PendingResponse(const asio::any_io_executor& executor) : wake_(executor, Deadline::Clock::time_point::max()) {}

  Responder responder(const std::shared_ptr<PendingResponse>& self) {
    return [answer = std::make_shared<Answer>(self)](Response response) { answer->give(std::move(response)); };
  }

  // The response, or nullopt when the handler let go of its Responder without answering.
  asio::awaitable<std::optional<Response>> wait() {
    while (!response_ && !abandoned_) co_await wake_.async_wait(kAwaitable);
    co_return std::move(response_);
  }

 private:
  class Answer {
   public:
    explicit Answer(std::shared_ptr<PendingResponse> pending) : pending_(std::move(pending)) {}
    Answer(const Answer&) = delete;
    Answer& operator=(const Answer&) = delete;
    ~Answer() {
      if (!pending_) return;
      pending_->abandoned_ = true;
      pending_->wake_.cancel();
    }
    void give(Response response) {
      if (!pending_) return;  // answered already
      pending_->response_ = std::move(response);
      pending_->wake_.cancel();
      pending_.reset();
    }

   private:
    std::shared_ptr<PendingResponse> pending_;
  };

  asio::steady_timer wake_;  // never expires; cancelled to wake the session
  std::optional<Response> response_;
  bool abandoned_ = false;
};

template <class Stream>
class Connection {
  static constexpr bool kIsSocket = std::is_same_v<Stream, asio::ip::tcp::socket>;
  static constexpr const char* kLingerPhase = "linger";

 public:
  Connection(Stream stream, std::shared_ptr<ServerContext> ctx, ConnectionRegistry::Slot slot, std::string peer)
      : stream_(std::move(stream)),
        ctx_(std::move(ctx)),
        peer_(std::move(peer)),
        deadline_(stream_.get_executor(), [this](const char* phase) { on_deadline(phase); }),
        slot_(std::move(slot)) {
    slot_.on_drain([this] { drain(); });
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  asio::awaitable<void> run() {
    while (!closed_ && !draining_ && !ctx_->draining) {
      parser_.emplace();
      parser_->header_limit(ctx_->limits.max_header_bytes);
      parser_->body_limit(ctx_->limits.max_body_bytes);
      phase_ = Phase::reading;
      // A new connection gets a short wait for its first byte (an idle socket holds a slot);
      // a keep-alive one the idle timeout.
      const auto first_byte = requests_ == 0 ? ctx_->limits.first_byte_timeout : ctx_->limits.idle_timeout;
      const RequestTimeouts timeouts{first_byte, ctx_->limits.header_timeout};
      head_refusal_.reset();
      const beast::error_code ec = co_await read_request(stream_, buffer_, *parser_, deadline_, timeouts, true,
                                                         &read_stage_, [this](const auto& head) { return this->check_head(head); });
      if (closed_) break;
      ++requests_;
      std::optional<Response> response;
      if (head_refusal_) {
        response = std::move(head_refusal_);
      } else if (ec) {
        response = read_error_response(ec);
      } else {
        response = co_await handle_request();
      }
      if (!response || closed_) break;
      const bool sent = co_await send(std::move(*response));
      if (!sent) break;
      on_response_written();
      if (!keep_alive_) {
        co_await linger();
        break;
      }
    }
    close();
  }

 private:
  enum class Phase { reading, handling, writing, lingering };
  using Clock = Deadline::Clock;

  // Finish the response in flight (if any), then close; close at once when waiting for a
  // request that has not begun.
  void drain() {
    draining_ = true;
    if (phase_ == Phase::reading && read_stage_ == ReadStage::waiting) close();
  }

  void on_deadline(const char* phase) {
    if (closed_) return;
    if (phase != kLingerPhase) {
      ctx_->metrics.timeouts->inc();
      ctx_->log->debug("timeout phase={} peer={}", phase, peer_);
    }
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    deadline_.disarm();
    close_stream(stream_);
  }

  // --- reading ---
  std::optional<Response> read_error_response(const beast::error_code& ec) {
    using e = beast::http::error;
    int status = 400;
    if (ec == e::header_limit || ec == e::buffer_overflow) {
      status = 431;
    } else if (ec == e::body_limit) {
      status = 413;
    } else if (ec == e::end_of_stream || ec == e::partial_message ||
               ec.category() != beast::http::make_error_code(e::bad_method).category()) {
      // The peer went away or the socket failed: nobody to answer.
      return std::nullopt;
    }
    ctx_->log->debug("bad request status={} error=\"{}\" peer={}", status, ec.message(), peer_);
    request_.method = "-";
    request_.path = "-";
    request_keep_alive_ = false;
    head_request_ = false;
    started_ = Clock::now();
    return text_response(status, std::string(reason_phrase(status)) + "\n");
  }

  // request_ from the parsed head; false when the target is not origin-form.
  template <class Head>
  bool take_head(const Head& req) {
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
      return false;
    }
    const auto q = target.find('?');
    request_.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request_.query = std::string(target.substr(q + 1));
    request_.headers.reserve(8);
    for (const auto& f : req) request_.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    return true;
  }

  // The router's head guard, before the body is read. A refusal closes the connection
  // afterwards: the unread body is still on it.
  template <class Head>
  bool check_head(const Head& req) {
    if (!take_head(req)) return true;  // handle_request answers 400
    auto refusal = ctx_->router->check_head(request_);
    if (!refusal) return true;
    ctx_->log->debug("request refused before its body status={} path={} peer={}", refusal->status, request_.path,
                     peer_);
    request_keep_alive_ = false;
    head_refusal_ = std::move(refusal);
    return false;
  }

  asio::awaitable<std::optional<Response>> handle_request() {
    auto& req = parser_->get();
    phase_ = Phase::handling;
    deadline_.disarm();
    // What the head guard established (take_head starts a fresh Request).
    const bool head_checked = request_.head_checked;
    std::any guarded = std::move(request_.guarded);
    if (!take_head(req)) co_return text_response(400, "bad request target\n");
    request_.head_checked = head_checked;
    request_.guarded = std::move(guarded);
    request_.body = std::move(req.body());
    auto pending = std::make_shared<PendingResponse>(stream_.get_executor());
    ctx_->router->dispatch(request_, pending->responder(pending));
    std::optional<Response> response = co_await pending->wait();
    co_return response;
  }

  // --- writing ---
  // True when the whole response went out.
  asio::awaitable<bool> send(Response response) {
    phase_ = Phase::writing;
    response_ = std::move(response);
    keep_alive_ = request_keep_alive_ && !draining_ && !ctx_->draining;
    const int status = response_.status;
    const bool no_body_status = status == 304 || status == 204 || status < 200;
    const bool send_body = !no_body_status && !head_request_;
    head_ = serialize_head(response_, keep_alive_, keep_alive_ && http10_, !no_body_status, ctx_->date());
    body_bytes_ = send_body ? response_.content_length() : 0;

    if (send_body && response_.file) {
      file_offset_ = static_cast<off_t>(response_.file->offset);
      file_remaining_ = response_.file->length;
      if constexpr (kIsSocket) {
        if (file_remaining_ >= kSendfileThreshold) {
          const bool sent = co_await send_head_then_file();
          co_return sent;
        }
      }
      if (file_remaining_ <= kCopyChunk) {
        if (!read_file_chunk(response_.body)) co_return false;
        file_remaining_ = 0;
      } else {
        const beast::error_code ec = co_await write_all(stream_, asio::buffer(head_), deadline_, ctx_->limits.idle_timeout);
        if (ec) co_return false;
        const bool sent = co_await copy_file();
        co_return sent;
      }
    }
    if (!send_body) response_.body.clear();
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(response_.body)};
    const beast::error_code ec = co_await write_all(stream_, buffers, deadline_, ctx_->limits.idle_timeout);
    co_return !ec;
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
  asio::awaitable<bool> copy_file() {
    while (file_remaining_ > 0) {
      if (!read_file_chunk(chunk_)) co_return false;
      file_remaining_ -= chunk_.size();
      const beast::error_code ec = co_await write_all(stream_, asio::buffer(chunk_), deadline_, ctx_->limits.idle_timeout);
      if (ec) co_return false;
    }
    co_return true;
  }

  // The head and the file go out corked (TCP_CORK), so the head shares a segment with the
  // first file bytes and no partial segment is pushed at the end of each sendfile call; the
  // cork is lifted after the last byte, which pushes the tail at once.
  asio::awaitable<bool> send_head_then_file() {
    beast::error_code ec;
    stream_.native_non_blocking(true, ec);
    if (ec) co_return false;
    set_cork(true);
    deadline_.arm(ctx_->limits.idle_timeout, "response");
    const ssize_t n = ::send(stream_.native_handle(), head_.data(), head_.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) co_return false;
    const std::size_t done = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (done < head_.size()) {
      const auto rest = asio::buffer(head_.data() + done, head_.size() - done);
      const beast::error_code wec = co_await write_all(stream_, rest, deadline_, ctx_->limits.idle_timeout);
      if (wec) co_return false;
    }
    const bool sent = co_await sendfile_body();
    co_return sent;
  }

  void set_cork(bool on) {
    const int value = on ? 1 : 0;
    ::setsockopt(stream_.native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
  }

  // Turns of sendfile: each runs until the socket is full (then waits for writability), the
  // turn's share is used (then yields to the loop), or the body is done; each turn re-arms
  // the write deadline, so it bounds a turn without progress.
  asio::awaitable<bool> sendfile_body() {
    const int in = response_.file->file->fd();
    while (file_remaining_ > 0) {
      if (closed_) co_return false;
      deadline_.arm(ctx_->limits.idle_timeout, "response");
      const int out = stream_.native_handle();
      std::uint64_t turn_left = kSendfileTurn;
      bool would_block = false;
      while (file_remaining_ > 0 && turn_left > 0) {
        const auto want = static_cast<std::size_t>(std::min(file_remaining_, turn_left));
        const ssize_t n = ::sendfile(out, in, &file_offset_, want);
        if (n > 0) {
          file_remaining_ -= static_cast<std::uint64_t>(n);
          turn_left -= static_cast<std::uint64_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          would_block = true;
          break;
        }
        // n == 0: the file shrank under us; the promised length can no longer be kept.
        ctx_->log->debug("sendfile failed error=\"{}\" peer={}", n == 0 ? "file truncated" : std::strerror(errno),
                         peer_);
        co_return false;
      }
      if (file_remaining_ == 0) break;
      if (would_block) {
        auto [ec] = co_await stream_.async_wait(asio::ip::tcp::socket::wait_write, kAwaitable);
        if (ec) co_return false;
      } else {
        co_await asio::post(stream_.get_executor(), asio::use_awaitable);
      }
    }
    set_cork(false);
    co_return true;
  }

  void on_response_written() {
    const auto elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    auto& m = ctx_->metrics;
    m.requests(response_.status).inc();
    m.bytes_sent->inc(body_bytes_);
    m.latency->observe(elapsed);
    if (ctx_->log->should_log(spdlog::level::debug)) {
      ctx_->log->debug("request method={} path={} status={} bytes={} duration_us={} peer={}", request_.method,
                       request_.path, response_.status, body_bytes_, static_cast<long long>(elapsed * 1e6), peer_);
    }
    response_ = Response{};
    request_.body.clear();
  }

  // Half-close and discard what the client still sends, for a bounded time.
  asio::awaitable<void> linger() {
    if constexpr (kIsSocket) {
      phase_ = Phase::lingering;
      beast::error_code ec;
      stream_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      if (ec) co_return;
      deadline_.arm(kLingerTime, kLingerPhase);
      while (true) {
        buffer_.clear();
        auto [rec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kAwaitable);
        if (rec) break;
      }
    }
    co_return;
  }

  Stream stream_;
  std::shared_ptr<ServerContext> ctx_;
  std::string peer_;
  Deadline deadline_;
  Phase phase_ = Phase::reading;
  ReadStage read_stage_ = ReadStage::waiting;
  bool closed_ = false;
  bool draining_ = false;

  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  Request request_;
  std::optional<Response> head_refusal_;  // what the router's head guard answered
  std::uint64_t requests_ = 0;            // read on this connection so far
  bool request_keep_alive_ = false;
  bool http10_ = false;
  bool head_request_ = false;
  Clock::time_point started_;

  Response response_;
  bool keep_alive_ = false;
  std::string head_;
  std::string chunk_;
  std::uint64_t body_bytes_ = 0;
  off_t file_offset_ = 0;
  std::uint64_t file_remaining_ = 0;

  // Last: released first, so drain_all() never reaches a Connection being destroyed.
  ConnectionRegistry::Slot slot_;
};

// The connection is built before the coroutine so that the coroutine's only parameter moves
// without throwing (a frame whose parameters' moves may throw draws GCC 12's false
// -Wmismatched-new-delete on Asio's frame allocator).
template <class Stream>
asio::awaitable<void> serve_connection(std::unique_ptr<Connection<Stream>> connection) {
  co_await connection->run();
}

// Takes a connection slot (counted for `client`, the peer's address) and runs the session on
// the stream's executor. Whoever accepts checks ctx->limits.max_connections and
// max_connections_per_client first.
template <class Stream>
void start_session(Stream stream, std::shared_ptr<ServerContext> ctx, std::string peer, std::string client) {
  const asio::any_io_executor executor = stream.get_executor();
  auto log = ctx->log;
  std::string what = "session peer=" + peer;
  auto slot = ctx->sessions->acquire(std::move(client));
  auto connection =
      std::make_unique<Connection<Stream>>(std::move(stream), std::move(ctx), std::move(slot), std::move(peer));
  spawn_logged(executor, serve_connection(std::move(connection)), std::move(log), std::move(what));
}

}  // namespace ironboot::http
