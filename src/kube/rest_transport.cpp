// HTTPS Transport to a Kubernetes API server (Beast + Asio SSL, C++20 coroutines).
// Verifies the server certificate against the CA and the host (or tls-server-name) SAN,
// pools keep-alive connections, refreshes bearer tokens (token file every minute, exec
// plugins at expiry, both after a 401), and reads watch streams chunk by chunk.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <deque>
#include <stdexcept>

#include "common/text.hpp"
#include "common/base64.hpp"
#include "common/log.hpp"
#include "kube/client.hpp"
#include "kube/exec_plugin.hpp"
#include "kube/kubeconfig.hpp"

namespace ironboot::kube {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr auto kAwait = net::as_tuple(net::use_awaitable);
constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kRequestTimeout = std::chrono::seconds(30);
constexpr auto kTokenFileRefresh = std::chrono::seconds(60);
constexpr auto kExecTimeout = std::chrono::seconds(30);
// Requests share at most this many connections (watches have their own). Unbounded, a burst
// of writes (a boot storm queues one per Server) opened a TLS connection per request and
// closed all but a few after it: 850 handshakes in a 1,000-machine storm, both ends of each
// in this process in embedded mode. Requests beyond it wait for a free connection.
constexpr std::size_t kMaxConnections = 64;
constexpr std::size_t kMaxBody = 512 * 1024 * 1024;

bool is_ip(const std::string& host) {
  boost::system::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

class RestStream : public StreamHandle {
 public:
  void cancel() override {
    cancelled = true;
    if (auto s = stream.lock()) beast::get_lowest_layer(*s).close();
  }
  std::weak_ptr<Stream> stream;
  bool cancelled = false;
};

class RestTransport : public Transport, public std::enable_shared_from_this<RestTransport> {
 public:
  RestTransport(net::io_context& io, ClusterCredentials creds) : io_(io), creds_(std::move(creds)) {
    server_name_ = creds_.tls_server_name.empty() ? creds_.host : creds_.tls_server_name;
    build_context();
  }

  void send(HttpRequest request, std::function<void(HttpReply)> done) override {
    net::co_spawn(io_, do_send(shared_from_this(), std::move(request), std::move(done)), net::detached);
  }

  std::shared_ptr<StreamHandle> stream(HttpRequest request, std::function<void(std::string_view)> on_line,
                                       std::function<void(HttpReply)> on_end) override {
    auto handle = std::make_shared<RestStream>();
    net::co_spawn(io_, do_stream(shared_from_this(), std::move(request), handle, std::move(on_line), std::move(on_end)),
                  net::detached);
    return handle;
  }

 private:
  void build_context() {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (creds_.insecure_skip_verify) {
      ctx->set_verify_mode(ssl::verify_none);
    } else {
      ctx->set_verify_mode(ssl::verify_peer);
      if (creds_.ca_pem.empty()) ctx->set_default_verify_paths();
      else ctx->add_certificate_authority(net::buffer(creds_.ca_pem));
      ctx->set_verify_callback(ssl::host_name_verification(server_name_));
    }
    const std::string& cert = !exec_cert_.empty() ? exec_cert_ : creds_.client_cert_pem;
    const std::string& key = !exec_key_.empty() ? exec_key_ : creds_.client_key_pem;
    if (!cert.empty() && !key.empty()) {
      ctx->use_certificate_chain(net::buffer(cert));
      ctx->use_private_key(net::buffer(key), ssl::context::pem);
    }
    ctx_ = std::move(ctx);
    idle_.clear();  // connections made with the old credentials
  }

  // Runs the exec credential plugin when there is none yet, it expired, or `force` (a 401):
  // as a child process on the loop (exec_plugin.hpp), one run at a time, the other requests
  // waiting for it. Before a connection is taken: a new client certificate means a new
  // TLS context.
  static net::awaitable<void> refresh_exec(std::shared_ptr<RestTransport> self, bool force) {
    if (!self->creds_.exec) co_return;
    const bool expired =
        self->exec_expiry_ && *self->exec_expiry_ - std::chrono::seconds(1) <= std::chrono::system_clock::now();
    if (!force && self->exec_ran_ && !expired) co_return;
    if (!self->exec_running_) {
      self->exec_running_ = true;
      run_exec_plugin_async(self->io_, *self->creds_.exec, kExecTimeout,
                            [self](std::optional<ExecCredential> cred, std::string err) {
                              self->on_exec_result(std::move(cred), err);
                            });
    }
    auto waiter = std::make_shared<net::steady_timer>(self->io_, net::steady_timer::time_point::max());
    self->exec_waiters_.push_back(waiter);
    co_await waiter->async_wait(kAwait);
  }

  void on_exec_result(std::optional<ExecCredential> cred, const std::string& err) {
    exec_running_ = false;
    exec_ran_ = true;
    if (!cred) {
      logger("kube")->warn("exec credential plugin failed command={} error=\"{}\"", creds_.exec->command, err);
    } else {
      exec_token_ = cred->token;
      exec_expiry_ = cred->expiry;
      if (cred->client_cert_pem != exec_cert_ || cred->client_key_pem != exec_key_) {
        exec_cert_ = cred->client_cert_pem;
        exec_key_ = cred->client_key_pem;
        build_context();
      }
    }
    for (auto& w : exec_waiters_) w->cancel();
    exec_waiters_.clear();
  }

  // The Authorization header value for the next request ("" = none). The exec credential
  // comes from refresh_exec(), awaited before.
  std::string authorization(bool force_refresh) {
    const auto now = std::chrono::steady_clock::now();
    if (creds_.exec) {
      if (!exec_token_.empty()) return "Bearer " + exec_token_;
    }
    if (!creds_.token_file.empty() && (force_refresh || now - token_read_at_ >= kTokenFileRefresh || file_token_.empty())) {
      std::string t = read_text_file(creds_.token_file);
      t = std::string(trim(t));  // as client-go's strings.TrimSpace
      if (!t.empty()) file_token_ = t;
      token_read_at_ = now;
    }
    if (!file_token_.empty()) return "Bearer " + file_token_;
    if (!creds_.token.empty()) return "Bearer " + creds_.token;
    if (!creds_.username.empty()) return "Basic " + base64_encode(creds_.username + ":" + creds_.password);
    return {};
  }

  // A connection for one request: an idle one (`reused`), a new one while fewer than
  // kMaxConnections are open, or the next one given back, waiting at most kRequestTimeout.
  // On true the caller holds one of the open connections until its ConnectionLease ends.
  static net::awaitable<bool> take_connection(std::shared_ptr<RestTransport> self, std::shared_ptr<Stream>& stream,
                                              bool& reused, std::string& error) {
    const auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
    while (true) {
      if (!self->idle_.empty()) {
        stream = self->idle_.back();
        self->idle_.pop_back();
        ++self->busy_;
        reused = true;
        co_return true;
      }
      if (self->busy_ < kMaxConnections) {
        ++self->busy_;
        stream = co_await connect(self, error);
        if (stream) co_return true;
        --self->busy_;
        self->wake_one();
        co_return false;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        error = "request to " + self->creds_.server + ": no free connection within " +
                std::to_string(kRequestTimeout.count()) + " s";
        co_return false;
      }
      auto waiter = std::make_shared<net::steady_timer>(self->io_, deadline);
      self->connection_waiters_.push_back(waiter);
      co_await waiter->async_wait(kAwait);
    }
  }

  // Gives a taken connection back: kept for the next request, or closed, and the next
  // waiting request woken either way.
  struct ConnectionLease {
    std::shared_ptr<RestTransport> self;
    std::shared_ptr<Stream> kept;
    explicit ConnectionLease(std::shared_ptr<RestTransport> owner) : self(std::move(owner)) {}
    void keep(std::shared_ptr<Stream> stream) { kept = std::move(stream); }
    ConnectionLease(const ConnectionLease&) = delete;
    ConnectionLease& operator=(const ConnectionLease&) = delete;
    ~ConnectionLease() {
      --self->busy_;
      if (kept) self->idle_.push_back(std::move(kept));
      self->wake_one();
    }
  };

  void wake_one() {
    while (!connection_waiters_.empty()) {
      auto waiter = std::move(connection_waiters_.front());
      connection_waiters_.pop_front();
      if (waiter->cancel() > 0) return;  // one whose wait had not ended yet
    }
  }

  static net::awaitable<std::shared_ptr<Stream>> connect(std::shared_ptr<RestTransport> self, std::string& error) {
    auto stream = std::make_shared<Stream>(self->io_, *self->ctx_);
    tcp::resolver resolver(self->io_);
    auto [rec, results] = co_await resolver.async_resolve(self->creds_.host, self->creds_.port, kAwait);
    if (rec) {
      error = "resolve " + self->creds_.host + ": " + rec.message();
      co_return nullptr;
    }
    beast::get_lowest_layer(*stream).expires_after(kConnectTimeout);
    auto [cec, ep] = co_await beast::get_lowest_layer(*stream).async_connect(results, kAwait);
    if (cec) {
      error = "connect " + self->creds_.server + ": " + cec.message();
      co_return nullptr;
    }
    if (!is_ip(self->server_name_)) SSL_set_tlsext_host_name(stream->native_handle(), self->server_name_.c_str());
    auto [hec] = co_await stream->async_handshake(ssl::stream_base::client, kAwait);
    if (hec) {
      error = "tls handshake with " + self->creds_.server + ": " + hec.message();
      co_return nullptr;
    }
    co_return stream;
  }

  http::request<http::string_body> build(const HttpRequest& r, const std::string& auth) const {
    http::request<http::string_body> req{http::string_to_verb(r.method), r.target, 11};
    req.set(http::field::host, creds_.host + ":" + creds_.port);
    req.set(http::field::user_agent, "ironboot");
    req.set(http::field::accept, r.accept);
    if (!auth.empty()) req.set(http::field::authorization, auth);
    if (!r.content_type.empty()) req.set(http::field::content_type, r.content_type);
    req.body() = r.body;
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  static HttpReply reply_of(const http::response<http::string_body>& res) {
    HttpReply reply;
    reply.status = res.result_int();
    reply.body = res.body();
    if (auto it = res.find(http::field::retry_after); it != res.end()) {
      try {
        reply.retry_after = std::chrono::seconds(std::stoul(std::string(it->value())));
      } catch (...) {
      }
    }
    return reply;
  }

  static net::awaitable<void> do_send(std::shared_ptr<RestTransport> self, HttpRequest request, std::function<void(HttpReply)> done) {
    HttpReply reply;
    bool refreshed = false;
    for (int attempt = 0; attempt < 3; ++attempt) {
      co_await refresh_exec(self, false);
      std::shared_ptr<Stream> stream;
      bool reused = false;
      std::string err;
      const bool got = co_await take_connection(self, stream, reused, err);
      if (!got) {
        reply = HttpReply{0, "", err, {}};
        break;
      }
      ConnectionLease lease{self};
      auto req = self->build(request, self->authorization(false));
      beast::get_lowest_layer(*stream).expires_after(kRequestTimeout);
      auto [wec, wn] = co_await http::async_write(*stream, req, kAwait);
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxBody);
      beast::flat_buffer buffer;
      boost::system::error_code rec;
      if (!wec) {
        auto [ec, n] = co_await http::async_read(*stream, buffer, parser, kAwait);
        rec = ec;
      }
      if (wec || rec) {
        // A pooled connection the server closed meanwhile: try once more on a new one.
        if (reused) {
          --attempt;
          continue;
        }
        reply = HttpReply{0, "", "request to " + self->creds_.server + ": " + (wec ? wec : rec).message(), {}};
        break;
      }
      auto res = parser.release();
      reply = reply_of(res);
      if (res.keep_alive()) lease.keep(stream);
      if (reply.status == 401 && !refreshed && (self->creds_.exec || !self->creds_.token_file.empty())) {
        // Rotated token or expired exec credential: fetch a new one and retry once.
        refreshed = true;
        co_await refresh_exec(self, true);
        self->authorization(true);
        continue;
      }
      break;
    }
    done(std::move(reply));
  }

  static net::awaitable<void> do_stream(std::shared_ptr<RestTransport> self, HttpRequest request,
                                        std::shared_ptr<RestStream> handle, std::function<void(std::string_view)> on_line,
                                        std::function<void(HttpReply)> on_end) {
    co_await refresh_exec(self, false);
    if (handle->cancelled) co_return;
    std::string err;
    auto stream = co_await connect(self, err);
    if (handle->cancelled) co_return;
    if (!stream) {
      on_end(HttpReply{0, "", err, {}});
      co_return;
    }
    handle->stream = stream;
    auto req = self->build(request, self->authorization(false));
    beast::get_lowest_layer(*stream).expires_after(kRequestTimeout);
    auto [wec, wn] = co_await http::async_write(*stream, req, kAwait);
    if (handle->cancelled) co_return;
    if (wec) {
      on_end(HttpReply{0, "", "watch request: " + wec.message(), {}});
      co_return;
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    std::string pending;
    bool line_too_long = false;
    auto chunk_cb = [&](std::uint64_t, std::string_view data, boost::system::error_code&) -> std::size_t {
      pending.append(data.data(), data.size());
      std::size_t start = 0;
      while (true) {
        auto nl = pending.find('\n', start);
        if (nl == std::string::npos) break;
        if (nl > start && !handle->cancelled) on_line(std::string_view(pending).substr(start, nl - start));
        start = nl + 1;
      }
      pending.erase(0, start);
      if (pending.size() > 64 * 1024 * 1024) line_too_long = true;
      return data.size();
    };
    parser.on_chunk_body(chunk_cb);
    beast::flat_buffer buffer;
    beast::get_lowest_layer(*stream).expires_after(kRequestTimeout);
    auto [hec, hn] = co_await http::async_read_header(*stream, buffer, parser, kAwait);
    if (handle->cancelled) co_return;
    if (hec) {
      on_end(HttpReply{0, "", "watch response: " + hec.message(), {}});
      co_return;
    }
    const bool chunked = parser.chunked();
    while (!parser.is_done() && !line_too_long) {
      // Servers send bookmarks or events well within this; silence longer than it is a dead peer.
      beast::get_lowest_layer(*stream).expires_after(std::chrono::minutes(15));
      auto [ec, n] = co_await http::async_read_some(*stream, buffer, parser, kAwait);
      if (handle->cancelled) co_return;
      if (ec) {
        on_end(HttpReply{0, "", "watch stream broken: " + ec.message(), {}});
        co_return;
      }
    }
    if (line_too_long) {
      on_end(HttpReply{0, "", "watch event too large", {}});
      co_return;
    }
    auto res = parser.release();
    HttpReply reply = reply_of(res);
    if (chunked && reply.status == 200 && !pending.empty()) on_line(pending);
    boost::system::error_code ignore;
    beast::get_lowest_layer(*stream).socket().shutdown(tcp::socket::shutdown_both, ignore);
    on_end(std::move(reply));
  }

  net::io_context& io_;
  ClusterCredentials creds_;
  std::string server_name_;
  std::shared_ptr<ssl::context> ctx_;
  std::vector<std::shared_ptr<Stream>> idle_;
  std::size_t busy_ = 0;  // connections taken by requests (idle_ holds the others)
  std::deque<std::shared_ptr<net::steady_timer>> connection_waiters_;
  std::string file_token_;
  std::chrono::steady_clock::time_point token_read_at_{};
  bool exec_ran_ = false;
  bool exec_running_ = false;
  std::vector<std::shared_ptr<net::steady_timer>> exec_waiters_;  // requests waiting for the plugin
  std::string exec_token_, exec_cert_, exec_key_;
  std::optional<std::chrono::system_clock::time_point> exec_expiry_;
};

}  // namespace

std::shared_ptr<Transport> make_rest_transport(net::io_context& io, const ClusterCredentials& credentials) {
  try {
    return std::make_shared<RestTransport>(io, credentials);
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(std::string("cluster credentials: ") + e.what());
  }
}

}  // namespace ironboot::kube
