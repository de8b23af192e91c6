#include "kube/api_server.hpp"

#include <openssl/crypto.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <algorithm>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <set>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/net.hpp"
#include "common/text.hpp"
#include "http/connections.hpp"
#include "http/session_skeleton.hpp"
#include "kube/api_handler.hpp"
#include "kube/authz.hpp"
#include "kube/client.hpp"
#include "kube/heap_trim.hpp"
#include "kube/store.hpp"
#include "kube/store_log.hpp"
#include "kube/tls_material.hpp"

namespace ironboot::kube {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
// Timeouts come from the session skeleton's Deadline (http/session_skeleton.hpp), so the TLS
// stream sits on a plain socket.
using Stream = beast::ssl_stream<tcp::socket>;
constexpr auto kAwait = http::kAwaitable;

namespace {

constexpr auto kBookmarkInterval = std::chrono::seconds(20);
constexpr auto kEventSweepInterval = std::chrono::seconds(60);
// While the log cannot be written, a probe record is tried this often.
constexpr auto kProbeInterval = std::chrono::seconds(1);

bool is_write(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

}  // namespace

// One watch stream: events queued by the publisher, written by the connection coroutine.
struct Watcher {
  explicit Watcher(net::io_context& io) : signal(io) {}
  WatchPlan plan;
  // The same process's informer (local_transport()): drained at each publish, so no backlog cap.
  bool local = false;
  std::uint64_t last_rv = 0;
  std::deque<std::string> queue;
  net::steady_timer signal;
  bool closed = false;
};

// Group commit, as seen on /metrics: how many fdatasyncs, how many changes each made durable.
struct CommitMetrics {
  Counter& syncs = metrics().counter("ironboot_kube_store_syncs_total", "Store log write+fdatasync batches");
  Histogram& batch_changes = metrics().histogram("ironboot_kube_store_sync_batch_changes",
                                                 "Changes made durable by one store log fdatasync",
                                                 {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  Histogram& sync_seconds = metrics().histogram("ironboot_kube_store_sync_duration_seconds",
                                                "Time of one store log write+fdatasync", latency_buckets());
  Counter& failures = metrics().counter("ironboot_kube_store_write_failures_total",
                                        "Store log writes or fdatasyncs that failed (their changes were rolled back)");
  Gauge& writable = metrics().gauge("ironboot_kube_store_writable",
                                    "1 while the store log takes writes; 0 after a failed write until a probe succeeds");
  Counter& compactions = metrics().counter("ironboot_kube_store_compactions_total", "Store log compactions");
};

// A write waiting for its fsync.
struct CommitWaiter {
  explicit CommitWaiter(net::io_context& io) : timer(io) {}
  net::steady_timer timer;
  bool done = false;
  std::string error;
  // A local request's answer (instead of a session waiting on the timer).
  std::function<void(const std::string& error)> then;
};

struct EmbeddedApiServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::io_context& io_, const EmbeddedClusterConfig& cfg)
      : io(io_), config(cfg), ssl_ctx(ssl::context::tls_server), listener(io_, logger("kube")),
        handler(store, [] { return std::chrono::system_clock::now(); }, random_uid) {}

  net::io_context& io;
  EmbeddedClusterConfig config;
  ssl::context ssl_ctx;
  http::Listener listener;
  Store store;
  std::unique_ptr<StoreLog> log;
  ApiHandler handler;
  std::string admin_token;
  std::string read_only_token;
  std::vector<Change> unpublished;
  std::set<std::shared_ptr<Watcher>> watchers;
  std::vector<std::shared_ptr<CommitWaiter>> waiters;
  // One slot per connection; draining one closes its stream.
  std::shared_ptr<http::ConnectionRegistry> connections = http::ConnectionRegistry::create();
  bool flush_scheduled = false;
  bool stopped = false;
  // Group commit: fdatasync runs on this thread so the event loop keeps taking requests;
  // everything written while one sync is in flight goes into the next one. Compaction and
  // the probes of an unwritable log are jobs on the same thread.
  std::thread syncer;
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  std::optional<std::function<std::string()>> sync_job;
  bool sync_quit = false;
  bool sync_in_flight = false;
  enum class Job { batch, probe, compaction } job_kind = Job::batch;
  std::vector<std::shared_ptr<CommitWaiter>> batch_waiters;
  std::vector<Change> batch_changes;
  std::uint64_t batch_rv = 0;
  // Every change up to here is in the synced log.
  std::uint64_t durable_rv = 0;
  // False from a failed write until a probe record is synced: writes are refused (503).
  bool writable = true;
  CommitMetrics commit_metrics;
  net::steady_timer event_sweep{io};
  net::steady_timer probe_timer{io};
  HeapTrimmer heap_trimmer{io, [this] { return store.resource_version(); }};

