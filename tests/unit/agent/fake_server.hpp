// A scripted HTTP/1.1 server on 127.0.0.1 for the agent client tests: each accepted
// connection gets the next scripted reply (or the last one again), and requests are recorded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ironboot::agent::testing {

struct Reply {
  Reply(int s = 200, std::string b = {}, std::chrono::milliseconds d = {}, bool h = false, std::string t = {})
      : status(s), body(std::move(b)), delay(d), hang_up(h), session(std::move(t)) {}
  int status = 200;
  std::string body;
  std::chrono::milliseconds delay{0};  // held before answering (long-poll)
  bool hang_up = false;                // close without an answer
  std::string session;                 // sent as Ironboot-Session (a renewed session token)
};

struct Recorded {
  std::string method, target, authorization, body;
};

class FakeServer {
 public:
  explicit FakeServer(std::vector<Reply> script) : script_(std::move(script)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<Recorded> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      serve(c);
      ::close(c);
    }
  }

  void serve(int c) {
    std::string data;
    char buf[4096];
    std::size_t header_end = std::string::npos;
    std::size_t content_length = 0;
    while (true) {
      if (header_end != std::string::npos && data.size() >= header_end + 4 + content_length) break;
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) return;
      auto n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      data.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        auto cl = lower(data.substr(0, header_end)).find("content-length:");
        if (cl != std::string::npos) content_length = std::stoul(data.substr(cl + 15));
      }
    }
    Recorded r;
    auto line_end = data.find("\r\n");
    auto first = data.substr(0, line_end);
    r.method = first.substr(0, first.find(' '));
    r.target = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
    auto headers = data.substr(0, header_end);
    auto auth = lower(headers).find("authorization:");
    if (auth != std::string::npos) {
      auto v = headers.substr(auth + 14, headers.find("\r\n", auth) - auth - 14);
      r.authorization = v.substr(v.find_first_not_of(' '));
    }
    r.body = data.substr(header_end + 4);
    Reply reply;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
      reply = script_[std::min(next_, script_.size() - 1)];
      ++next_;
    }
    // Hold the reply like a long-poll, but give up at once if we are being stopped.
    for (auto waited = std::chrono::milliseconds(0); waited < reply.delay && !stop_; waited += std::chrono::milliseconds(10))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (reply.hang_up) return;
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nContent-Type: application/json\r\n" +
                      (reply.session.empty() ? std::string() : "Ironboot-Session: " + reply.session + "\r\n") +
                      "Content-Length: " + std::to_string(reply.body.size()) + "\r\nConnection: close\r\n\r\n" +
                      reply.body;
    ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
  }

  static std::string lower(std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  }

  std::vector<Reply> script_;
  std::size_t next_ = 0;
  std::vector<Recorded> requests_;
  std::mutex mutex_;
  std::atomic<bool> stop_{false};
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace ironboot::agent::testing
