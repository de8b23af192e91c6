// Sessions over Beast's in-memory stream: keep-alive, pipelining, limits, timeouts,
// injected I/O failures, drain, and a handler that throws.
#include <gtest/gtest.h>
#include <unistd.h>

#include <spdlog/sinks/ringbuffer_sink.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <cstdio>
#include <fcntl.h>
#include <functional>
#include <stdexcept>

#include "http/session.hpp"

namespace ironboot::http {
namespace {

namespace test = boost::beast::test;

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() : server_(io_), client_(io_) {
    ctx_ = std::make_shared<ServerContext>();
    ctx_->router = &router_;
    ctx_->log = logger("http");
    ctx_->limits.max_header_bytes = 1024;
    ctx_->limits.max_body_bytes = 100;
    router_.add("GET", "/hello", [](const Request& r) { return text_response(200, "hello " + r.query + "\n"); });
    router_.add("POST", "/echo", [](const Request& r) { return text_response(200, r.body); });
    router_.add_async("GET", "/later", [this](const Request&, Responder respond) {
      boost::asio::post(io_, [respond] { respond(text_response(200, "late\n")); });
    });
    server_.connect(client_);
  }

  void start(test::stream stream) {
    start_session(std::move(stream), ctx_, "test:1", "test");
  }
  void start() { start(std::move(server_)); }
  void pump() {
    for (int i = 0; i < 200; ++i) io_.poll();
  }
  std::string output() { return std::string(client_.str()); }

