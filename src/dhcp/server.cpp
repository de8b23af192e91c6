// Thin I/O shell around the codec and the policy. One io_context thread; when a socket is
// readable it is drained with recvmmsg() in batches and the replies of each batch go out in
// one sendmmsg(), so a flood costs a few syscalls per batch instead of two per datagram, and
// every buffer (datagrams, parsed request, reply, wire bytes) is reused: the per-packet path
// does not allocate.
#include "dhcp/server.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/net.hpp"
#include "dhcp/message.hpp"
#include "dhcp/policy.hpp"

namespace ironboot {
namespace dhcp {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

constexpr std::size_t kReceiveBuffer = 4096;    // DHCP packets are < 1500; bigger is not ours
constexpr std::size_t kReplyBuffer = 1500;      // our replies are ~350 bytes
// Datagrams per recvmmsg()/sendmmsg(). Small enough that the replies of one batch do not
// arrive at a client as one long burst, large enough to amortise the syscalls in a flood.
constexpr unsigned kBatch = 32;
constexpr int kBatchesPerWakeup = 8;            // then let other handlers run before going on
constexpr int kSocketBuffer = 4 * 1024 * 1024;  // absorbs bursts while we answer

std::uint64_t mac_key(const Message& m) {
  std::uint64_t k = 0;
  for (int i = 0; i < 6; ++i) k = (k << 8) | m.chaddr[i];
  return k;
}

struct Counters {
  Counter* received[2];
  Counter* offers;
  Counter* acks;
  Counter* send_errors;
  std::array<Counter*, kDropReasonCount> dropped{};

  Counters(std::uint16_t port, std::uint16_t pxe_port) {
    auto& reg = metrics();
    const char* rhelp = "DHCP datagrams received, by local port";
    received[0] = &reg.counter("ironboot_dhcp_received_total", rhelp, {{"port", std::to_string(port)}});
    received[1] = &reg.counter("ironboot_dhcp_received_total", rhelp, {{"port", std::to_string(pxe_port)}});
    const char* ahelp = "proxyDHCP replies sent, by message type";
    offers = &reg.counter("ironboot_dhcp_answered_total", ahelp, {{"type", "offer"}});
    acks = &reg.counter("ironboot_dhcp_answered_total", ahelp, {{"type", "ack"}});
    send_errors = &reg.counter("ironboot_dhcp_send_errors_total", "proxyDHCP replies the kernel refused");
    for (std::size_t i = 1; i < kDropReasonCount; ++i) {
      dropped[i] = &reg.counter("ironboot_dhcp_dropped_total", "DHCP datagrams not answered, by reason",
                                {{"reason", to_string(static_cast<DropReason>(i))}});
    }
  }
};

class DhcpService;

// One UDP socket (67 or 4011) bound to the provisioning interface.
class Listener {
 public:
  Listener(asio::io_context& io, DhcpService& owner, bool pxe_port) : socket_(io), owner_(owner), pxe_port_(pxe_port) {}

