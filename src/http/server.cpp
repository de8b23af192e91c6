#include "http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <vector>

#include "common/log.hpp"
#include "http/session.hpp"

namespace ironboot::http {

namespace {
using tcp = asio::ip::tcp;

std::string format_peer(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  if (addr.is_v6() && !addr.to_v6().is_v4_mapped()) return "[" + addr.to_string() + "]:" + std::to_string(ep.port());
  return (addr.is_v6() ? asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6()).to_string() : addr.to_string()) +
         ":" + std::to_string(ep.port());
}
}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, const Router& router, ServerLimits limits)
      : io(io), acceptor(io), retry(io), ctx(std::make_shared<ServerContext>()) {
    ctx->router = &router;
    ctx->limits = limits;
    ctx->log = logger("http");
  }

  void accept() {
    acceptor.async_accept(io, [self = shared_from_this()](const beast::error_code& ec, tcp::socket socket) {
      self->on_accept(ec, std::move(socket));
    });
  }

  void on_accept(const beast::error_code& ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (ec) {
      // EMFILE and friends: back off briefly instead of spinning on the error.
      ctx->log->warn("accept failed error=\"{}\"", ec.message());
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([self = shared_from_this()](const beast::error_code& e) {
        if (!e && self->acceptor.is_open()) self->accept();
      });
      return;
    }
    beast::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored);
    if (ctx->sessions.size() >= ctx->limits.max_connections) {
      ctx->metrics.rejected->inc();
      ctx->log->debug("connection rejected reason=max_connections peer={}", format_peer(remote));
      socket.close(ignored);
    } else {
      socket.set_option(tcp::no_delay(true), ignored);
      ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &kUnsentLowWater, sizeof kUnsentLowWater);
      std::make_shared<Session<tcp::socket>>(std::move(socket), ctx, format_peer(remote))->start();
    }
    accept();
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;
  std::shared_ptr<ServerContext> ctx;
  std::uint16_t bound_port = 0;
};

HttpServer::HttpServer(asio::io_context& io, const Router& router, ServerLimits limits)
    : impl_(std::make_shared<Impl>(io, router, limits)) {}

HttpServer::~HttpServer() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
  impl_->retry.cancel();
}

std::string HttpServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return "http.listen: invalid address '" + host + "'";
  const tcp::endpoint endpoint(address, port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    a.close(ignored);
    return "http.listen " + host + ":" + std::to_string(port) + ": " + ec.message();
  }
  impl_->bound_port = a.local_endpoint(ec).port();
  impl_->ctx->draining = false;
  impl_->accept();
  return {};
}

bool HttpServer::listening() const { return impl_->acceptor.is_open(); }
std::uint16_t HttpServer::port() const { return impl_->bound_port; }
void HttpServer::set_limits(const ServerLimits& limits) { impl_->ctx->limits = limits; }

void HttpServer::stop() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
  impl_->retry.cancel();
  impl_->ctx->draining = true;
  // drain() never destroys a session synchronously (closing only cancels its operations).
  const std::vector<SessionBase*> sessions(impl_->ctx->sessions.begin(), impl_->ctx->sessions.end());
  for (auto* s : sessions) s->drain();
}

bool HttpServer::idle() const { return !impl_->acceptor.is_open() && impl_->ctx->sessions.empty(); }
std::size_t HttpServer::connections() const { return impl_->ctx->sessions.size(); }

}  // namespace ironboot::http
