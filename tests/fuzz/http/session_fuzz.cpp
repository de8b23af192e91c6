// libFuzzer target: the plain server's session (src/http/session.hpp) over Beast's in-memory
// stream, no sockets: request heads and bodies through the parser under the server's limits,
// the router's head guard, sync, async and abandoned handlers, file responses, keep-alive and
// drain. Input: one flags byte, then what the client sends.
//   flags bit 0: small limits (head 256 B, body 64 B) instead of the defaults
//   flags bit 1: drain the sessions once the first requests are answered
//   flags bit 2: the server reads at most 7 bytes per read (heads split across reads)
// Checked: the session ends and gives its slot back once the client goes away, and what it
// wrote begins with a status line and holds no more of them than the requests could cause.
// Corpus: tests/fuzz/corpus/http_session/.
#include <sys/mman.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/log.hpp"
#include "http/file_response.hpp"
#include "http/session.hpp"

namespace {

namespace http = ironboot::http;
namespace test = boost::beast::test;

// A 100 KB regular file, so that a full GET takes the chunked copy and a Range the one-write path.
int test_file() {
  static const int fd = [] {
    const int f = ::memfd_create("session_fuzz", 0);
    if (f < 0) __builtin_trap();
    const std::string content(100 * 1024, 'f');
    if (::write(f, content.data(), content.size()) != static_cast<ssize_t>(content.size())) __builtin_trap();
    return f;
  }();
  return fd;
}

http::Router make_router(boost::asio::io_context& io) {
  http::Router router;
  router.add("GET", "/hello", [](const http::Request& r) { return http::text_response(200, "hello " + r.query + "\n"); });
  router.add("POST", "/echo", [](const http::Request& r) { return http::text_response(200, r.body); });
  router.add_prefix("GET", "/assets/", [](const http::Request& r) {
    http::Opened o = http::adopt_regular_file(::dup(test_file()));
    if (o.status != 200) return http::text_response(404, "not found\n");
    return http::file_response(r, std::move(o.file), o.info, r.path);
  });
  router.add_async("GET", "/later", [&io](const http::Request&, http::Responder respond) {
    boost::asio::post(io, [respond] { respond(http::text_response(200, "late\n")); });
  });
  router.add_async("GET", "/abandon", [](const http::Request&, http::Responder) {});
  router.guard_prefix("/agent/", [](http::Request& head) -> std::optional<http::Response> {
    if (head.header("Authorization") != "Bearer good") return http::text_response(401, "unauthorized\n");
    return std::nullopt;
  });
  router.add("POST", "/agent/v1/register", [](const http::Request& r) {
    return http::text_response(200, std::to_string(r.body.size()) + "\n");
  });
  return router;
}

std::size_t count(std::string_view s, std::string_view what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string_view::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

void poll_until_idle(boost::asio::io_context& io) {
  for (int i = 0; i < 10000 && io.poll() > 0; ++i) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  const std::string_view sent(reinterpret_cast<const char*>(data + 1), size - 1);

  boost::asio::io_context io;
  const http::Router router = make_router(io);
  auto ctx = std::make_shared<http::ServerContext>();
  ctx->router = &router;
  static const auto log = ironboot::logger("http");
  ctx->log = log;
  if (flags & 1) {
    ctx->limits.max_header_bytes = 256;
    ctx->limits.max_body_bytes = 64;
  }
  test::stream server(io), client(io);
  server.connect(client);
  if (flags & 4) server.read_size(7);
  server.append(sent);
  http::start_session(std::move(server), ctx, "fuzz:1", "fuzz");
  poll_until_idle(io);
  if (flags & 2) {
    ctx->sessions->drain_all();
    poll_until_idle(io);
  }
  client.close();
  poll_until_idle(io);
  if (!ctx->sessions->empty()) __builtin_trap();  // a session outlived its client

  const std::string_view out = client.str();
  if (!out.empty() && out.substr(0, 9) != "HTTP/1.1 ") __builtin_trap();
  // Per request (each names its version "HTTP/1.x"): at most a "100 Continue", its response
  // and an echoed body holding what it sent; plus one answer to a request that was not one.
  if (count(out, "HTTP/1.1 ") > 3 * count(sent, "HTTP/1.") + 1) __builtin_trap();
  return 0;
}
