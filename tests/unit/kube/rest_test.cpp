// The HTTPS client against the embedded API and against a scripted TLS server, inside a
// private network namespace (unshare(CLONE_NEWNET)) so the ports never collide.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/config.hpp"
#include "common/time.hpp"
#include "kube/api_server.hpp"
#include "kube/client.hpp"
#include "kube/json_ops.hpp"
#include "kube/informer.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/resource_type.hpp"
#include "kube/store_log.hpp"
#include "kube/tls_material.hpp"
#include "kube/write_queue.hpp"
#include "private_netns.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/kube-rest-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

template <class Pred>
bool run_until(net::io_context& io, Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return pred();
}

json::object server(const std::string& name) {
  return json::object{{"apiVersion", kApiVersion}, {"kind", "Server"}, {"metadata", json::object{{"name", name}}},
                      {"spec", json::object{{"accepted", false}}}};
}

class Embedded : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(private_netns()) << "needs CAP_SYS_ADMIN for a private network namespace";
    cfg.listen = "127.0.0.1:16443";
    cfg.data_dir = dir.path;
    start_server();
    auto m = ensure_tls_material(dir.path, cfg.listen);
    std::string err;
    creds = *parse_kubeconfig(render_kubeconfig(m, "https://127.0.0.1:16443"), "", &err);
    client = std::make_unique<KubeClient>(make_rest_transport(io, creds));
  }
  void start_server() {
    api = std::make_unique<EmbeddedApiServer>(io, cfg);
    ASSERT_EQ(api->start(), "");
  }
  void stop_server() {
    api->stop();
    run_until(io, [&] { return api->idle(); }, std::chrono::seconds(2));
    api.reset();
  }
  ApiReply sync(std::function<void(ReplyHandler)> op) {
    std::optional<ApiReply> out;
    op([&](ApiReply r) { out = std::move(r); });
    EXPECT_TRUE(run_until(io, [&] { return out.has_value(); }));
    return out.value_or(ApiReply{});
  }

  TempDir dir;
  EmbeddedClusterConfig cfg;
  net::io_context io;
  std::unique_ptr<EmbeddedApiServer> api;
  ClusterCredentials creds;
  std::unique_ptr<KubeClient> client;
};

TEST_F(Embedded, CrudConflictsAndAuth) {
  ASSERT_EQ(sync([&](auto d) { client->create("servers", server("a"), d); }).status, 201u);
  auto got = sync([&](auto d) { client->get("servers", "a", d); });
  ASSERT_TRUE(got.ok()) << got.message;
  json::object stale = *got.object();
  auto p = sync([&](auto d) { client->patch("servers", "a", PatchType::Merge, json::parse(R"({"spec":{"hostname":"x"}})"), d); });
  EXPECT_TRUE(p.ok());
  stale["spec"].as_object()["hostname"] = "y";
  EXPECT_TRUE(sync([&](auto d) { client->update("servers", stale, d); }).conflict());
  auto list = sync([&](auto d) { client->list("servers", ListOptions{}, d); });
  EXPECT_EQ(list.object()->at("items").as_array().size(), 1u);
  EXPECT_TRUE(sync([&](auto d) { client->remove("servers", "a", d); }).ok());
  ClusterCredentials bad = creds;
  bad.token = "wrong";
  KubeClient intruder(make_rest_transport(io, bad));
  auto denied = sync([&](auto d) { intruder.get("servers", "a", d); });
  EXPECT_EQ(denied.status, 401u);
  EXPECT_EQ(denied.reason, "Unauthorized");
}

// Established TCP connections to the embedded API's port (this test's private namespace).
std::size_t connections_to_port(unsigned port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  std::size_t n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state == "01" && local.size() > 5 && local.substr(local.size() - 5) == wanted) ++n;
  }
  return n;
}

// A burst of requests (a boot storm's queued writes) shares a bounded set of connections
// instead of opening one TLS connection per request.
TEST_F(Embedded, ABurstOfRequestsSharesABoundedSetOfConnections) {
  ASSERT_EQ(sync([&](auto d) { client->create("servers", server("a"), d); }).status, 201u);
  constexpr int kRequests = 300;
  int ok = 0, answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    client->get("servers", "a", [&](ApiReply r) {
      ++answered;
      ok += r.ok();
    });
  }
  std::size_t most = 0;
  ASSERT_TRUE(run_until(io, [&] {
    most = std::max(most, connections_to_port(16443));
    return answered == kRequests;
  }, std::chrono::seconds(30)));
  EXPECT_EQ(ok, kRequests);
  EXPECT_GT(most, 1u);
  EXPECT_LE(most, 64u) << "one connection per request";
}