  std::string open(const std::string& ifname, std::uint16_t port) {
    boost::system::error_code ec;
    socket_.open(udp::v4(), ec);
    if (ec) return "socket: " + ec.message();
    const int fd = socket_.native_handle();
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname.c_str(), static_cast<socklen_t>(ifname.size())) != 0) {
      return "SO_BINDTODEVICE " + ifname + ": " + std::strerror(errno);
    }
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0 ||
        ::setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0) {
      return std::string("setsockopt: ") + std::strerror(errno);
    }
    set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF);
    set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF);
    socket_.bind(udp::endpoint(udp::v4(), port), ec);
    if (ec) return "bind 0.0.0.0:" + std::to_string(port) + " on " + ifname + ": " + ec.message();
    socket_.non_blocking(true, ec);
    if (ec) return "non_blocking: " + ec.message();
    return {};
  }

  void start() { wait(); }
  void close() {
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  // Best effort: a larger buffer only absorbs bursts better. The FORCE variant (needs
  // CAP_NET_ADMIN) may exceed net.core.[rw]mem_max; without the capability the plain one
  // is clamped to it.
  static void set_buffer(int fd, int force_option, int option) {
    if (::setsockopt(fd, SOL_SOCKET, force_option, &kSocketBuffer, sizeof kSocketBuffer) != 0) {
      ::setsockopt(fd, SOL_SOCKET, option, &kSocketBuffer, sizeof kSocketBuffer);
    }
  }

  void wait();
  void drain();
  // Reads up to kBatch datagrams; returns how many, or -1 (errno EAGAIN when none is queued).
  int receive_batch(int fd);
  // Answers datagrams [0, count) of the batch; returns how many replies it prepared.
  unsigned answer_batch(int count);
  void send_batch(int fd, unsigned count);

  struct alignas(cmsghdr) PktinfoControl {
    std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> bytes;
  };
  // Everything one batch needs, allocated once per listener.
  struct Batch {
    std::array<std::array<std::uint8_t, kReceiveBuffer>, kBatch> datagrams;
    std::array<sockaddr_in, kBatch> from;
    std::array<iovec, kBatch> in_iov;
    std::array<PktinfoControl, kBatch> in_control;
    std::array<mmsghdr, kBatch> in;
    std::array<std::array<std::uint8_t, kReplyBuffer>, kBatch> replies;
    std::array<sockaddr_in, kBatch> to;
    std::array<iovec, kBatch> out_iov;
    std::array<PktinfoControl, kBatch> out_control;
    std::array<mmsghdr, kBatch> out;
    std::array<Destination, kBatch> destinations;  // for the send-error log
    unsigned filled = 0;                           // receive headers used by the last call

    Batch() {
      for (unsigned i = 0; i < kBatch; ++i) {
        in_iov[i] = iovec{datagrams[i].data(), datagrams[i].size()};
        msghdr& h = in[i].msg_hdr;
        h = msghdr{};
        h.msg_name = &from[i];
        h.msg_namelen = sizeof from[i];
        h.msg_iov = &in_iov[i];
        h.msg_iovlen = 1;
        h.msg_control = in_control[i].bytes.data();
        h.msg_controllen = in_control[i].bytes.size();
      }
    }
  };

  udp::socket socket_;
  DhcpService& owner_;
  bool pxe_port_;
  std::unique_ptr<Batch> batch_ = std::make_unique<Batch>();
};

class DhcpService final : public Service {
 public:
  DhcpService(asio::io_context& io, const Config& config)
      : io_(io), config_(config), counters_(config.dhcp.port, config.dhcp.pxe_port), log_(logger("dhcp")) {}

  const char* name() const override { return "dhcp"; }

  std::string start() override {
    std::string error;
    auto pc = policy_config_from(config_, &error);
    if (!pc) return error;
    policy_ = std::move(*pc);
    if (!interface_index(config_.interface)) return "interface '" + config_.interface + "' does not exist";
    listeners_[0] = std::make_unique<Listener>(io_, *this, false);
    listeners_[1] = std::make_unique<Listener>(io_, *this, true);
    if (auto e = listeners_[0]->open(config_.interface, config_.dhcp.port); !e.empty()) return e;
    if (auto e = listeners_[1]->open(config_.interface, config_.dhcp.pxe_port); !e.empty()) return e;
    for (auto& l : listeners_) l->start();
    log_->info("listening interface={} ports={},{} bios={} efi_x86_64={} efi_arm64={}", config_.interface,
               config_.dhcp.port, config_.dhcp.pxe_port, policy_.bios, policy_.efi_x86_64, policy_.efi_arm64);
    return {};
  }

  void stop() override {
    for (auto& l : listeners_) {
      if (l) l->close();
    }
  }

  void reload(const Config& next) override {
    std::string error;
    auto pc = policy_config_from(next, &error);
    if (!pc) {
      log_->error("reload rejected: {}", error);
      return;
    }
    if (next.interface != config_.interface || next.dhcp.port != config_.dhcp.port ||
        next.dhcp.pxe_port != config_.dhcp.pxe_port) {
      log_->warn("interface and ports change only on restart; boot settings reloaded");
    }
    policy_ = std::move(*pc);
    unsupported_logged_.reset();
  }

