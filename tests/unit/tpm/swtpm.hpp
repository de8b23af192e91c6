// A private swtpm (Debian's TPM 2.0 simulator) on loopback ports in a temporary state dir,
// killed with the fixture; tpm2-tools run against it through their swtpm TCTI.
#pragma once

#include "tpm/transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

namespace ironboot::tpm::testing {

// A loopback port that was free a moment ago.
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline Bytes slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes{std::istreambuf_iterator<char>(in), {}};
}

inline void spit(const std::filesystem::path& p, std::span<const std::uint8_t> b) {
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

class Swtpm {
 public:
  Swtpm() {
    char tmpl[] = "/tmp/ironboot-swtpm-XXXXXX";
    if (::mkdtemp(tmpl)) dir = tmpl;
    // tpm2-tools' swtpm TCTI finds the control channel at the data port + 1.
    port = free_port();
    const auto ctrl = static_cast<std::uint16_t>(port + 1);
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string server = "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1";
      const std::string control = "type=tcp,port=" + std::to_string(ctrl) + ",bindaddr=127.0.0.1";
      const std::string state = "dir=" + dir.string();
      ::execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", server.c_str(), "--ctrl", control.c_str(), "--tpmstate",
               state.c_str(), "--flags", "not-need-init,startup-clear", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Ready once the data port accepts.
    for (int i = 0; i < 100 && !transport; ++i) {
      auto t = connect_tcp("127.0.0.1", port, std::chrono::seconds(30));
      if (auto* ok = std::get_if<std::unique_ptr<Transport>>(&t)) transport = std::move(*ok);
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~Swtpm() {
    transport.reset();
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::filesystem::remove_all(dir);
  }
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  // Runs a tpm2-tools command line in `dir`; its exit status (0 = success).
  int tools(const std::string& command) const {
    // swtpm serves one connection at a time: ours steps aside while the tool runs.
    const std::string line = "cd " + dir.string() + " && export TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=" +
                             std::to_string(port) + " && (" + command + ") >>tools.log 2>&1";
    return std::system(line.c_str());
  }
  void reconnect() {
    transport.reset();
    auto t = connect_tcp("127.0.0.1", port, std::chrono::seconds(30));
    if (auto* ok = std::get_if<std::unique_ptr<Transport>>(&t)) transport = std::move(*ok);
  }
  void disconnect() { transport.reset(); }
  std::string log() const {
    const Bytes b = slurp(dir / "tools.log");
    return std::string(b.begin(), b.end());
  }

  std::filesystem::path dir;
  std::uint16_t port = 0;
  std::unique_ptr<Transport> transport;

 private:
  pid_t pid_ = -1;
};

}  // namespace ironboot::tpm::testing