  std::string start() {
    auto lg = logger("kube");
    try {
      TlsMaterial m = ensure_tls_material(config.data_dir, config.listen);
      admin_token = m.token;
      read_only_token = m.read_only_token;
      ssl_ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                          ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      ssl_ctx.use_certificate_chain(net::buffer(m.server_cert_pem));
      ssl_ctx.use_private_key(net::buffer(m.server_key_pem), ssl::context::pem);
      log = std::make_unique<StoreLog>(config.data_dir + "/store.log", store);
    } catch (const std::exception& e) {
      return std::string("embedded API: ") + e.what();
    }
    store.set_journal(log.get());
    durable_rv = store.resource_version();
    commit_metrics.writable.set(1);
    syncer = std::thread([this] { sync_loop(); });
    store.add_listener([this](const Change& c) { unpublished.push_back(c); });
    handler.set_event_limits({std::chrono::seconds(config.event_ttl_seconds), config.max_events});
    if (handler.ensure_initial_namespaces()) schedule_flush();
    schedule_event_sweep();
    heap_trimmer.start();
    std::string host;
    std::uint16_t port = 0;
    auto hp = parse_host_port(config.listen);
    if (!hp) return "embedded API: cannot parse cluster.embedded.listen '" + config.listen + "'";
    boost::system::error_code ec;
    auto addr = net::ip::make_address(hp->host, ec);
    if (ec) return "embedded API: bad listen address '" + hp->host + "'";
    port = hp->port;
    ec = listener.listen(tcp::endpoint(addr, port));
    if (ec) return "embedded API: cannot listen on " + config.listen + ": " + ec.message();
    lg->info("embedded API listening listen={} port={} objects={} resource_version={}", config.listen,
             listener.port(), store.size(), store.resource_version());
    listener.start([weak = weak_from_this()](tcp::socket socket) {
      if (auto self = weak.lock()) self->on_accept(std::move(socket));
    });
    return {};
  }