  // The per-datagram path. `local` is our address on the receiving interface (IP_PKTINFO).
  // Writes the reply into `out`, its length into `out_size`, and returns where it goes; or nothing.
  std::optional<Destination> handle(std::span<const std::uint8_t> datagram, bool pxe_port, Ipv4 local,
                                    Ipv4 source, std::uint16_t source_port, std::span<std::uint8_t> out,
                                    std::size_t& out_size) {
    counters_.received[pxe_port]->inc();
    // Cheap early rejects before parsing: size, BOOTREQUEST, cookie.
    if (datagram.size() < kOptionsOffset || datagram[0] != kBootRequest) {
      return drop(datagram.size() < kOptionsOffset ? DropReason::malformed : DropReason::not_boot_request, source);
    }
    const ParseError pe = parse(datagram, request_, ParseLimits{config_.dhcp.max_option_instances});
    if (pe != ParseError::ok) {
      const auto reason = pe == ParseError::too_many_options ? DropReason::too_many_options : DropReason::malformed;
      if (log_->should_log(spdlog::level::debug)) {
        log_->debug("drop reason={} error={} peer={} size={}", to_string(reason), to_string(pe), source.to_string(),
                    datagram.size());
      }
      counters_.dropped[static_cast<std::size_t>(reason)]->inc();
      return std::nullopt;
    }
    if (local.value == 0) local = interface_ipv4(config_.interface).value_or(Ipv4{});
    if (local.value == 0) return drop(DropReason::no_local_address, source);
    const Receipt receipt{local, pxe_port, source, source_port};
    const Decision d = answer(request_, receipt, policy_, reply_);
    if (!d.answered()) {
      counters_.dropped[static_cast<std::size_t>(d.reason)]->inc();
      if (d.reason == DropReason::unsupported_arch && unsupported_logged_.first(mac_key(request_))) {
        log_->info("no boot binary for client arch={} mac={} xid={:#010x}: configure boot.binaries to boot it", d.arch,
                   request_.mac(), request_.xid);
      } else if (log_->should_log(spdlog::level::debug)) {
        log_->debug("drop reason={} mac={} xid={:#010x} peer={} port={}", to_string(d.reason), request_.mac(),
                    request_.xid, source.to_string(), pxe_port ? config_.dhcp.pxe_port : config_.dhcp.port);
      }
      return std::nullopt;
    }
    out_size = serialize(reply_, out);
    if (out_size == 0) return std::nullopt;  // cannot happen with our option sizes; never send garbage
    (d.reply_type == MessageType::offer ? counters_.offers : counters_.acks)->inc();
    const Destination dst = reply_destination(request_, receipt);
    if (log_->should_log(spdlog::level::debug)) {
      log_->debug("answer type={} mac={} xid={:#010x} arch={} boot={} file=\"{}\" to={}:{}", to_string(d.reply_type),
                  request_.mac(), request_.xid, d.arch, to_string(d.kind), bootfile_name(reply_).value_or(""),
                  dst.address.to_string(), dst.port);
    }
    return dst;
  }

  void count_send_error(int err, const Destination& dst) {
    counters_.send_errors->inc();
    log_->debug("send failed to={}:{} error=\"{}\"", dst.address.to_string(), dst.port, std::strerror(err));
  }
  void count_oversize(Ipv4 source) { drop(DropReason::oversize, source); }

 private:
  std::optional<Destination> drop(DropReason r, Ipv4 source) {
    counters_.dropped[static_cast<std::size_t>(r)]->inc();
    if (log_->should_log(spdlog::level::debug)) log_->debug("drop reason={} peer={}", to_string(r), source.to_string());
    return std::nullopt;
  }

  asio::io_context& io_;
  Config config_;
  PolicyConfig policy_;
  Counters counters_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<Listener> listeners_[2];
  Message request_;
  Message reply_;
  OncePerKey unsupported_logged_;
};

