// The one skeleton of ironboot's HTTP servers, the plain one (http/session.hpp) and the
// embedded API's TLS one (kube/api_server.cpp), shaped like Boost.Beast's awaitable examples:
//   - a Listener whose accept loop backs off on errors (AcceptBackoff) instead of spinning;
//   - each connection a coroutine started with spawn_logged, whose completion handler logs an
//     exception that escaped it on the server's logger;
//   - a ConnectionRegistry::Slot held by the connection for its whole life (connections.hpp);
//   - one Deadline per connection, armed before every read and write: read_request puts the
//     wait for a request's first byte, its head and its body each under one.
// Errors are values (as_tuple), never exceptions: a peer going away is not exceptional.
// Every co_await stands alone in its statement (`auto r = co_await ...; if (r) ...`): GCC 12
// miscompiles some co_await expressions inside conditions.
//
// Internal header: includes Beast. Servers include it in their .cpp files and unit tests.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/system/errc.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "common/text.hpp"

namespace spdlog {
class logger;
}

namespace ironboot::http {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Completion token of every operation in the skeleton: (error_code, results...) tuples.
inline constexpr auto kAwaitable = asio::as_tuple(asio::use_awaitable);

// "10.0.0.5:49152" (IPv4-mapped IPv6 addresses as IPv4), "[fd00::5]:49152"; for logs.
std::string format_peer(const asio::ip::tcp::endpoint& endpoint);

// Runs `coroutine` on `executor`. An exception escaping it is logged on `log` as
// "<what> ended by an exception error=..." instead of leaving io_context::run(); by then its
// frame has unwound, so the Slot, stream and Deadline it held have been released.
void spawn_logged(const asio::any_io_executor& executor, asio::awaitable<void> coroutine,
                  std::shared_ptr<spdlog::logger> log, std::string what);

// The deadline of one connection: one timer, re-armed lazily (moving a deadline later costs
// nothing; only an earlier one restarts the wait). When it passes with the deadline still
// armed, `expired(phase)` runs on the executor; it must close the stream, which makes the
// operation under the deadline fail. Destroying the Deadline drops the callback, so the
// callback may refer to whatever owns the Deadline.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  using Expired = std::function<void(const char* phase)>;

  Deadline(const asio::any_io_executor& executor, Expired expired);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // `phase` names what is waited for, for logs ("idle", "request", "response", ...); a
  // string literal, it is kept as a pointer.
  void arm(Clock::duration timeout, const char* phase) { arm_at(Clock::now() + timeout, phase); }
  void arm_at(Clock::time_point when, const char* phase);
  void disarm();
  // True once the callback ran.
  bool expired() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Closes the transport under `stream` (a TCP socket, shut down first; a TLS stream's socket;
// Beast's test stream), which fails the operations pending on it. No error is reported.
template <class Stream>
void close_stream(Stream& stream) {
  auto& lowest = beast::get_lowest_layer(stream);
  if constexpr (std::is_same_v<std::decay_t<decltype(lowest)>, asio::ip::tcp::socket>) {
    beast::error_code ignored;
    lowest.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    lowest.close(ignored);
  } else {
    lowest.close();
  }
}

struct RequestTimeouts {
  Deadline::Clock::duration idle;     // for the first byte of a request
  Deadline::Clock::duration request;  // from the first byte to the end of the body
};

// Where read_request is, for a server that closes idle connections at once when draining.
enum class ReadStage { waiting, request };

// Reads one request into `parser`: the first byte under timeouts.idle (skipped when
// `buffer` already holds pipelined bytes), then the head and the body under one deadline
// timeouts.request after that first byte, re-armed for the body read so that it holds
// whatever ran in between. With `answer_100_continue` an "Expect: 100-continue" request is
// sent "100 Continue" before its body is read. The parser's own limits apply.
// The head check a server without one passes: every head is read on.
struct AcceptAnyHead {
  template <class Header>
  bool operator()(const Header&) const { return true; }
};

// `check(parser.get())` runs once the head is in: false stops there, before any body byte is
// read, and read_request returns errc::permission_denied (the caller has its refusal).
template <class Stream, class Parser, class HeadCheck = AcceptAnyHead>
asio::awaitable<beast::error_code> read_request(Stream& stream, beast::flat_buffer& buffer, Parser& parser,
                                                Deadline& deadline, RequestTimeouts timeouts,
                                                bool answer_100_continue, ReadStage* stage = nullptr,
                                                HeadCheck check = {}) {
  if (buffer.size() == 0) {
    if (stage != nullptr) *stage = ReadStage::waiting;
    deadline.arm(timeouts.idle, "idle");
    auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kAwaitable);
    buffer.commit(n);
    if (ec) co_return ec;
  }
  if (stage != nullptr) *stage = ReadStage::request;
  const auto until = Deadline::Clock::now() + timeouts.request;
  deadline.arm_at(until, "request");
  {
    auto [ec, n] = co_await beast::http::async_read_header(stream, buffer, parser, kAwaitable);
    if (ec) co_return ec;
  }
  if (!check(parser.get())) co_return make_error_code(boost::system::errc::permission_denied);
  if (parser.is_done()) co_return beast::error_code{};
  if (answer_100_continue && iequals(parser.get()[beast::http::field::expect], "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()), kAwaitable);
    if (ec) co_return ec;
  }
  deadline.arm_at(until, "request");
  auto [ec, n] = co_await beast::http::async_read(stream, buffer, parser, kAwaitable);
  co_return ec;
}

// Writes `buffers` whole, under `timeout`. (Buffers by value: a coroutine must not hold a
// reference to a caller's temporary.)
template <class Stream, class Buffers>
asio::awaitable<beast::error_code> write_all(Stream& stream, Buffers buffers, Deadline& deadline,
                                             Deadline::Clock::duration timeout) {
  deadline.arm(timeout, "response");
  auto [ec, n] = co_await asio::async_write(stream, buffers, kAwaitable);
  co_return ec;
}

// A listening TCP socket and its accept loop. Accept errors (EMFILE and the like) are
// logged and retried after AcceptBackoff's delay.
class Listener {
 public:
  using OnAccept = std::function<void(asio::ip::tcp::socket)>;

  Listener(asio::io_context& io, std::shared_ptr<spdlog::logger> log);
  ~Listener();  // close()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Opens, binds (SO_REUSEADDR) and listens; closed again on failure.
  beast::error_code listen(const asio::ip::tcp::endpoint& endpoint);
  // Starts the accept loop: `on_accept` gets each connection until close(). It runs on the
  // io_context and must not throw.
  void start(OnAccept on_accept);
  // Stops accepting; the loop ends without calling `on_accept` again.
  void close();
  bool is_open() const;
  std::uint16_t port() const;  // the bound port (useful with port 0), kept after close()

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace ironboot::http