  // Expired events are deleted once a minute (durable like any delete; watchers see them go).
  void schedule_event_sweep() {
    event_sweep.expires_after(kEventSweepInterval);
    event_sweep.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped) return;
      if (self->writable && self->handler.expire_events() > 0) self->schedule_flush();
      self->schedule_event_sweep();
    });
  }

  void stop() {
    if (stopped) return;
    stopped = true;
    event_sweep.cancel();
    probe_timer.cancel();
    heap_trimmer.stop();
    listener.close();
    if (syncer.joinable()) {
      {
        std::lock_guard<std::mutex> l(sync_mu);
        sync_quit = true;
      }
      sync_cv.notify_all();
      syncer.join();  // finishes a batch in flight first
    }
    if (log && log->has_pending()) {
      std::string err = log->flush();
      if (!err.empty()) logger("kube")->error("store log write failed error=\"{}\"", err);
    }
    for (auto& w : watchers) {
      w->closed = true;
      w->signal.cancel();
    }
    connections->drain_all();
  }

  void schedule_flush() {
    if (flush_scheduled || sync_in_flight) return;  // a finishing batch starts the next one
    flush_scheduled = true;
    net::post(io, [self = shared_from_this()] { self->start_batch(); });
  }

  void run_job(Job kind, std::function<std::string()> job) {
    sync_in_flight = true;
    job_kind = kind;
    {
      std::lock_guard<std::mutex> l(sync_mu);
      sync_job = std::move(job);
    }
    sync_cv.notify_one();
  }

  void start_batch() {
    flush_scheduled = false;
    if (sync_in_flight || stopped || !writable || !log->has_pending()) return;
    batch_waiters = std::move(waiters);
    waiters.clear();
    batch_changes = std::move(unpublished);
    unpublished.clear();
    batch_rv = store.resource_version();
    run_job(Job::batch, [this, data = log->take_pending()] { return log->write_and_sync(data); });
  }

  void sync_loop() {
    while (true) {
      std::function<std::string()> job;
      {
        std::unique_lock<std::mutex> l(sync_mu);
        sync_cv.wait(l, [this] { return sync_job.has_value() || sync_quit; });
        if (!sync_job) return;
        job = std::move(*sync_job);
        sync_job.reset();
      }
      const auto t0 = std::chrono::steady_clock::now();
      std::string err = job();
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
      net::post(io, [self = shared_from_this(), err, took] { self->job_done(err, took.count()); });
    }
  }

  void job_done(const std::string& err, double seconds) {
    sync_in_flight = false;
    auto lg = logger("kube");
    if (job_kind == Job::compaction) {
      if (!err.empty()) lg->error("store compaction failed error=\"{}\"", err);
      else commit_metrics.compactions.inc();
    } else {
      commit_metrics.syncs.inc();
      commit_metrics.sync_seconds.observe(seconds);
      if (job_kind == Job::batch) commit_metrics.batch_changes.observe(static_cast<double>(batch_changes.size()));
      if (err.empty()) {
        durable_rv = std::max(durable_rv, batch_rv);
        store.mark_durable(durable_rv);
        if (!writable) lg->warn("store log writable again path={}/store.log", config.data_dir);
        writable = true;
        commit_metrics.writable.set(1);
        // Published first: a client reading its informer after the answer sees its write.
        publish(batch_changes);
        for (auto& w : batch_waiters) finish(*w, {});
      } else {
        fail_writes(err);
      }
      batch_waiters.clear();
      batch_changes.clear();
    }
    if (stopped) return;
    if (!writable) {
      schedule_probe();
    } else if (log->has_pending()) {
      start_batch();
    } else if (log->compaction_due()) {
      // The snapshot is taken here; writing it runs on the sync thread, off the event loop.
      run_job(Job::compaction, [this, snap = std::make_shared<CompactionSnapshot>(log->compaction_snapshot())] {
        return log->write_compaction(*snap);
      });
    }
  }

  static void finish(CommitWaiter& w, const std::string& err) {
    w.done = true;
    w.error = err;
    w.timer.cancel();
    if (w.then) std::exchange(w.then, {})(err);
  }

  // A write or fdatasync failed: nothing after the durable point is acknowledged. Every change
  // since (the failed batch and those made while it was in flight, which may build on it) is
  // undone and answered 503; writes are refused until a probe record is synced.
  void fail_writes(const std::string& err) {
    const std::size_t undone = store.roll_back_to(durable_rv);
    log->discard_pending();
    unpublished.clear();
    for (auto& w : batch_waiters) finish(*w, err);
    for (auto& w : waiters) finish(*w, err);
    waiters.clear();
    commit_metrics.failures.inc();
    commit_metrics.writable.set(0);
    if (writable || undone > 0)
      logger("kube")->error("store log write failed, changes rolled back changes={} resource_version={} error=\"{}\"",
                            undone, durable_rv, err);
    writable = false;
  }

  void schedule_probe() {
    probe_timer.expires_after(kProbeInterval);
    probe_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped || self->writable || self->sync_in_flight) return;
      self->batch_rv = self->store.resource_version();
      self->run_job(Job::probe, [self = self.get(), data = self->log->probe_record()] {
        return self->log->write_and_sync(data);
      });
    });
  }

  void publish(const std::vector<Change>& changes) {
    for (const auto& c : changes) {
      for (auto& w : watchers) {
        if (w->closed || c.rv <= w->last_rv) continue;
        w->last_rv = c.rv;
        std::string e = handler.encode_change(w->plan, c);
        if (e.empty()) continue;
        if (!w->local && w->queue.size() >= config.max_watch_backlog) {
          w->closed = true;  // too slow: end the stream; the client resumes from its last RV
        } else {
          w->queue.push_back(std::move(e));
        }
        w->signal.cancel();
      }
    }
  }

  void on_accept(tcp::socket socket) {
    if (stopped) return;  // the socket closes here
    if (connections->size() >= config.max_connections) {
      metrics()
          .counter("ironboot_kube_connections_refused_total",
                   "Embedded API connections closed at accept (cluster.embedded.max_connections reached)")
          .inc();
      logger("kube")->debug("connection refused reason=max_connections limit={}", config.max_connections);
      return;
    }
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    std::string peer = ec ? std::string("-") : http::format_peer(remote);
    auto stream = std::make_shared<Stream>(std::move(socket), ssl_ctx);
    std::string what = "session peer=" + peer;
    http::spawn_logged(io.get_executor(), session(shared_from_this(), std::move(stream), connections->acquire(),
                                                  std::move(peer)),
                       logger("kube"), std::move(what));
  }

  std::chrono::seconds write_timeout() const { return std::chrono::seconds(config.write_timeout_seconds); }

  static ApiResponse unauthorized() { return status_error(401, "Unauthorized", "Unauthorized"); }
  static ApiResponse unavailable(const std::string& why) { return status_error(503, "ServiceUnavailable", why); }

  static bool same_token(std::string_view presented, const std::string& token) {
    return presented.size() == token.size() && CRYPTO_memcmp(presented.data(), token.data(), token.size()) == 0;
  }

  // The principal a bearer token names, or null (401).
  const Principal* authenticate(const bhttp::request<bhttp::string_body>& req) const {
    const auto presented = bearer_token(req[bhttp::field::authorization]);
    if (!presented) return nullptr;
    if (same_token(*presented, admin_token)) return &admin_principal();
    if (same_token(*presented, read_only_token)) return &read_only_principal();
    return nullptr;
  }

  static void note_forbidden(const Principal& principal, const RequestInfo& r, const std::string& peer) {
    metrics()
        .counter("ironboot_kube_forbidden_total", "Embedded API requests refused with 403 by authorization",
                 {{"user", principal.user}})
        .inc();
    if (r.resource_request) {
      logger("kube")->info(
          "request forbidden peer={} user={} verb={} group={} resource={} subresource={} namespace={} name={}", peer,
          principal.user, r.verb, r.group, r.resource, r.subresource, r.namespace_name, r.name);
    } else {
      logger("kube")->info("request forbidden peer={} user={} verb={} path={}", peer, principal.user, r.verb, r.path);
    }
  }

  // A request of an authenticated principal, as the handler answers it.
  ApiResult answer(const Principal& principal, const ApiRequest& api, const std::string& peer) {
    ApiResult result;
    // Authorization first, as kube-apiserver's filter chain: a refused request never
    // reaches the handler; the self-subject reviews are answered from the same policy.
    Gate gate = gate_request(principal, api);
    if (gate.forbidden) note_forbidden(principal, *gate.request, peer);
    if (gate.response) {
      result.response = std::move(*gate.response);
    } else if (!writable && is_write(api.method)) {
      result.response = unavailable("the store log cannot be written (see the ironboot log); writes resume by themselves "
                                    "once the disk takes them again");
    } else {
      result = handler.handle(api);
    }
    logger("kube")->debug("request peer={} user={} method={} target={} status={}", peer, principal.user, api.method,
                          api.target, result.watch ? 200u : result.response.status);
    return result;
  }

  // The stream is shared with a watch's client-gone reader, which may outlive this frame by
  // one completion.
  static net::awaitable<void> session(std::shared_ptr<Impl> self, std::shared_ptr<Stream> stream,
                                      http::ConnectionRegistry::Slot slot, std::string peer) {
    auto lg = logger("kube");
    http::Deadline deadline(stream->get_executor(), [stream, lg, peer](const char* phase) {
      lg->debug("timeout phase={} peer={}", phase, peer);
      http::close_stream(*stream);
    });
    slot.on_drain([stream] { http::close_stream(*stream); });
    co_await serve(self, stream, deadline, peer);
    http::close_stream(*stream);
  }

  static net::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Stream> stream,
                                    http::Deadline& deadline, const std::string& peer) {
    auto lg = logger("kube");
    deadline.arm(std::chrono::seconds(self->config.handshake_timeout_seconds), "handshake");
    auto [hs_ec] = co_await stream->async_handshake(ssl::stream_base::server, kAwait);
    if (hs_ec) {
      lg->debug("tls handshake failed peer={} error=\"{}\"", peer, hs_ec.message());
      co_return;
    }
    beast::flat_buffer buffer;
    while (!self->stopped) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(self->config.max_header_bytes);
      parser.body_limit(self->config.max_body_bytes);
      const beast::error_code rec = co_await http::read_request(*stream, buffer, parser, deadline,
                                                                {std::chrono::seconds(self->config.idle_timeout_seconds), std::chrono::seconds(self->config.idle_timeout_seconds)}, false);
      if (rec) {
        if (!deadline.expired() && rec != bhttp::error::end_of_stream && rec != net::error::eof &&
            rec != ssl::error::stream_truncated)
          lg->debug("read failed peer={} error=\"{}\"", peer, rec.message());
        if (rec == bhttp::error::body_limit) {
          co_await write_response(stream, deadline, self->write_timeout(), 11, true,
                                  status_error(413, "RequestEntityTooLarge", "request body too large"));
        }
        co_return;
      }
      deadline.disarm();  // the handler and the wait for durability have no deadline of their own
      auto req = parser.release();
      ApiResult result;
      if (const Principal* principal = self->authenticate(req); !principal) {
        result.response = unauthorized();
      } else {
        ApiRequest api{std::string(req.method_string()), std::string(req.target()),
                       std::string(req[bhttp::field::accept]), std::string(req[bhttp::field::content_type]),
                       std::move(req.body())};
        result = self->answer(*principal, api, peer);
      }
      if (result.watch) {
        co_await stream_watch(self, stream, deadline, req.version(), std::move(*result.watch), peer);
        co_return;
      }
      if (result.wrote) {
        auto waiter = std::make_shared<CommitWaiter>(self->io);
        waiter->timer.expires_at(net::steady_timer::time_point::max());
        self->waiters.push_back(waiter);
        self->schedule_flush();
        while (!waiter->done) {
          co_await waiter->timer.async_wait(kAwait);
          if (self->stopped && !waiter->done) co_return;
        }
        if (!waiter->error.empty()) {
          // Rolled back: the change is not in the store, so the client may simply retry.
          result.response = unavailable("the change could not be made durable and was not applied: " + waiter->error);
        }
      }
      const bool keep_alive = req.keep_alive();
      const bool ok = co_await write_response(stream, deadline, self->write_timeout(), req.version(), keep_alive, std::move(result.response));
      if (!ok || !keep_alive) co_return;
    }
  }

  // Takes the response by value: a list body of tens of MB is moved into the message, not copied.
  static net::awaitable<bool> write_response(std::shared_ptr<Stream> stream, http::Deadline& deadline,
                                             std::chrono::seconds write_timeout,
                                             unsigned version, bool keep_alive, ApiResponse r) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), version};
    res.set(bhttp::field::server, "ironboot");
    res.set(bhttp::field::content_type, r.content_type);
    res.set(bhttp::field::cache_control, "no-cache, private");
    if (r.status == 429) res.set(bhttp::field::retry_after, "1");
    res.keep_alive(keep_alive);
    res.body() = std::move(r.body);
    res.prepare_payload();
    deadline.arm(write_timeout, "response");
    auto [ec, n] = co_await bhttp::async_write(*stream, res, kAwait);
    co_return !ec;
  }

  static net::awaitable<void> stream_watch(std::shared_ptr<Impl> self, std::shared_ptr<Stream> stream,
                                           http::Deadline& deadline, unsigned version, WatchPlan plan,
                                           std::string peer) {
    auto watcher = std::make_shared<Watcher>(self->io);
    watcher->plan = std::move(plan);
    for (auto& e : self->handler.initial_events(watcher->plan)) watcher->queue.push_back(std::move(e));
    watcher->last_rv = self->store.resource_version();
    self->watchers.insert(watcher);
    logger("kube")->debug("watch started peer={} resource={} events={}", peer, watcher->plan.type->plural, watcher->queue.size());

    bhttp::response<bhttp::empty_body> res{bhttp::status::ok, version};
    res.set(bhttp::field::server, "ironboot");
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::cache_control, "no-cache, private");
    res.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> sr{res};
    deadline.arm(self->write_timeout(), "response");
    auto [hec, hn] = co_await bhttp::async_write_header(*stream, sr, kAwait);
    if (hec) {
      self->watchers.erase(watcher);
      co_return;
    }
    // A read that only ends when the client goes away: it wakes the writer so the stream is
    // dropped. It has no deadline: the connection's Deadline is armed only while a chunk is
    // being written (a stalled write closes the stream, which ends this read too) and is
    // disarmed while the watch waits for events, however long it stays quiet.
    deadline.disarm();
    http::spawn_logged(stream->get_executor(), watch_client_gone(stream, watcher), logger("kube"),
                       "watch reader peer=" + peer);
    const auto until = std::chrono::steady_clock::now() + watcher->plan.timeout;
    auto next_bookmark = std::chrono::steady_clock::now() + kBookmarkInterval;
    bool failed = false;
    while (!watcher->closed && !self->stopped) {
      while (!watcher->queue.empty() && !failed) {
        std::string batch;
        while (!watcher->queue.empty() && batch.size() < 256 * 1024) {
          batch += watcher->queue.front();
          watcher->queue.pop_front();
        }
        deadline.arm(self->write_timeout(), "response");
        auto [ec, n] = co_await net::async_write(*stream, bhttp::make_chunk(net::buffer(batch)), kAwait);
        failed = static_cast<bool>(ec);
      }
      if (failed) break;
      deadline.disarm();
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) break;
      if (watcher->plan.bookmarks && now >= next_bookmark) {
        watcher->queue.push_back(self->handler.encode_bookmark(watcher->plan));
        next_bookmark = now + kBookmarkInterval;
        continue;
      }
      watcher->signal.expires_at(std::min(until, watcher->plan.bookmarks ? next_bookmark : until));
      co_await watcher->signal.async_wait(kAwait);
    }
    self->watchers.erase(watcher);
    if (!failed && !self->stopped) {
      deadline.arm(self->write_timeout(), "response");
      co_await net::async_write(*stream, bhttp::make_chunk_last(), kAwait);
    }
    watcher->closed = true;
    logger("kube")->debug("watch ended peer={}", peer);
  }

  static net::awaitable<void> watch_client_gone(std::shared_ptr<Stream> stream, std::shared_ptr<Watcher> watcher) {
    char byte[512];
    while (!watcher->closed) {
      auto [ec, n] = co_await stream->async_read_some(net::buffer(byte), kAwait);
      if (ec) break;
    }
    watcher->closed = true;
    watcher->signal.cancel();
  }
};