void Listener::wait() {
  socket_.async_wait(udp::socket::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // closed
    drain();
  });
}

void Listener::drain() {
  if (!socket_.is_open()) return;  // stopped while a continuation was queued
  const int fd = socket_.native_handle();
  for (int n = 0; n < kBatchesPerWakeup; ++n) {
    const int got = receive_batch(fd);
    if (got < 0) {
      if (errno == EINTR) continue;
      // EAGAIN: drained. Any other error (e.g. one a failed send left on the socket, reported
      // once) also ends this round: async_wait re-checks readiness, so queued datagrams still
      // wake us at once.
      return wait();
    }
    send_batch(fd, answer_batch(got));
    // A short batch means the queue was empty: wait for the next datagram.
    if (static_cast<unsigned>(got) < kBatch) return wait();
  }
  // Still more queued: let the other handlers run, then carry on without a trip through epoll.
  asio::post(socket_.get_executor(), [this] { drain(); });
}

int Listener::receive_batch(int fd) {
  Batch& b = *batch_;
  // The kernel rewrites the lengths and flags of the headers it filled last time; the rest
  // stays as set up once.
  for (unsigned i = 0; i < b.filled; ++i) {
    msghdr& h = b.in[i].msg_hdr;
    h.msg_namelen = sizeof b.from[i];
    h.msg_controllen = b.in_control[i].bytes.size();
    h.msg_flags = 0;
  }
  const int got = ::recvmmsg(fd, b.in.data(), kBatch, MSG_DONTWAIT, nullptr);
  b.filled = got > 0 ? static_cast<unsigned>(got) : 0;
  return got;
}

unsigned Listener::answer_batch(int count) {
  Batch& b = *batch_;
  unsigned replies = 0;
  for (int i = 0; i < count; ++i) {
    msghdr& h = b.in[i].msg_hdr;
    const Ipv4 source{ntohl(b.from[i].sin_addr.s_addr)};
    if (h.msg_flags & MSG_TRUNC) {
      owner_.count_oversize(source);
      continue;
    }
    Ipv4 local{};
    int ifindex = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        local = Ipv4{ntohl(info.ipi_spec_dst.s_addr)};
        ifindex = info.ipi_ifindex;
      }
    }
    std::size_t size = 0;
    const auto dst = owner_.handle({b.datagrams[i].data(), b.in[i].msg_len}, pxe_port_, local, source,
                                   ntohs(b.from[i].sin_port), b.replies[replies], size);
    if (!dst) continue;

    // Reply out of the receiving interface, from our address on it.
    const unsigned r = replies++;
    b.destinations[r] = *dst;
    sockaddr_in& to = b.to[r];
    to = sockaddr_in{};
    to.sin_family = AF_INET;
    to.sin_port = htons(dst->port);
    to.sin_addr.s_addr = htonl(dst->address.value);
    b.out_iov[r] = iovec{b.replies[r].data(), size};
    auto& control = b.out_control[r].bytes;
    control.fill(0);
    msghdr& out = b.out[r].msg_hdr;
    out = msghdr{};
    out.msg_name = &to;
    out.msg_namelen = sizeof to;
    out.msg_iov = &b.out_iov[r];
    out.msg_iovlen = 1;
    out.msg_control = control.data();
    out.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&out);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_ifindex = ifindex;
    info.ipi_spec_dst.s_addr = htonl(local.value);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
  }
  return replies;
}

void Listener::send_batch(int fd, unsigned count) {
  Batch& b = *batch_;
  unsigned sent = 0;
  while (sent < count) {
    const int n = ::sendmmsg(fd, &b.out[sent], count - sent, MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<unsigned>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      // The kernel refused the first unsent reply: count it and go on with the rest.
      owner_.count_send_error(n < 0 ? errno : EIO, b.destinations[sent]);
      ++sent;
    }
  }
}

}  // namespace
}  // namespace dhcp

std::unique_ptr<Service> make_dhcp_service(boost::asio::io_context& io, const Config& config) {
  return std::make_unique<dhcp::DhcpService>(io, config);
}

}  // namespace ironboot
