#include "tftp/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/net.hpp"
#include "tftp/batch_sink.hpp"
#include "tftp/codec.hpp"
#include "tftp/file_store.hpp"
#include "tftp/transfer.hpp"

namespace ironboot {
namespace {

namespace asio = boost::asio;
using namespace tftp;

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr std::size_t kRecvBatch = 16;
constexpr std::size_t kRecvSize = 2048;  // requests and ACKs; bigger datagrams are dropped
constexpr int kMaxEvents = 64;
constexpr std::uint64_t kListenerId = 0;

std::uint64_t peer_key(const sockaddr_in& a) {
  return (std::uint64_t{a.sin_addr.s_addr} << 16) | a.sin_port;
}

std::string peer_text(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
  return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

struct Metrics {
  Counter& started = metrics().counter("ironboot_tftp_transfers_started_total", "TFTP read transfers started");
  Counter& completed = metrics().counter("ironboot_tftp_transfers_completed_total", "TFTP transfers acknowledged to the last block");
  Counter& failed_timeout = failed("timed_out");
  Counter& failed_lifetime = failed("lifetime_exceeded");
  Counter& failed_client = failed("client_error");
  Counter& failed_read = failed("read_error");
  Counter& failed_protocol = failed("protocol_error");
  Counter& options_refused = metrics().counter(
      "ironboot_tftp_transfers_options_refused_total",
      "Transfers the client ended with ERROR 8 after our OACK (EDK2 asks for tsize this way)");
  Counter& bytes = metrics().counter("ironboot_tftp_bytes_sent_total", "File bytes sent in DATA packets, retransmissions included");
  Counter& retransmits = metrics().counter("ironboot_tftp_retransmits_total", "DATA and OACK packets sent again");
  Counter& send_dropped = metrics().counter("ironboot_tftp_send_dropped_total", "Packets the kernel refused to queue");
  Gauge& active = metrics().gauge("ironboot_tftp_active_transfers", "TFTP transfers in progress");

  static Counter& failed(const char* reason) {
    return metrics().counter("ironboot_tftp_transfers_failed_total", "TFTP transfers that did not complete",
                             {{"reason", reason}});
  }
  static Counter& refused(const char* reason) {
    return metrics().counter("ironboot_tftp_requests_refused_total", "Requests answered with an ERROR",
                             {{"reason", reason}});
  }
};

struct Session {
  Session(const sockaddr_in& p, Transfer t) : peer(p), transfer(std::move(t)) {}
  ~Session() {
    if (fd >= 0) ::close(fd);
  }
  sockaddr_in peer;
  Transfer transfer;
  std::uint64_t id = 0;
  int fd = -1;  // the transfer's own socket; -1 in single-port mode
  std::string filename;
  std::uint64_t reported_bytes = 0;
  std::uint64_t reported_retransmits = 0;
  bool closed = false;
};

// Receive buffers for recvmmsg, shared by every socket (one thread).
struct RecvBatch {
  std::array<std::array<std::uint8_t, kRecvSize>, kRecvBatch> bufs{};
  std::array<sockaddr_in, kRecvBatch> from{};
  std::array<iovec, kRecvBatch> iovs{};
  std::array<mmsghdr, kRecvBatch> msgs{};

  // Returns the number of datagrams read, 0 when none is waiting, -1 on error.
  int receive(int fd) {
    for (std::size_t i = 0; i < kRecvBatch; ++i) {
      iovs[i] = iovec{bufs[i].data(), bufs[i].size()};
      auto& h = msgs[i].msg_hdr;
      h = msghdr{};
      h.msg_name = &from[i];
      h.msg_namelen = sizeof(sockaddr_in);
      h.msg_iov = &iovs[i];
      h.msg_iovlen = 1;
    }
    for (;;) {
      const int n = ::recvmmsg(fd, msgs.data(), kRecvBatch, MSG_DONTWAIT, nullptr);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
  }
  std::span<const std::uint8_t> packet(std::size_t i) const {
    return {bufs[i].data(), msgs[i].msg_len};
  }
  bool truncated(std::size_t i) const { return (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0; }
};

class TftpService final : public Service {
 public:
  TftpService(asio::io_context& io, const Config& config) : io_(io), tick_(io), log_(logger("tftp")) {
    apply(config);
  }

  ~TftpService() override { close_listener(); }

  const char* name() const override { return "tftp"; }

  std::string start() override {
    const auto addr = interface_ipv4(interface_);
    if (!addr) return "tftp: interface " + interface_ + " has no IPv4 address";
    local_.sin_family = AF_INET;
    local_.sin_addr.s_addr = htonl(addr->value);
    local_.sin_port = 0;
    sockaddr_in listen_addr = local_;
    listen_addr.sin_port = htons(port_);
    std::string err;
    const int fd = open_socket(listen_addr, err);
    if (fd < 0) return "tftp: " + err;
    listener_fd_ = fd;
    // Every client's first packet lands here, beside whatever a flooding host sends: a large
    // buffer keeps a burst of requests from crowding out real clients' ones (best effort; the
    // FORCE variant needs CAP_NET_ADMIN and may exceed net.core.rmem_max).
    constexpr int kListenerBuffer = 4 * 1024 * 1024;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &kListenerBuffer, sizeof kListenerBuffer) != 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kListenerBuffer, sizeof kListenerBuffer);
    }
    // Every socket sits in one level-triggered epoll set, and the event loop waits on that
    // set: a ready socket costs one recvmmsg, with no re-arming per packet.
    const int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return std::string("tftp: epoll_create1: ") + std::strerror(errno);
    epoll_ = std::make_unique<asio::posix::stream_descriptor>(io_, epfd);
    watch(listener_fd_, kListenerId);
    log_->info("listening address={} root={} max_block_size={} single_port={}", peer_text(listen_addr),
               root_, limits_.max_block_size, single_port_);
    wait_events();
    return {};
  }

  void stop() override {
    stopping_ = true;
    // Per-transfer sockets keep going; in single-port mode the listener carries them.
    if (sessions_.empty()) {
      close_all();
    } else if (!single_port_) {
      close_listener();
    }
  }

  void reload(const Config& config) override { apply(config); }

  bool idle() const override { return sessions_.empty(); }

 private:
  void apply(const Config& config) {
    const auto& t = config.tftp;
    if (!applied_) {
      interface_ = config.interface;
      port_ = t.port;
    }
    root_ = t.root;
    // A reload cannot rebind or move live transfers between sockets: port, interface and
    // single_port take effect at the next start.
    if (!applied_) single_port_ = t.single_port;
    applied_ = true;
    max_transfers_ = t.max_transfers;
    max_per_client_ = t.max_transfers_per_client;
    limits_.first_ack_timeout = std::chrono::seconds(t.first_ack_timeout_seconds);
    limits_.max_lifetime = std::chrono::seconds(t.max_transfer_seconds);
    limits_.max_block_size = t.max_block_size;
    if (limits_.max_block_size == 0) {
      // IP (20) + UDP (8) + TFTP (4) headers must fit in one frame: no fragmentation.
      const auto mtu = interface_mtu(config.interface).value_or(1500);
      limits_.max_block_size = std::clamp<std::uint32_t>(mtu > 32 ? mtu - 32 : 512, 512, 65464);
    }
    store_ = std::make_unique<DiskFileStore>(
        FileStoreOptions{t.root, t.follow_symlinks_into, t.cache_max_file_size, 16 * t.cache_max_file_size});
  }

  int open_socket(const sockaddr_in& addr, std::string& err) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = std::string("socket: ") + std::strerror(errno);
      return -1;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      err = "bind " + peer_text(addr) + ": " + std::strerror(errno);
      ::close(fd);
      return -1;
    }
    return fd;
  }

