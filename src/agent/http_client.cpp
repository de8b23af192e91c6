#include "agent/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace ironboot::agent {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

BeastHttpClient::BeastHttpClient(Endpoint endpoint, std::size_t max_response_bytes)
    : endpoint_(std::move(endpoint)), max_response_bytes_(max_response_bytes) {}

HttpResult BeastHttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                                    const std::string& bearer, std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint_.host, ec);
  if (ec) return {std::nullopt, "bad endpoint address " + endpoint_.host};
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  http::request<http::string_body> req;
  req.method(http::string_to_verb(method));
  req.target(endpoint_.base_path + target);
  req.version(11);
  std::string host = address.is_v6() ? "[" + endpoint_.host + "]" : endpoint_.host;
  req.set(http::field::host, host + ":" + std::to_string(endpoint_.port));
  req.set(http::field::user_agent, "ironboot-agent");
  req.set(http::field::connection, "close");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (method != "GET") {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_response_bytes_);
  parser.header_limit(64 * 1024);
  std::string error;
  bool done = false;

  // One deadline for the whole exchange: tcp_stream applies it to every async step.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto remaining = [&] {
    return std::max(std::chrono::milliseconds(1), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      deadline - std::chrono::steady_clock::now()));
  };
  stream.expires_after(remaining());
  stream.async_connect(asio::ip::tcp::endpoint(address, endpoint_.port), [&](boost::system::error_code e) {
    if (e) {
      error = "connect: " + e.message();
      return;
    }
    stream.expires_after(remaining());
    http::async_write(stream, req, [&](boost::system::error_code e, std::size_t) {
      if (e) {
        error = "write: " + e.message();
        return;
      }
      stream.expires_after(remaining());
      http::async_read(stream, buffer, parser, [&](boost::system::error_code e, std::size_t) {
        if (e) {
          error = "read: " + e.message();
          return;
        }
        done = true;
      });
    });
  });
  ioc.run();
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  if (!done) return {std::nullopt, error.empty() ? "no answer" : error};
  auto& res = parser.get();
  std::string session(res["Ironboot-Session"]);
  if (session.size() > 1024) session.clear();
  return {HttpResponse{static_cast<int>(res.result_int()), std::move(res.body()), std::move(session)}, ""};
}

}  // namespace ironboot::agent
