// In-band BMC discovery and user setup over IPMI (docs/agent.md): the conversation is over
// an IpmiTransport, so tests drive it with a simulated BMC; /dev/ipmi0 is the real one.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "agent/facts.hpp"
#include "agent/ipmi.hpp"

namespace ironboot::agent {

class IpmiTransport {
 public:
  virtual ~IpmiTransport() = default;
  // One request to the BMC; nullopt (with `error`) when no answer came.
  virtual std::optional<ipmi::Response> call(const ipmi::Request& request, std::string& error) = 0;
};

// /dev/ipmi0 through IPMICTL_SEND_COMMAND / IPMICTL_RECEIVE_MSG_TRUNC (linux/ipmi.h), to the
// BMC over the system interface (KCS, SMIC, BT: whatever ipmi_si found). nullptr + error
// when the node cannot be opened (no BMC, or its driver is not loaded).
std::unique_ptr<IpmiTransport> open_ipmi_device(const std::string& path, std::string& error);

// The first channel whose medium is 802.3 LAN and its address settings. nullopt + error when
// the BMC has no LAN channel or does not answer.
std::optional<BmcLan> read_bmc_lan(IpmiTransport& bmc, std::string& error);

constexpr const char* kBmcUserName = "ironboot";

struct BmcUserSetup {
  std::string error;  // "" = done
  unsigned user_id = 0;
  bool reused = false;  // the slot already held kBmcUserName
};

// Creates (in the first free slot) or reuses the user `name`, sets `password`, gives it
// administrator privilege on `channel` with IPMI messaging, and enables it.
BmcUserSetup setup_bmc_user(IpmiTransport& bmc, unsigned channel, const std::string& name, const std::string& password);

// A password of `length` letters and digits from uniformly random bytes (rejection sampled,
// so every character is equally likely); bytes that cannot be used are skipped. Pure.
std::string password_from_random(std::span<const std::uint8_t> random, std::size_t length);

// 16 characters from getrandom(2); "" if the kernel gave no randomness.
std::string random_bmc_password();

}  // namespace ironboot::agent
