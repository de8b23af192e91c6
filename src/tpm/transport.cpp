#include "tpm/transport.hpp"

#include "tpm/commands.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ironboot::tpm {

namespace {

using Clock = std::chrono::steady_clock;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    return n > 0 && (p.revents & (events | POLLHUP | POLLERR)) != 0;
  }
}

Result<bool> write_all(int fd, std::span<const std::uint8_t> data, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < data.size()) {
    if (!wait_for(fd, POLLOUT, deadline)) return Error{"timed out writing the command"};
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return Error{std::string("write: ") + std::strerror(errno)};
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until `out` holds `want` bytes.
Result<bool> read_exact(int fd, Bytes& out, std::size_t want, Clock::time_point deadline) {
  while (out.size() < want) {
    if (!wait_for(fd, POLLIN, deadline)) return Error{"timed out reading the response"};
    const std::size_t have = out.size();
    out.resize(want);
    const ssize_t n = ::read(fd, out.data() + have, want - have);
    out.resize(have + (n > 0 ? static_cast<std::size_t>(n) : 0));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return Error{std::string("read: ") + std::strerror(errno)};
    if (n == 0) return Error{"the TPM closed the connection"};
  }
  return true;
}

class DeviceTransport : public Transport {
 public:
  DeviceTransport(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
  Result<Bytes> transmit(std::span<const std::uint8_t> command) override {
    const auto deadline = Clock::now() + timeout_;
    auto written = write_all(fd_.get(), command, deadline);
    if (auto* e = std::get_if<Error>(&written)) return *e;
    if (!wait_for(fd_.get(), POLLIN, deadline)) return Error{"timed out waiting for the TPM"};
    // The character device hands over the whole response in one read.
    Bytes out(kMaxResponseBytes);
    const ssize_t n = ::read(fd_.get(), out.data(), out.size());
    if (n < 0) return Error{std::string("read: ") + std::strerror(errno)};
    out.resize(static_cast<std::size_t>(n));
    return out;
  }

 private:
  Fd fd_;
  std::chrono::milliseconds timeout_;
};

class StreamTransport : public Transport {
 public:
  StreamTransport(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}
  Result<Bytes> transmit(std::span<const std::uint8_t> command) override {
    const auto deadline = Clock::now() + timeout_;
    auto written = write_all(fd_.get(), command, deadline);
    if (auto* e = std::get_if<Error>(&written)) return *e;
    Bytes out;
    auto header = read_exact(fd_.get(), out, 10, deadline);
    if (auto* e = std::get_if<Error>(&header)) return *e;
    const std::size_t size = std::size_t{out[2]} << 24 | std::size_t{out[3]} << 16 | std::size_t{out[4]} << 8 | out[5];
    if (size < 10 || size > kMaxResponseBytes) return Error{"response size field " + std::to_string(size)};
    auto body = read_exact(fd_.get(), out, size, deadline);
    if (auto* e = std::get_if<Error>(&body)) return *e;
    return out;
  }

 private:
  Fd fd_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

Result<std::unique_ptr<Transport>> open_device(const std::string& path, std::chrono::milliseconds timeout) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Error{path + ": " + std::strerror(errno)};
  return std::unique_ptr<Transport>(new DeviceTransport(fd, timeout));
}

Result<std::unique_ptr<Transport>> connect_tcp(const std::string& ipv4, std::uint16_t port, std::chrono::milliseconds timeout) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ipv4.c_str(), &addr.sin_addr) != 1) return Error{"not an IPv4 address: " + ipv4};
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error{std::string("socket: ") + std::strerror(errno)};
  auto transport = std::unique_ptr<Transport>(new StreamTransport(fd, timeout));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return Error{std::string("connect: ") + std::strerror(errno)};
    int err = 0;
    socklen_t len = sizeof err;
    if (!wait_for(fd, POLLOUT, Clock::now() + timeout) || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err)
      return Error{"connect to " + ipv4 + ":" + std::to_string(port) + " failed: " + std::strerror(err ? err : ETIMEDOUT)};
  }
  return transport;
}

}  // namespace ironboot::tpm
