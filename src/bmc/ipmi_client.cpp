#include "bmc/ipmi_client.hpp"

#include <openssl/rand.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <unordered_map>
#include <vector>

#include "bmc/ipmi_session.hpp"
#include "common/log.hpp"

namespace ironboot::bmc {
namespace {

namespace asio = boost::asio;
using asio::ip::udp;
using ResultHandler = std::function<void(const ipmi::OperationResult&)>;

void fill_random(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    // RAND_bytes fails only without an entropy source; an all-zero nonce would still work
    // but repeat, so abort the process rather than weaken every session.
    std::abort();
  }
}

class Client final : public IpmiClient, public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, const BmcEndpoint& endpoint, const BmcCredentials& credentials, IpmiOptions options)
      : io_(io), endpoint_(endpoint), options_(options), socket_(io), resolver_(io), timer_(io),
        session_(ipmi::SessionConfig{credentials.username, credentials.password, endpoint.cipher_suite,
                                     options.retransmit, std::chrono::seconds(2), options.attempts,
                                     options.idle_limit, fill_random}) {
    log_ = logger("bmc");
  }

  ~Client() override {
    ipmi::Output out;
    session_.close(out);
    send_all(out);
    for (auto& r : out.results) complete(r);
  }

  void power_status(PowerHandler done) override {
    submit(ipmi::OperationKind::PowerStatus, {}, {},
           [done = std::move(done)](const ipmi::OperationResult& r) { done(r.status, r.power); });
  }
  void power(PowerAction action, StatusHandler done) override {
    submit(ipmi::OperationKind::Power, action, {},
           [done = std::move(done)](const ipmi::OperationResult& r) { done(r.status); });
  }
  void set_next_boot(BootOverride boot, StatusHandler done) override {
    submit(ipmi::OperationKind::SetBoot, {}, boot,
           [done = std::move(done)](const ipmi::OperationResult& r) { done(r.status); });
  }
  void device_id(DeviceIdHandler done) override {
    submit(ipmi::OperationKind::DeviceId, {}, {},
           [done = std::move(done)](const ipmi::OperationResult& r) { done(r.status, r.device); });
  }
  std::optional<int> cipher_suite() const override { return session_.cipher_suite(); }

  void close() override {
    ipmi::Output out;
    session_.close(out);
    handle(out);
    // Operations waiting for the address also end.
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) {
      asio::post(io_, [h = std::move(w.handler)] {
        ipmi::OperationResult r;
        r.status = BmcStatus::failure("Cancelled", "the client was closed");
        h(r);
      });
    }
  }

 private:
  struct Waiting {
    ipmi::Operation op;
    ResultHandler handler;
  };

  void submit(ipmi::OperationKind kind, PowerAction action, BootOverride boot, ResultHandler handler) {
    ipmi::Operation op{kind, action, boot, ipmi::Clock::now() + options_.timeout};
    if (state_ == State::Failed) {
      asio::post(io_, [h = std::move(handler), status = failure_] {
        ipmi::OperationResult r;
        r.status = status;
        h(r);
      });
      return;
    }
    if (state_ != State::Ready) {
      waiting_.push_back(Waiting{op, std::move(handler)});
      if (state_ == State::Fresh) open();
      return;
    }
    start(op, std::move(handler));
  }

  void start(const ipmi::Operation& op, ResultHandler handler) {
    ipmi::Output out;
    const std::uint64_t id = session_.submit(op, ipmi::Clock::now(), out);
    handlers_.emplace(id, std::move(handler));
    handle(out);
  }

  // Resolves the host (an IP literal needs no lookup), then opens and connects the socket.
  void open() {
    state_ = State::Resolving;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(endpoint_.host, ec);
    if (!ec) {
      connect(udp::endpoint(address, endpoint_.port));
      return;
    }
    resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                            [weak = weak_from_this()](const boost::system::error_code& error, udp::resolver::results_type results) {
                              auto self = weak.lock();
                              if (!self) return;
                              if (error || results.empty()) {
                                self->fail_waiting(BmcStatus::failure(
                                    "Unreachable", "cannot resolve " + self->endpoint_.host + ": " + error.message()));
                                return;
                              }
                              self->connect(results.begin()->endpoint());
                            });
  }

  void connect(const udp::endpoint& peer) {
    boost::system::error_code ec;
    socket_.open(peer.protocol(), ec);
    if (!ec) socket_.non_blocking(true, ec);
    if (!ec) socket_.connect(peer, ec);  // only this BMC's datagrams arrive
    if (ec) {
      fail_waiting(BmcStatus::failure("Unreachable", "UDP socket to " + endpoint_.host + ": " + ec.message()));
      return;
    }
    peer_ = peer;
    state_ = State::Ready;
    receive();
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) start(w.op, std::move(w.handler));
  }

  void fail_waiting(BmcStatus status) {
    state_ = State::Failed;
    failure_ = status;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) {
      asio::post(io_, [h = std::move(w.handler), status] {
        ipmi::OperationResult r;
        r.status = status;
        h(r);
      });
    }
  }

  void receive() {
    socket_.async_receive(asio::buffer(buffer_), [weak = weak_from_this()](const boost::system::error_code& ec, std::size_t n) {
      auto self = weak.lock();
      if (!self || ec == asio::error::operation_aborted) return;
      if (ec) {
        // ICMP port unreachable shows up here; the BMC may still come up, so keep listening
        // and let the retransmits and the deadline decide.
        if (ec == asio::error::connection_refused && !self->refused_) {
          self->refused_ = true;
          self->log_->debug("ipmi host={} port={} ICMP port unreachable", self->endpoint_.host, self->endpoint_.port);
        }
      } else {
        ipmi::Output out;
        self->session_.on_datagram(std::span<const std::uint8_t>(self->buffer_.data(), n), ipmi::Clock::now(), out);
        self->handle(out);
      }
      self->receive();
    });
  }

  void handle(ipmi::Output& out) {
    send_all(out);
    for (const auto& note : out.notes) log_->info("ipmi host={} port={} {}", endpoint_.host, endpoint_.port, note);
    for (auto& r : out.results) complete(r);
    if (out.wake) {
      timer_.expires_at(*out.wake);
      timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self || ec) return;
        ipmi::Output next;
        self->session_.on_timer(ipmi::Clock::now(), next);
        self->handle(next);
      });
    } else {
      timer_.cancel();
    }
  }

  void send_all(const ipmi::Output& out) {
    if (!socket_.is_open()) return;
    for (const auto& d : out.datagrams) {
      boost::system::error_code ec;
      socket_.send(asio::buffer(d), 0, ec);  // non-blocking; a lost send is retransmitted
    }
  }

  void complete(const ipmi::OperationResult& r) {
    auto it = handlers_.find(r.id);
    if (it == handlers_.end()) return;
    ResultHandler h = std::move(it->second);
    handlers_.erase(it);
    ipmi::OperationResult result = r;
    if (result.status.reason == "Timeout" && refused_) result.status.message += "; ICMP port unreachable from the BMC's address";
    // Handlers run after this call returns, so one that calls back into the client is safe.
    asio::post(io_, [h = std::move(h), result = std::move(result)] { h(result); });
  }

  enum class State { Fresh, Resolving, Ready, Failed };

  asio::io_context& io_;
  BmcEndpoint endpoint_;
  IpmiOptions options_;
  udp::socket socket_;
  udp::resolver resolver_;
  asio::steady_timer timer_;
  ipmi::Session session_;
  std::shared_ptr<spdlog::logger> log_;
  State state_ = State::Fresh;
  BmcStatus failure_;
  udp::endpoint peer_;
  bool refused_ = false;
  std::array<std::uint8_t, ipmi::kMaxDatagram> buffer_{};
  std::vector<Waiting> waiting_;
  std::unordered_map<std::uint64_t, ResultHandler> handlers_;
};

}  // namespace

std::shared_ptr<BmcClient> make_ipmi_client(boost::asio::io_context& io, const BmcEndpoint& endpoint,
                                            const BmcCredentials& credentials, IpmiOptions options) {
  return std::make_shared<Client>(io, endpoint, credentials, options);
}

}  // namespace ironboot::bmc
