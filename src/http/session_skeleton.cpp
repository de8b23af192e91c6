#include "http/session_skeleton.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <exception>

#include "http/connections.hpp"

namespace ironboot::http {

using tcp = asio::ip::tcp;

std::string format_peer(const tcp::endpoint& endpoint) {
  const auto addr = endpoint.address();
  const std::string port = std::to_string(endpoint.port());
  if (addr.is_v6() && !addr.to_v6().is_v4_mapped()) return "[" + addr.to_string() + "]:" + port;
  if (addr.is_v6()) return asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).to_string() + ":" + port;
  return addr.to_string() + ":" + port;
}

void spawn_logged(const asio::any_io_executor& executor, asio::awaitable<void> coroutine,
                  std::shared_ptr<spdlog::logger> log, std::string what) {
  asio::co_spawn(executor, std::move(coroutine),
                 [log = std::move(log), what = std::move(what)](const std::exception_ptr& escaped) {
                   if (!escaped) return;
                   try {
                     std::rethrow_exception(escaped);
                   } catch (const std::exception& e) {
                     log->error("{} ended by an exception error=\"{}\"", what, e.what());
                   } catch (...) {
                     log->error("{} ended by an exception error=\"(not a std::exception)\"", what);
                   }
                 });
}

// --- Deadline ---

// Shared with the timer's handler, which may run after the Deadline is gone.
struct Deadline::State {
  explicit State(const asio::any_io_executor& executor, Expired e) : timer(executor), expired(std::move(e)) {}
  asio::steady_timer timer;
  Expired expired;  // empty once the Deadline is destroyed
  Clock::time_point deadline = Clock::time_point::max();
  const char* phase = "";
  int waits = 0;  // expires_at cancels an older wait; only the last one to finish acts
  bool fired = false;

  static void wait(const std::shared_ptr<State>& self) {
    ++self->waits;
    self->timer.expires_at(self->deadline);
    self->timer.async_wait([self](const beast::error_code&) { on_timer(self); });
  }

  static void on_timer(const std::shared_ptr<State>& self) {
    if (--self->waits > 0) return;
    if (!self->expired || self->deadline == Clock::time_point::max()) return;
    if (Clock::now() < self->deadline) return wait(self);
    self->fired = true;
    self->deadline = Clock::time_point::max();
    const Expired expired = self->expired;  // the callback may destroy the Deadline
    expired(self->phase);
  }
};

Deadline::Deadline(const asio::any_io_executor& executor, Expired expired)
    : state_(std::make_shared<State>(executor, std::move(expired))) {}

Deadline::~Deadline() {
  state_->expired = nullptr;
  state_->deadline = Clock::time_point::max();
  state_->timer.cancel();
}

void Deadline::arm_at(Clock::time_point when, const char* phase) {
  state_->deadline = when;
  state_->phase = phase;
  if (state_->waits == 0 || when < state_->timer.expiry()) State::wait(state_);
}

void Deadline::disarm() { state_->deadline = Clock::time_point::max(); }

bool Deadline::expired() const { return state_->fired; }

// --- Listener ---

struct Listener::State {
  State(asio::io_context& io, std::shared_ptr<spdlog::logger> l) : acceptor(io), retry(io), log(std::move(l)) {}
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  std::shared_ptr<spdlog::logger> log;
  OnAccept on_accept;
  std::uint16_t port = 0;

  static asio::awaitable<void> accept_loop(std::shared_ptr<State> self) {
    AcceptBackoff backoff;
    while (self->acceptor.is_open()) {
      auto [ec, socket] = co_await self->acceptor.async_accept(kAwaitable);
      if (!self->acceptor.is_open()) co_return;  // closed meanwhile: drop what came in
      if (ec) {
        const auto delay = backoff.failed();
        self->log->warn("accept failed error=\"{}\" retry_ms={}", ec.message(), delay.count());
        self->retry.expires_after(delay);
        co_await self->retry.async_wait(kAwaitable);
        continue;
      }
      backoff.succeeded();
      self->on_accept(std::move(socket));
    }
  }
};

Listener::Listener(asio::io_context& io, std::shared_ptr<spdlog::logger> log)
    : state_(std::make_shared<State>(io, std::move(log))) {}

Listener::~Listener() { close(); }

beast::error_code Listener::listen(const tcp::endpoint& endpoint) {
  beast::error_code ec;
  auto& a = state_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    a.close(ignored);
    return ec;
  }
  state_->port = a.local_endpoint(ec).port();
  return {};
}

void Listener::start(OnAccept on_accept) {
  state_->on_accept = std::move(on_accept);
  spawn_logged(state_->acceptor.get_executor(), State::accept_loop(state_), state_->log, "accept loop");
}

void Listener::close() {
  beast::error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry.cancel();
}

bool Listener::is_open() const { return state_->acceptor.is_open(); }
std::uint16_t Listener::port() const { return state_->port; }

}  // namespace ironboot::http