namespace {

// The same process's client: each request is answered as the HTTPS shell answers the admin
// token, a write once it is durable; a watch gets its events from publish(), after the log
// sync, in the order and with the resourceVersions a watch over HTTPS sends, bookmarks and
// the stream's timeout included. No socket, TLS, HTTP framing or second pass through the loop.
class LocalStream : public StreamHandle {
 public:
  void cancel() override {
    cancelled = true;
    if (watcher) {
      watcher->closed = true;
      watcher->signal.cancel();
    }
  }
  std::shared_ptr<Watcher> watcher;
  std::function<void(std::string_view)> on_line;
  std::function<void(HttpReply)> on_end;
  std::chrono::steady_clock::time_point until, next_bookmark;
  bool cancelled = false;
};

HttpReply reply_of(ApiResponse response) {
  HttpReply reply;
  reply.status = response.status;
  reply.body = std::move(response.body);
  if (reply.status == 429) reply.retry_after = std::chrono::seconds(1);
  return reply;
}

HttpReply stopped_reply() {
  HttpReply reply;
  reply.error = "embedded API stopped";
  return reply;
}

}  // namespace

class EmbeddedApiServer::Local : public Transport {
 public:
  explicit Local(std::weak_ptr<Impl> impl, net::io_context& io) : impl_(std::move(impl)), io_(io) {}