TEST_F(Embedded, WatchResumesAndRelistsAfterRestart) {
  Informer inf(io, *client, "servers");
  inf.min_backoff = std::chrono::milliseconds(50);
  inf.max_backoff = std::chrono::milliseconds(200);
  inf.watch_timeout = std::chrono::seconds(1);
  inf.start();
  ASSERT_TRUE(run_until(io, [&] { return inf.synced(); }));
  sync([&](auto d) { client->create("servers", server("a"), d); });
  ASSERT_TRUE(run_until(io, [&] { return inf.get("a") != nullptr; }));
  // The server ends each watch after 1 s; the informer resumes from its last RV.
  ASSERT_TRUE(run_until(io, [&] { return inf.watches() >= 3; }, std::chrono::seconds(5)));
  sync([&](auto d) { client->create("servers", server("b"), d); });
  ASSERT_TRUE(run_until(io, [&] { return inf.get("b") != nullptr; }));
  EXPECT_EQ(inf.relists(), 1u);
  // While the API is down, changes land in its log; after the restart the informer's RV is
  // older than the new history: 410, relist, and the cache matches the store again.
  stop_server();
  {
    Store offline;
    StoreLog log(dir.path + "/store.log", offline);
    offline.set_journal(&log);
    json::object c = server("c");
    c["metadata"].as_object()["uid"] = "u";
    offline.put("servers", c);
    offline.erase("servers", "a");
    ASSERT_EQ(log.flush(), "");
  }
  start_server();
  ASSERT_TRUE(run_until(io, [&] { return inf.relists() >= 2 && inf.get("c") && !inf.get("a"); }, std::chrono::seconds(10)));
  EXPECT_EQ(inf.size(), 2u);
}

TEST_F(Embedded, WriteQueueKeepsWritesWhileTheApiIsDown) {
  stop_server();
  WriteQueue q(io, *client);
  q.min_backoff = std::chrono::milliseconds(50);
  q.max_backoff = std::chrono::milliseconds(200);
  std::optional<ApiReply> done;
  q.merge("servers", "queued", json::object{{"spec", json::object{{"accepted", true}}}}, false, [&](const ApiReply& r) { done = r; });
  run_until(io, [&] { return q.retries() >= 2; });
  EXPECT_FALSE(done);
  start_server();
  ASSERT_TRUE(run_until(io, [&] { return done.has_value(); }));
  EXPECT_EQ(done->status, 201u);
  EXPECT_NE(api->store().get("servers", "queued"), nullptr);
}

// An outage: every write of one object after the first coalesces into one pending write per
// kind, the facts write tagged "facts" keeps only the latest, and after recovery the object
// has every change and the latest facts.
TEST_F(Embedded, WriteQueueCoalescesWritesOfOneObjectDuringAnOutage) {
  stop_server();
  WriteQueue q(io, *client);
  q.min_backoff = std::chrono::milliseconds(50);
  q.max_backoff = std::chrono::milliseconds(200);
  int done = 0;
  auto count = [&](const ApiReply& r) {
    EXPECT_TRUE(r.ok()) << r.status;
    ++done;
  };
  const auto coalesced_before = q.coalesced();
  for (int boot = 1; boot <= 100; ++boot) {
    const json::object facts{{"spec", json::object{{"hostname", "boot-" + std::to_string(boot)}}}};
    q.enqueue_superseding(
        "servers", "m1", "facts",
        [facts](const json::object* cur) -> std::optional<json::object> {
          json::object base = cur ? *cur
                                  : json::object{{"apiVersion", kApiVersion}, {"kind", "Server"},
                                                 {"metadata", json::object{{"name", "m1"}}},
                                                 {"spec", json::object{{"accepted", false}}}};
          return merge_patch(base, facts).as_object();
        },
        count);
    q.merge("servers", "m1",
            json::object{{"metadata", json::object{{"labels", json::object{{"l" + std::to_string(boot), "x"}}}}}}, false,
            count);
  }
  EXPECT_LE(q.pending(), 2u);  // the first write, in flight, and one pending main write
  EXPECT_EQ(q.coalesced() - coalesced_before, 198u);  // 200 writes: one in flight, one pending, 198 merged
  start_server();
  ASSERT_TRUE(run_until(io, [&] { return done == 200; }, std::chrono::seconds(20)));
  auto obj = api->store().get("servers", "m1");
  ASSERT_NE(obj, nullptr);
  EXPECT_EQ(obj->at("spec").at("hostname"), "boot-100");
  EXPECT_EQ(obj->at("metadata").at("labels").as_object().size(), 100u);  // no label write lost
  EXPECT_EQ(q.pending(), 0u);
}

