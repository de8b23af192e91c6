#include "bmc/redfish_http.hpp"

#include "common/tls_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <optional>

namespace ironboot::bmc::redfish {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kAwait = net::as_tuple(net::use_awaitable);
constexpr std::uint32_t kMaxHeaderBytes = 32 * 1024;

std::string host_header(const BmcEndpoint& e) {
  const bool v6 = e.host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + e.host + "]" : e.host;
  const bool default_port = (e.tls && e.port == 443) || (!e.tls && e.port == 80);
  return default_port ? h : h + ":" + std::to_string(e.port);
}

BmcStatus io_failure(const boost::system::error_code& ec, const std::string& what) {
  if (ec == beast::error::timeout) return BmcStatus::failure("Timeout", what + ": no answer in time");
  if (ec == http::error::body_limit || ec == http::error::header_limit)
    return BmcStatus::failure("Protocol", what + ": response too large");
  if (ec.category() == boost::system::error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream)
    return BmcStatus::failure("Protocol", what + ": malformed HTTP response: " + ec.message());
  return BmcStatus::failure("Unreachable", what + ": " + ec.message());
}

}  // namespace

struct RedfishHttp::Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
  void close() {
    boost::system::error_code ignore;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ignore);
    lowest().close();
  }
};

RedfishHttp::RedfishHttp(net::io_context& io, const BmcEndpoint& endpoint, HttpLimits limits)
    : io_(io), endpoint_(endpoint), limits_(limits) {
  if (!endpoint_.tls) return;
  ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  setup_error_ = tls::configure_client(*ctx_, !endpoint_.insecure_skip_verify, endpoint_.ca_file);
}

RedfishHttp::~RedfishHttp() {
  if (conn_) conn_->close();
}

void RedfishHttp::disconnect() {
  if (conn_) conn_->close();
  conn_.reset();
}

net::awaitable<BmcStatus> RedfishHttp::connect() {
  const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
  auto conn = std::make_shared<Connection>();
  if (endpoint_.tls) conn->tls.emplace(io_, *ctx_);
  else conn->plain.emplace(io_);
  tcp::resolver resolver(io_);
  auto [rec, results] = co_await resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                                                        tcp::resolver::numeric_service, kAwait);
  if (rec) co_return BmcStatus::failure("Unreachable", "resolve " + endpoint_.host + ": " + rec.message());
  conn->lowest().expires_after(limits_.connect_timeout);
  auto [cec, ep] = co_await conn->lowest().async_connect(results, kAwait);
  if (cec) co_return io_failure(cec, "connect " + where);
  if (conn->tls) {
    SSL* ssl_handle = conn->tls->native_handle();
    tls::expect_peer(ssl_handle, endpoint_.host, !endpoint_.insecure_skip_verify);
    auto [hec] = co_await conn->tls->async_handshake(ssl::stream_base::client, kAwait);
    if (hec) {
      if (hec == beast::error::timeout) co_return BmcStatus::failure("Timeout", "TLS handshake with " + where + ": no answer in time");
      co_return BmcStatus::failure("TLS", "TLS handshake with " + where + ": " + tls::handshake_failure(ssl_handle, hec));
    }
  }
  conn_ = std::move(conn);
  co_return BmcStatus::success();
}

net::awaitable<HttpAnswer> RedfishHttp::request(http::verb method, std::string target, Headers headers,
                                                std::string body) {
  HttpAnswer answer;
  if (!setup_error_.empty()) {
    answer.transport = BmcStatus::failure("TLS", setup_error_);
    co_return answer;
  }
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, host_header(endpoint_));
  req.set(http::field::user_agent, "ironboot");
  req.set(http::field::accept, "application/json");
  req.set("OData-Version", "4.0");
  for (auto& [name, value] : headers) req.set(name, value);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = std::move(body);
  req.keep_alive(true);
  req.prepare_payload();
  const std::string what = std::string(http::to_string(method)) + " " + target;

  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = conn_ != nullptr;
    if (!conn_) {
      answer.transport = co_await connect();
      if (!answer.transport.ok()) co_return answer;
    }
    auto conn = conn_;  // kept alive across the awaits even if disconnect() runs meanwhile
    conn->lowest().expires_after(limits_.request_timeout);
    http::response_parser<http::string_body> parser;
    parser.body_limit(limits_.max_response_bytes);
    parser.header_limit(kMaxHeaderBytes);
    boost::system::error_code ec;
    bool written = false;
    if (conn->tls) {
      auto [wec, wn] = co_await http::async_write(*conn->tls, req, kAwait);
      ec = wec;
      written = !ec;
      if (!ec) std::tie(ec, wn) = co_await http::async_read(*conn->tls, conn->buffer, parser, kAwait);
    } else {
      auto [wec, wn] = co_await http::async_write(*conn->plain, req, kAwait);
      ec = wec;
      written = !ec;
      if (!ec) std::tie(ec, wn) = co_await http::async_read(*conn->plain, conn->buffer, parser, kAwait);
    }
    if (ec) {
      if (conn_ == conn) disconnect();
      // A kept-alive connection the BMC closed while idle: once more on a new one, unless
      // the request was a POST the BMC may have acted on (a Reset is not repeated).
      const bool stale = reused && ec != beast::error::timeout && ec != http::error::body_limit &&
                         ec != http::error::header_limit && (!written || method != http::verb::post);
      if (stale && attempt == 0) continue;
      answer.transport = io_failure(ec, what);
      co_return answer;
    }
    auto res = parser.release();
    answer.status = res.result_int();
    answer.body = std::move(res.body());
    if (auto it = res.find(http::field::etag); it != res.end()) answer.etag = std::string(it->value());
    if (auto it = res.find(http::field::location); it != res.end()) answer.location = std::string(it->value());
    if (auto it = res.find("X-Auth-Token"); it != res.end()) answer.auth_token = std::string(it->value());
    if (auto it = res.find(http::field::retry_after); it != res.end()) {
      const std::string_view v = it->value();
      if (!v.empty() && v.size() <= 6 && v.find_first_not_of("0123456789") == std::string_view::npos)
        answer.retry_after = std::chrono::seconds(std::stol(std::string(v)));
    }
    if (!res.keep_alive() && conn_ == conn) disconnect();
    co_return answer;
  }
  co_return answer;
}

}  // namespace ironboot::bmc::redfish