  void send(HttpRequest request, std::function<void(HttpReply)> done) override {
    net::post(io_, [impl = impl_, request = std::move(request), done = std::move(done)]() mutable {
      auto self = impl.lock();
      if (!self || self->stopped) return done(stopped_reply());
      ApiResult r = self->answer(admin_principal(), to_api(std::move(request)), "local");
      if (r.watch) return done(reply_of(status_error(400, "BadRequest", "watch through send()")));
      if (!r.wrote) return done(reply_of(std::move(r.response)));
      auto waiter = std::make_shared<CommitWaiter>(self->io);
      waiter->then = [&io = self->io, done = std::move(done), response = std::move(r.response)](const std::string& err) mutable {
        // Rolled back: the change is not in the store, so the client may simply retry.
        if (!err.empty()) response = Impl::unavailable("the change could not be made durable and was not applied: " + err);
        // Posted: after the informers' deliveries that publish() just queued.
        net::post(io, [done = std::move(done), reply = reply_of(std::move(response))]() mutable { done(std::move(reply)); });
      };
      self->waiters.push_back(std::move(waiter));
      self->schedule_flush();
    });
  }

  std::shared_ptr<StreamHandle> stream(HttpRequest request, std::function<void(std::string_view)> on_line,
                                       std::function<void(HttpReply)> on_end) override {
    auto handle = std::make_shared<LocalStream>();
    handle->on_line = std::move(on_line);
    handle->on_end = std::move(on_end);
    net::post(io_, [impl = impl_, handle, request = std::move(request)]() mutable {
      auto self = impl.lock();
      if (handle->cancelled) return;
      if (!self || self->stopped) return handle->on_end(stopped_reply());
      ApiResult r = self->answer(admin_principal(), to_api(std::move(request)), "local");
      if (!r.watch) return handle->on_end(reply_of(std::move(r.response)));
      auto watcher = std::make_shared<Watcher>(self->io);
      watcher->local = true;
      watcher->plan = std::move(*r.watch);
      for (auto& e : self->handler.initial_events(watcher->plan)) watcher->queue.push_back(std::move(e));
      watcher->last_rv = self->store.resource_version();
      self->watchers.insert(watcher);
      handle->watcher = std::move(watcher);
      handle->until = std::chrono::steady_clock::now() + handle->watcher->plan.timeout;
      handle->next_bookmark = std::chrono::steady_clock::now() + kBookmarkInterval;
      pump(impl, handle);
    });
    return handle;
  }