// A TLS server on its own thread answering each request with the next scripted response.
class ScriptedServer {
 public:
  ScriptedServer(const TlsMaterial& m, const std::string& address, std::vector<std::string> responses)
      : ctx_(ssl::context::tls_server), acceptor_(io_, tcp::endpoint(net::ip::make_address(address), 0)),
        responses_(std::move(responses)) {
    ctx_.use_certificate_chain(net::buffer(m.server_cert_pem));
    ctx_.use_private_key(net::buffer(m.server_key_pem), ssl::context::pem);
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    boost::system::error_code ec;
    // Wake a blocking accept.
    tcp::socket s(io_);
    s.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  void serve() {
    std::size_t next = 0;
    while (!stop_) {
      tcp::socket sock(io_);
      boost::system::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stop_) return;
      ssl::stream<tcp::socket> s(std::move(sock), ctx_);
      s.handshake(ssl::stream_base::server, ec);
      if (ec) continue;
      std::string buf;
      while (next < responses_.size()) {
        auto n = net::read_until(s, net::dynamic_buffer(buf), "\r\n\r\n", ec);
        if (ec) break;
        std::string head = buf.substr(0, n);
        buf.erase(0, n);
        std::size_t len = 0;
        if (auto p = head.find("Content-Length: "); p != std::string::npos) len = std::stoul(head.substr(p + 16));
        if (buf.size() < len) net::read(s, net::dynamic_buffer(buf), net::transfer_exactly(len - buf.size()), ec);
        buf.erase(0, std::min(len, buf.size()));
        std::string auth;
        if (auto p = head.find("Authorization: "); p != std::string::npos) auth = head.substr(p + 15, head.find("\r\n", p) - p - 15);
        {
          std::lock_guard<std::mutex> l(mu_);
          requests_.push_back(head.substr(0, head.find("\r\n")) + " | " + auth);
        }
        const std::string& r = responses_[next++];
        net::write(s, net::buffer(r), ec);
        if (ec || r.find("Connection: close") != std::string::npos) break;
      }
      s.lowest_layer().close(ec);
    }
  }

  net::io_context io_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  std::vector<std::string> responses_;
  std::vector<std::string> requests_;
  std::mutex mu_;
  std::atomic<bool> stop_{false};
  std::uint16_t port_ = 0;
  std::thread thread_;
};

std::string response(int code, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Type: application/json\r\n" + extra +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kObject = R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"Server","metadata":{"name":"a","resourceVersion":"3"},"spec":{"accepted":false}})";

class Scripted : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(private_netns());
    material = ensure_tls_material(dir.path, "127.0.0.1:1");
  }
  ClusterCredentials creds_for(const std::string& host, std::uint16_t port) {
    ClusterCredentials c;
    c.host = host;
    c.port = std::to_string(port);
    c.server = "https://" + host + ":" + c.port;
    c.ca_pem = material.ca_cert_pem;
    return c;
  }
  ApiReply get(KubeClient& client) {
    std::optional<ApiReply> out;
    client.get("servers", "a", [&](ApiReply r) { out = std::move(r); });
    EXPECT_TRUE(run_until(io, [&] { return out.has_value(); }));
    return out.value_or(ApiReply{});
  }
  TempDir dir;
  TlsMaterial material;
  net::io_context io;
};

TEST_F(Scripted, TooManyRequestsHonoursRetryAfter) {
  ScriptedServer srv(material, "127.0.0.1",
                     {response(429, R"({"kind":"Status","code":429,"reason":"TooManyRequests"})", "Retry-After: 1\r\n"),
                      response(200, kObject), response(200, kObject)});
  auto c = creds_for("127.0.0.1", srv.port());
  c.token = "t";
  KubeClient client(make_rest_transport(io, c));
  WriteQueue q(io, client);
  q.min_backoff = std::chrono::milliseconds(1);
  std::optional<ApiReply> done;
  const auto start = std::chrono::steady_clock::now();
  q.merge("servers", "a", json::object{{"spec", json::object{{"accepted", true}}}}, false, [&](const ApiReply& r) { done = r; });
  ASSERT_TRUE(run_until(io, [&] { return done.has_value(); }));
  EXPECT_TRUE(done->ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950));
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[2].substr(0, 4), "PUT ");
}

