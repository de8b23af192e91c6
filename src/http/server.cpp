#include "http/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/log.hpp"
#include "http/session.hpp"
#include "http/session_skeleton.hpp"

namespace ironboot::http {

namespace {
using tcp = asio::ip::tcp;
}  // namespace

struct HttpServer::Impl {
  Impl(asio::io_context& io, const Router& router, ServerLimits limits)
      : ctx(std::make_shared<ServerContext>()), listener(io, ctx->log) {
    ctx->router = &router;
    ctx->limits = limits;
  }

  void on_accept(tcp::socket socket) {
    beast::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored);
    if (ctx->sessions->size() >= ctx->limits.max_connections) {
      ctx->metrics.rejected->inc();
      ctx->log->debug("connection rejected reason=max_connections peer={}", format_peer(remote));
      socket.close(ignored);
      return;
    }
    std::string client = remote.address().to_string();
    if (ctx->sessions->count_for(client) >= ctx->limits.max_connections_per_client) {
      ctx->metrics.rejected_per_client->inc();
      ctx->log->debug("connection rejected reason=max_connections_per_client peer={}", format_peer(remote));
      socket.close(ignored);
      return;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    start_session(std::move(socket), ctx, format_peer(remote), std::move(client));
  }

  std::shared_ptr<ServerContext> ctx;
  Listener listener;
};

HttpServer::HttpServer(asio::io_context& io, const Router& router, ServerLimits limits)
    : impl_(std::make_shared<Impl>(io, router, limits)) {}

HttpServer::~HttpServer() { impl_->listener.close(); }

std::string HttpServer::listen(const std::string& host, std::uint16_t port) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return "http.listen: invalid address '" + host + "'";
  ec = impl_->listener.listen(tcp::endpoint(address, port));
  if (ec) return "http.listen " + host + ":" + std::to_string(port) + ": " + ec.message();
  impl_->ctx->draining = false;
  impl_->listener.start([weak = std::weak_ptr<Impl>(impl_)](tcp::socket socket) {
    if (auto self = weak.lock()) self->on_accept(std::move(socket));
  });
  return {};
}

bool HttpServer::listening() const { return impl_->listener.is_open(); }
std::uint16_t HttpServer::port() const { return impl_->listener.port(); }
void HttpServer::set_limits(const ServerLimits& limits) { impl_->ctx->limits = limits; }

void HttpServer::stop() {
  impl_->listener.close();
  impl_->ctx->draining = true;
  // Draining never ends a session synchronously (closing only cancels its operations).
  impl_->ctx->sessions->drain_all();
}

bool HttpServer::idle() const { return !impl_->listener.is_open() && impl_->ctx->sessions->empty(); }
std::size_t HttpServer::connections() const { return impl_->ctx->sessions->size(); }

}  // namespace ironboot::http