  boost::asio::io_context io_;
  Router router_;
  std::shared_ptr<ServerContext> ctx_;
  test::stream server_;
  test::stream client_;
};

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST_F(SessionTest, KeepAliveAndPipelining) {
  server_.append(
      "GET /hello?a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello?b HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /later HTTP/1.1\r\nHost: x\r\n\r\n"
      "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  start();
  pump();
  const std::string out = output();
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK\r\n"), 4) << out;
  const auto a = out.find("hello a\n"), b = out.find("hello b\n"), late = out.find("late\n");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, late);
  // HEAD: the length of the GET body, no body.
  EXPECT_TRUE(out.size() > 4 && out.substr(out.size() - 4) == "\r\n\r\n") << out;
  EXPECT_EQ(out.find("Connection: close"), std::string::npos);
  EXPECT_EQ(ctx_->sessions->size(), 1u);  // still open, waiting for the next request
}

TEST_F(SessionTest, ConnectionCloseAndHttp10) {
  server_.append("GET /hello HTTP/1.0\r\n\r\n");
  start();
  pump();
  EXPECT_NE(output().find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(ctx_->sessions->empty());
}

TEST_F(SessionTest, Errors) {
  struct Case {
    std::string request;
    std::string status;
  };
  const std::vector<Case> cases = {
      {"GET /hello HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", "431"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'b'), "413"},
      {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n" + std::string(128, 'c') +
           "\r\n0\r\n\r\n",
       "413"},
      {"BLAH\r\n\r\n", "400"},
      {"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n", "400"},
      {"GET http://x/hello HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
      {"PUT /hello HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
      {"GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "404"},
  };
  for (const auto& c : cases) {
    boost::asio::io_context io;
    test::stream server(io), client(io);
    server.connect(client);
    server.append(c.request);
    start_session(std::move(server), ctx_, "test:2", "test");
    for (int i = 0; i < 200; ++i) io.poll();
    const std::string out(client.str());
    EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 " + c.status) << c.request.substr(0, 60) << "\n" << out;
  }
}

TEST_F(SessionTest, BodyAndExpectContinue) {
  server_.append("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  start();
  pump();
  EXPECT_EQ(output(), "HTTP/1.1 100 Continue\r\n\r\n");
  client_.clear();
  boost::asio::write(client_, boost::asio::buffer(std::string("abcde")));
  pump();
  EXPECT_NE(output().find("\r\n\r\nabcde"), std::string::npos) << output();
}

TEST_F(SessionTest, HeaderTimeoutClosesSlowClient) {
  ctx_->limits.header_timeout = std::chrono::milliseconds(50);
  server_.append("GET /hello HTTP/1.1\r\nHost: x\r\n");  // never finished
  const auto before = ctx_->metrics.timeouts->value();
  start();
  io_.run_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(ctx_->sessions->empty());
  EXPECT_EQ(output(), "");
  EXPECT_EQ(ctx_->metrics.timeouts->value(), before + 1);
}

// The body read is under the request's deadline as well: a client that sends its head at
// once and then its body a byte every 20 ms, slower than the 100 ms allowed, is cut off
// although it never stops sending.
TEST_F(SessionTest, BodyTimeoutClosesSlowBody) {
  ctx_->limits.header_timeout = std::chrono::milliseconds(100);
  server_.append("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n");
  const auto before = ctx_->metrics.timeouts->value();
  start();
  boost::asio::steady_timer drip(io_);
  int sent = 0;
  std::function<void()> send_next = [&] {
    drip.expires_after(std::chrono::milliseconds(20));
    drip.async_wait([&](const boost::system::error_code& ec) {
      if (ec || sent == 20) return;
      boost::system::error_code wec;
      boost::asio::write(client_, boost::asio::buffer("b", 1), wec);
      if (wec) return;  // the server closed the connection
      ++sent;
      send_next();
    });
  };
  send_next();
  io_.run_for(std::chrono::milliseconds(800));
  EXPECT_TRUE(ctx_->sessions->empty());
  EXPECT_EQ(output(), "");  // never answered: the body did not arrive in time
  EXPECT_LT(sent, 20);
  EXPECT_EQ(ctx_->metrics.timeouts->value(), before + 1);
}

TEST_F(SessionTest, IdleTimeoutClosesKeepAlive) {
  ctx_->limits.idle_timeout = std::chrono::milliseconds(50);
  server_.append("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  start();
  io_.run_for(std::chrono::milliseconds(300));
  EXPECT_NE(output().find("200 OK"), std::string::npos);
  EXPECT_TRUE(ctx_->sessions->empty());
}

// A new connection that sends nothing holds its slot only for first_byte_timeout, however
// long the keep-alive idle timeout is.
TEST_F(SessionTest, FirstByteTimeoutClosesSilentConnection) {
  ctx_->limits.first_byte_timeout = std::chrono::milliseconds(50);
  ctx_->limits.idle_timeout = std::chrono::seconds(30);
  const auto before = ctx_->metrics.timeouts->value();
  start();
  io_.run_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(ctx_->sessions->empty());
  EXPECT_EQ(ctx_->metrics.timeouts->value(), before + 1);
}

// The router's head guard answers before the body is read: the client that announced a body
// and never sends it gets its 401 at once, and the connection closes (its body is unread).
TEST_F(SessionTest, HeadGuardRefusesBeforeTheBody) {
  int handled = 0;
  router_.add("POST", "/agent/v1/register", [&](const Request&) {
    ++handled;
    return text_response(200, "registered\n");
  });
  router_.guard_prefix("/agent/", [](const Request& head) -> std::optional<Response> {
    EXPECT_TRUE(head.body.empty());
    if (head.header("Authorization") == "Bearer good") return std::nullopt;
    return text_response(401, "missing bearer token\n");
  });
  server_.append("POST /agent/v1/register HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n");
  start();
  pump();
  const std::string out = output();
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 401") << out;
  EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
  EXPECT_EQ(handled, 0);

  boost::asio::io_context io;
  test::stream server(io), client(io);
  server.connect(client);
  server.append("POST /agent/v1/register HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n"
                "Content-Length: 2\r\n\r\n{}");
  start_session(std::move(server), ctx_, "test:6", "test");
  for (int i = 0; i < 200; ++i) io.poll();
  EXPECT_NE(std::string(client.str()).find("registered"), std::string::npos);
  EXPECT_EQ(handled, 1);
}

TEST_F(SessionTest, DrainClosesIdleAndFinishesInFlight) {
  server_.append("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  start();
  pump();
  ASSERT_EQ(ctx_->sessions->size(), 1u);
  ctx_->sessions->drain_all();
  pump();
  EXPECT_TRUE(ctx_->sessions->empty());

  // A request being handled is answered, with Connection: close, then the session ends.
  boost::asio::io_context io;
  test::stream server(io), client(io);
  server.connect(client);
  server.append("GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
  Router slow;
  Responder pending;
  slow.add_async("GET", "/later", [&](const Request&, Responder r) { pending = std::move(r); });
  ctx_->router = &slow;
  start_session(std::move(server), ctx_, "test:3", "test");
  for (int i = 0; i < 50; ++i) io.poll();
  ASSERT_TRUE(pending);
  ctx_->draining = true;
  ctx_->sessions->drain_all();
  EXPECT_EQ(ctx_->sessions->size(), 1u);
  pending(text_response(200, "done\n"));
  for (int i = 0; i < 50; ++i) io.poll();
  const std::string out(client.str());
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("done\n"), std::string::npos);
  EXPECT_TRUE(ctx_->sessions->empty());
}

TEST_F(SessionTest, FileBodyWithoutSendfile) {
  char path[] = "/tmp/ipxe-session-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string data(200 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::close(fd);
  router_.add("GET", "/file", [&](const Request&) {
    Response r;
    r.file = FileSlice{std::make_shared<OpenFile>(::open(path, O_RDONLY)), 10, data.size() - 10};
    return r;
  });
  server_.append("GET /file HTTP/1.1\r\nHost: x\r\n\r\n");
  start();
  pump();
  ::unlink(path);
  const std::string out = output();
  const auto body = out.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_NE(out.find("Content-Length: " + std::to_string(data.size() - 10)), std::string::npos);
  EXPECT_EQ(out.substr(body + 4), data.substr(10));
}

// Fail the n-th I/O operation for every n until a run completes without a failure: the
// session must always end cleanly (no crash, no leak, no response after a failed write).
TEST_F(SessionTest, InjectedFailures) {
  for (std::size_t n = 0; n < 20; ++n) {
    boost::asio::io_context io;
    test::fail_count fc(n);
    test::stream server(io, fc), client(io);
    server.connect(client);
    server.append("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    start_session(std::move(server), ctx_, "test:4", "test");
    io.run_for(std::chrono::milliseconds(20));
    client.close();
    io.run_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(ctx_->sessions->empty()) << "fail at " << n;
  }
}

// An exception escaping a handler ends that connection only: it is logged on the server's
// logger, the connection's slot (and the connections gauge) is given back, and io_context
// keeps running.
TEST_F(SessionTest, HandlerExceptionIsLoggedAndReleasesTheSlot) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(8);
  ctx_->log = std::make_shared<spdlog::logger>("http-session-test", sink);
  router_.add("GET", "/throws", [](const Request&) -> Response { throw std::runtime_error("handler broke"); });
  const double open_before = ctx_->metrics.connections->value();
  server_.append("GET /throws HTTP/1.1\r\nHost: x\r\n\r\n");
  start();
  EXPECT_EQ(ctx_->sessions->size(), 1u);
  EXPECT_EQ(ctx_->metrics.connections->value(), open_before + 1);
  EXPECT_NO_THROW(pump());
  EXPECT_TRUE(ctx_->sessions->empty());
  EXPECT_EQ(ctx_->metrics.connections->value(), open_before);
  EXPECT_EQ(output(), "");
  const auto lines = sink->last_formatted();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("session peer=test:1 ended by an exception error=\"handler broke\""), std::string::npos)
      << lines[0];

  // The next connection is served as usual.
  boost::asio::io_context io;
  test::stream server(io), client(io);
  server.connect(client);
  server.append("GET /hello?x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  start_session(std::move(server), ctx_, "test:5", "test");
  for (int i = 0; i < 50; ++i) io.poll();
  EXPECT_NE(std::string(client.str()).find("hello x\n"), std::string::npos);
  EXPECT_TRUE(ctx_->sessions->empty());
}

TEST(SerializeHead, DropsInjectedHeaders) {
  Response r = text_response(200, "x");
  r.headers.push_back({"X-Bad", "a\r\nSet-Cookie: evil"});
  r.headers.push_back({"Content-Length", "999"});
  const std::string h = serialize_head(r, true, false, true, "D");
  EXPECT_EQ(h.find("evil"), std::string::npos);
  EXPECT_EQ(h.find("999"), std::string::npos);
  EXPECT_NE(h.find("Content-Length: 1\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ironboot::http