TEST_F(Scripted, UnauthorizedRereadsTheTokenFile) {
  ScriptedServer srv(material, "127.0.0.1",
                     {response(200, kObject), response(401, R"({"kind":"Status","code":401})"), response(200, kObject)});
  auto c = creds_for("127.0.0.1", srv.port());
  c.token_file = dir.path + "/sa-token";
  std::ofstream(c.token_file) << "old-token\n";
  KubeClient client(make_rest_transport(io, c));
  EXPECT_TRUE(get(client).ok());
  std::ofstream(c.token_file) << "new-token\n";  // rotated: the cached token is now refused
  EXPECT_TRUE(get(client).ok());
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 3u);
  const std::string line = "GET /apis/metal.sidero.dev/v1alpha2/servers/a HTTP/1.1 | Bearer ";
  EXPECT_EQ(reqs[0], line + "old-token");
  EXPECT_EQ(reqs[1], line + "old-token");
  EXPECT_EQ(reqs[2], line + "new-token");
}

TEST_F(Scripted, ExecPluginRerunsAfter401AndAtExpiry) {
  const std::string plugin = dir.path + "/plugin.sh";
  {
    std::ofstream p(plugin);
    // Each run prints a new token (tok-1, tok-2, ...) with the expiry written in ./expiry.
    p << "#!/bin/sh\nn=$(cat " << dir.path << "/count 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > " << dir.path
      << "/count\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
         "\"status\":{\"token\":\"tok-'$n'\",\"expirationTimestamp\":\"'$(cat "
      << dir.path << "/expiry)'\"}}'\n";
  }
  ::chmod(plugin.c_str(), 0700);
  auto expiry = [&](std::chrono::seconds from_now) {
    std::ofstream(dir.path + "/expiry") << format_rfc3339(std::chrono::system_clock::now() + from_now);
  };
  ScriptedServer srv(material, "127.0.0.1",
                     {response(200, kObject), response(200, kObject), response(401, R"({"kind":"Status","code":401})"),
                      response(200, kObject), response(200, kObject)});
  auto c = creds_for("127.0.0.1", srv.port());
  c.exec = ExecPlugin{};
  c.exec->command = plugin;
  KubeClient client(make_rest_transport(io, c));
  expiry(std::chrono::hours(1));
  EXPECT_TRUE(get(client).ok());  // runs the plugin: tok-1, valid for an hour
  EXPECT_TRUE(get(client).ok());  // cached tok-1
  expiry(std::chrono::seconds(3));
  EXPECT_TRUE(get(client).ok());  // 401 -> re-run (tok-2, expires in 3 s) -> retried
  std::this_thread::sleep_for(std::chrono::milliseconds(3200));
  EXPECT_TRUE(get(client).ok());  // tok-2 expired: re-run before sending (tok-3)
  auto reqs = srv.requests();
  ASSERT_EQ(reqs.size(), 5u);
  const char* want[] = {"tok-1", "tok-1", "tok-1", "tok-2", "tok-3"};
  for (int i = 0; i < 5; ++i) EXPECT_NE(reqs[i].find(std::string("Bearer ") + want[i]), std::string::npos) << reqs[i];
}

TEST_F(Scripted, WrongSanIsRefusedUnlessTlsServerNameMatches) {
  // The certificate names 127.0.0.1 and localhost, not 127.0.0.2.
  ScriptedServer srv(material, "127.0.0.2", {response(200, kObject), response(200, kObject)});
  auto c = creds_for("127.0.0.2", srv.port());
  c.token = "t";
  KubeClient client(make_rest_transport(io, c));
  auto r = get(client);
  EXPECT_EQ(r.status, 0u);
  EXPECT_NE(r.message.find("handshake"), std::string::npos) << r.message;
  c.tls_server_name = "localhost";
  KubeClient named(make_rest_transport(io, c));
  EXPECT_TRUE(get(named).ok());
}

TEST_F(Scripted, BrokenWatchStreamMidEvent) {
  const std::string half = R"({"type":"ADDED","object":{"kind":"Server","metadata":{"name":"a","resourceVersion":"5"}}})"
                           "\n"
                           R"({"type":"MODIFIED","obj)";
  char size[16];
  std::snprintf(size, sizeof size, "%zx", half.size() + 100);  // promises more than it sends
  ScriptedServer srv(material, "127.0.0.1",
                     {"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                      std::string(size) + "\r\n" + half});
  auto c = creds_for("127.0.0.1", srv.port());
  c.token = "t";
  KubeClient client(make_rest_transport(io, c));
  std::vector<std::string> events;
  std::optional<ApiReply> end;
  auto h = client.watch("servers", WatchOptions{"4", "", true, std::chrono::seconds(60)},
                        [&](WatchEvent e) { events.push_back(e.type); }, [&](ApiReply r) { end = r; });
  ASSERT_TRUE(run_until(io, [&] { return end.has_value(); }));
  EXPECT_EQ(events, (std::vector<std::string>{"ADDED"}));
  EXPECT_EQ(end->status, 0u);
  EXPECT_NE(end->message.find("watch stream broken"), std::string::npos) << end->message;
}

}  // namespace
}  // namespace ironboot::kube
