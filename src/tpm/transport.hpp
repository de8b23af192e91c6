// How TPM command bytes reach a TPM: the kernel's resource manager (/dev/tpmrm0), or a TCP
// stream of raw commands (swtpm's --server type=tcp data channel, what tpm2-tools' swtpm
// TCTI speaks). Blocking with a deadline per command: the agent runs them on its own thread.
#pragma once

#include "tpm/marshal.hpp"

#include <chrono>
#include <memory>
#include <span>
#include <string>

namespace ironboot::tpm {

class Transport {
 public:
  virtual ~Transport() = default;
  // One command, its whole response (at most kMaxResponseBytes) or an error.
  virtual Result<Bytes> transmit(std::span<const std::uint8_t> command) = 0;
};

// /dev/tpmrm0: one write, one read of the whole response.
Result<std::unique_ptr<Transport>> open_device(const std::string& path, std::chrono::milliseconds timeout);

// A loopback TCP connection to a simulator; responses are framed by their header's size.
Result<std::unique_ptr<Transport>> connect_tcp(const std::string& ipv4, std::uint16_t port, std::chrono::milliseconds timeout);

}  // namespace ironboot::tpm