 private:
  static ApiRequest to_api(HttpRequest r) {
    return ApiRequest{std::move(r.method), std::move(r.target), std::move(r.accept), std::move(r.content_type),
                      std::move(r.body)};
  }

  // Hands over what publish() queued, then waits for more, the next bookmark or the end.
  static void pump(const std::weak_ptr<Impl>& impl, const std::shared_ptr<LocalStream>& handle) {
    auto self = impl.lock();
    Watcher& w = *handle->watcher;
    while (true) {
      while (!w.queue.empty() && !handle->cancelled) {
        std::string e = std::move(w.queue.front());
        w.queue.pop_front();
        handle->on_line(std::string_view(e).substr(0, e.size() - 1));  // without its newline
      }
      const auto now = std::chrono::steady_clock::now();
      if (handle->cancelled || !self || self->stopped || w.closed || now >= handle->until) break;
      if (w.plan.bookmarks && now >= handle->next_bookmark) {
        w.queue.push_back(self->handler.encode_bookmark(w.plan));
        handle->next_bookmark = now + kBookmarkInterval;
        continue;
      }
      w.signal.expires_at(std::min(handle->until, w.plan.bookmarks ? handle->next_bookmark : handle->until));
      w.signal.async_wait([impl, handle](boost::system::error_code) { pump(impl, handle); });
      return;
    }
    w.closed = true;
    if (self) self->watchers.erase(handle->watcher);
    if (handle->cancelled) return;
    handle->on_end(self && !self->stopped ? HttpReply{200, {}, {}, {}} : stopped_reply());
  }

  std::weak_ptr<Impl> impl_;
  net::io_context& io_;
};

std::shared_ptr<Transport> EmbeddedApiServer::local_transport() { return std::make_shared<Local>(impl_, impl_->io); }

EmbeddedApiServer::EmbeddedApiServer(net::io_context& io, const EmbeddedClusterConfig& config)
    : impl_(std::make_shared<Impl>(io, config)) {}

EmbeddedApiServer::~EmbeddedApiServer() { impl_->stop(); }

std::string EmbeddedApiServer::start() { return impl_->start(); }
void EmbeddedApiServer::stop() { impl_->stop(); }
bool EmbeddedApiServer::idle() const { return impl_->connections->empty(); }
bool EmbeddedApiServer::writable() const { return impl_->writable; }
std::uint16_t EmbeddedApiServer::port() const { return impl_->listener.is_open() ? impl_->listener.port() : 0; }
Store& EmbeddedApiServer::store() { return impl_->store; }

}  // namespace ironboot::kube