  void watch(int fd, std::uint64_t id) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    ::epoll_ctl(epoll_->native_handle(), EPOLL_CTL_ADD, fd, &ev);
  }

  void close_listener() {
    if (listener_fd_ < 0) return;
    ::close(listener_fd_);  // leaves the epoll set with it
    listener_fd_ = -1;
  }

  void close_all() {
    close_listener();
    tick_.cancel();
    if (epoll_) {
      boost::system::error_code ec;
      epoll_->close(ec);
    }
  }

  void wait_events() {
    if (!epoll_ || !epoll_->is_open()) return;
    epoll_->async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
      if (ec) return;
      on_events();
      wait_events();
    });
  }

  void on_events() {
    std::array<epoll_event, kMaxEvents> events;
    const int n = ::epoll_wait(epoll_->native_handle(), events.data(), kMaxEvents, 0);
    for (int i = 0; i < n; ++i) {
      const auto id = events[static_cast<std::size_t>(i)].data.u64;
      if (id == kListenerId) {
        if (listener_fd_ >= 0) read_listener();
      } else if (auto it = by_id_.find(id); it != by_id_.end()) {
        const auto session = it->second;  // a copy: finishing erases the map entry
        read_session(session);  // ids are never reused: a finished transfer is not found
      }
    }
  }

  // One batch per readiness event; level-triggered epoll reports the rest next time, so a
  // busy socket cannot starve the others.
  void read_listener() {
    const int n = recv_.receive(listener_fd_);
    const auto now = Clock::now();
    for (int i = 0; i < n && listener_fd_ >= 0; ++i) on_listener_packet(static_cast<std::size_t>(i), now);
  }

  void on_listener_packet(std::size_t i, TimePoint now) {
    if (recv_.truncated(i)) return;
    const auto& from = recv_.from[i];
    const int fd = listener_fd_;
    if (single_port_) {
      if (auto it = sessions_.find(peer_key(from)); it != sessions_.end()) {
        const auto session = it->second;  // a copy: finishing erases the map entry
        deliver(session, recv_.packet(i), now, fd);
        return;
      }
    }
    const auto parsed = parse(recv_.packet(i));
    if (!parsed.ok()) {
      log_->debug("drop reason={} peer={}", to_string(parsed.error()), peer_text(from));
      return;
    }
    const auto* request = std::get_if<Request>(&parsed.packet());
    if (request == nullptr) {
      // Only requests start transfers; anything else belongs to no transfer we know.
      if (!std::holds_alternative<Error>(parsed.packet())) send_error(fd, from, ErrorCode::unknown_tid, "unknown transfer ID");
      return;
    }
    on_request(*request, from, now);
  }

  void refuse(int fd, const sockaddr_in& to, ErrorCode code, const char* message, const char* reason,
              const std::string& filename) {
    Metrics::refused(reason).inc();
    log_->debug("refused reason={} peer={} file=\"{}\"", reason, peer_text(to), filename);
    send_error(fd, to, code, message);
  }

  void on_request(const Request& request, const sockaddr_in& from, TimePoint now) {
    const int fd = listener_fd_;
    if (sessions_.count(peer_key(from)) != 0) return;  // a retransmitted request: already served
    if (stopping_) return;
    if (request.write) return refuse(fd, from, ErrorCode::access_violation, "read-only server", "write", request.filename);
    if (request.mode == "mail") return refuse(fd, from, ErrorCode::illegal_operation, "mail mode not supported", "mode", request.filename);
    if (sessions_.size() >= max_transfers_) return refuse(fd, from, ErrorCode::disk_full, "server busy, try again", "busy", request.filename);
    if (auto it = per_client_.find(from.sin_addr.s_addr); it != per_client_.end() && it->second >= max_per_client_) {
      return refuse(fd, from, ErrorCode::disk_full, "too many transfers from this address", "per_client",
                    request.filename);
    }
    auto opened = store_->open(request.filename, request.mode == "netascii");
    if (!opened.source) {
      const char* msg = opened.error == ErrorCode::file_not_found   ? "file not found"
                        : opened.error == ErrorCode::access_violation ? "access violation"
                                                                      : "cannot serve this file";
      return refuse(fd, from, opened.error, msg, opened.reason, request.filename);
    }
    auto negotiated = negotiate(request.options, limits_, opened.source->size());
    auto session = std::make_shared<Session>(from, Transfer(std::move(opened.source), std::move(negotiated), limits_));
    session->filename = request.filename;
    int out_fd = fd;
    if (!single_port_) {
      std::string err;
      const int tfd = open_socket(local_, err);
      if (tfd < 0) {
        log_->warn("transfer socket failed error=\"{}\"", err);
        return refuse(fd, from, ErrorCode::not_defined, "no transfer socket", "socket", request.filename);
      }
      session->fd = tfd;
      out_fd = tfd;
    }
    session->id = next_id_++;
    sessions_.emplace(peer_key(from), session);
    ++per_client_[from.sin_addr.s_addr];
    if (session->fd >= 0) {
      by_id_.emplace(session->id, session);
      watch(session->fd, session->id);
    }
    m_.started.inc();
    m_.active.set(static_cast<double>(sessions_.size()));
    const auto& n = session->transfer.negotiated();
    log_->debug("transfer start peer={} file=\"{}\" mode={} blksize={} windowsize={} size={}", peer_text(from),
                request.filename, request.mode, n.block_size, n.window_size, session->transfer.total_blocks());
    sink_.begin(out_fd, from);
    session->transfer.start(now, sink_);
    after_event(session);
    if (!tick_armed_) arm_tick();
  }

  void deliver(const std::shared_ptr<Session>& s, std::span<const std::uint8_t> bytes, TimePoint now, int fd) {
    const auto parsed = parse(bytes);
    if (!parsed.ok()) {
      log_->debug("drop reason={} peer={}", to_string(parsed.error()), peer_text(s->peer));
      return;
    }
    sink_.begin(fd, s->peer);
    s->transfer.on_packet(parsed.packet(), now, sink_);
    after_event(s);
  }

  void read_session(const std::shared_ptr<Session>& s) {
    const int fd = s->fd;
    const int n = recv_.receive(fd);
    const auto now = Clock::now();
    for (int i = 0; i < n && !s->closed; ++i) {
      const auto idx = static_cast<std::size_t>(i);
      if (recv_.truncated(idx)) continue;
      const auto& from = recv_.from[idx];
      if (from.sin_addr.s_addr != s->peer.sin_addr.s_addr || from.sin_port != s->peer.sin_port) {
        // Someone else's packet: tell them, leave the transfer alone (RFC 1350 section 4).
        const auto parsed = parse(recv_.packet(idx));
        if (!parsed.ok() || !std::holds_alternative<Error>(parsed.packet())) {
          Metrics::refused("unknown_tid").inc();
          send_error(fd, from, ErrorCode::unknown_tid, "unknown transfer ID");
        }
        continue;
      }
      deliver(s, recv_.packet(idx), now, fd);
    }
  }

  // Sends what the event produced, updates the counters, ends finished transfers.
  void after_event(const std::shared_ptr<Session>& s) {
    m_.send_dropped.inc(sink_.flush());
    const auto& t = s->transfer;
    m_.bytes.inc(t.payload_bytes_sent() - s->reported_bytes);
    s->reported_bytes = t.payload_bytes_sent();
    m_.retransmits.inc(t.retransmitted_packets() - s->reported_retransmits);
    s->reported_retransmits = t.retransmitted_packets();
    if (t.finished()) finish(s);
  }

  void finish(const std::shared_ptr<Session>& s) {
    const auto outcome = s->transfer.outcome();
    switch (outcome) {
      case Outcome::completed: m_.completed.inc(); break;
      case Outcome::options_refused: m_.options_refused.inc(); break;
      case Outcome::timed_out: m_.failed_timeout.inc(); break;
      case Outcome::lifetime_exceeded: m_.failed_lifetime.inc(); break;
      case Outcome::client_error: m_.failed_client.inc(); break;
      case Outcome::read_error: m_.failed_read.inc(); break;
      case Outcome::protocol_error: m_.failed_protocol.inc(); break;
      case Outcome::running: break;
    }
    log_->debug("transfer end peer={} file=\"{}\" outcome={} bytes={} retransmits={}", peer_text(s->peer),
                s->filename, to_string(outcome), s->transfer.payload_bytes_sent(),
                s->transfer.retransmitted_packets());
    s->closed = true;
    if (s->fd >= 0) {
      ::close(s->fd);
      s->fd = -1;
      by_id_.erase(s->id);
    }
    if (sessions_.erase(peer_key(s->peer)) != 0) {
      if (auto it = per_client_.find(s->peer.sin_addr.s_addr); it != per_client_.end() && --it->second == 0) {
        per_client_.erase(it);
      }
    }
    m_.active.set(static_cast<double>(sessions_.size()));
    if (stopping_ && sessions_.empty()) close_all();
  }

  void arm_tick() {
    tick_armed_ = true;
    tick_.expires_after(kTick);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      tick_armed_ = false;
      if (ec) return;
      on_tick();
      if (!sessions_.empty()) arm_tick();
    });
  }

  void on_tick() {
    const auto now = Clock::now();
    expired_.clear();
    for (auto& [key, s] : sessions_) {
      if (s->transfer.deadline() <= now) expired_.push_back(s);
    }
    for (auto& s : expired_) {
      if (s->closed) continue;
      const int fd = s->fd >= 0 ? s->fd : listener_fd_;
      if (fd < 0) continue;
      sink_.begin(fd, s->peer);
      s->transfer.on_timer(now, sink_);
      if (s->transfer.outcome() == Outcome::timed_out) {
        log_->debug("transfer timeout peer={} file=\"{}\" acked={}/{}", peer_text(s->peer), s->filename,
                    s->transfer.acked_blocks(), s->transfer.total_blocks());
      }
      after_event(s);
    }
    expired_.clear();
  }

  void send_error(int fd, const sockaddr_in& to, ErrorCode code, const char* message) {
    std::array<std::uint8_t, 128> buf{};
    const auto len = write_error(buf, static_cast<std::uint16_t>(code), message);
    ::sendto(fd, buf.data(), len, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  }

  asio::io_context& io_;
  asio::steady_timer tick_;
  bool tick_armed_ = false;
  std::shared_ptr<spdlog::logger> log_;
  Metrics m_;
  std::string interface_;
  std::uint16_t port_ = 69;
  std::string root_;
  bool single_port_ = false;
  bool applied_ = false;
  std::uint32_t max_transfers_ = 2000;
  std::uint32_t max_per_client_ = 16;
  std::unordered_map<std::uint32_t, std::uint32_t> per_client_;  // transfers by client IPv4 address
  TransferLimits limits_;
  std::unique_ptr<DiskFileStore> store_;
  sockaddr_in local_{};
  int listener_fd_ = -1;
  std::unique_ptr<asio::posix::stream_descriptor> epoll_;
  std::uint64_t next_id_ = kListenerId + 1;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> by_id_;
  bool stopping_ = false;
  std::unordered_map<std::uint64_t, std::shared_ptr<Session>> sessions_;
  std::vector<std::shared_ptr<Session>> expired_;
  RecvBatch recv_;
  BatchSink sink_;
};

}  // namespace

std::unique_ptr<Service> make_tftp_service(asio::io_context& io, const Config& config) {
  return std::make_unique<TftpService>(io, config);
}

}  // namespace ironboot
