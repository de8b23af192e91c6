// What /ipxe boots, decided from the validated query by a pure policy. The discovery area
// implements BootPolicy from its cached Server state (its decide_boot returns a BootDecision
// too) and BootTokenIssuer with an HMAC; the HTTP service only validates, asks and renders.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"  // DiskBootMethod, parse_disk_boot_method, to_string

namespace ironboot {

// The /ipxe query after validation. uuid, mac and arch are canonical; the free-text fields
// are bounded and printable but never rendered into a script.
struct BootQuery {
  std::string uuid;          // "4c4c4544-0033-4410-8047-b4c04f4d4d31" (lower case)
  std::string mac;           // "52:54:00:12:34:56" (lower case, colons)
  std::string arch;          // iPXE ${buildarch}: i386 x86_64 arm32 arm64 riscv32 riscv64 loong64
  std::string platform;      // iPXE ${platform}: pcbios efi ("" when absent)
  std::string serial;        // SMBIOS values, possibly empty
  std::string manufacturer;
  std::string product;
  // A HEAD request: decide as for GET, but the policy records nothing (a probe must not
  // count as the machine having booted an Environment).
  bool probe = false;
  // The TCP peer of the /ipxe request ("10.0.0.50"): the boot token and the kernel ticket
  // are bound to it.
  std::string peer_address;
};

// A kernel + initrd to boot. URLs are absolute ("http://...") or paths on this server
// ("/assets/..."), which the renderer prefixes with the advertised base URL.
struct KernelBoot {
  std::string kernel_url;
  std::string initrd_url;
  std::vector<std::string> args;
};

struct BootDecision {
  enum class Kind {
    agent,        // ironboot's discovery agent (kernel/initrd/args from agent.* config)
    environment,  // `environment`
    disk,         // leave the network boot: `disk_method`
  };
  Kind kind = Kind::agent;
  std::string reason;  // for the debug log: "unknown server", "not clean", "environment talos", ...
  // kind == environment: the Environment object it comes from ("" when the policy has none).
  std::string environment_name;
  KernelBoot environment;
  DiskBootMethod disk_method = DiskBootMethod::ipxe_exit;

  static BootDecision agent(std::string reason = {}) {
    BootDecision d;
    d.reason = std::move(reason);
    return d;
  }
  static BootDecision boot_environment(KernelBoot env, std::string name = {}, std::string reason = {}) {
    BootDecision d;
    d.kind = Kind::environment;
    d.reason = std::move(reason);
    d.environment_name = std::move(name);
    d.environment = std::move(env);
    return d;
  }
  static BootDecision boot_from_disk(DiskBootMethod method, std::string reason = {}) {
    BootDecision d;
    d.kind = Kind::disk;
    d.reason = std::move(reason);
    d.disk_method = method;
    return d;
  }
};

constexpr const char* to_string(BootDecision::Kind kind) {
  switch (kind) {
    case BootDecision::Kind::agent: return "agent";
    case BootDecision::Kind::environment: return "environment";
    case BootDecision::Kind::disk: return "disk";
  }
  return "agent";
}

class BootPolicy {
 public:
  virtual ~BootPolicy() = default;
  // Pure and non-blocking: runs on the event loop for every /ipxe request.
  virtual BootDecision decide(const BootQuery& query) const = 0;
};

// Issues the per-boot token the agent exchanges at /agent/v1/register, and the ticket an
// Environment's kernel URL carries. Until one is registered the agent command line carries no
// ironboot.token= at all (never a made-up value).
struct BootTokenIssue {
  std::string token;          // [A-Za-z0-9._~-] (checked before rendering); "" when none
  bool rate_limited = false;  // this address asked for too many boot tokens: nothing minted
};
class BootTokenIssuer {
 public:
  virtual ~BootTokenIssuer() = default;
  // A boot token for (uuid, mac, peer address, a new boot nonce), rate-limited per address.
  virtual BootTokenIssue issue(const BootQuery& query) = 0;
  // The ticket for this boot's fetch of the Environment's kernel ("" when none can be made).
  virtual std::string kernel_ticket(const BootQuery& query, const std::string& environment) = 0;
};

// The initial policy: every machine gets the agent environment.
class AgentForEveryonePolicy final : public BootPolicy {
 public:
  BootDecision decide(const BootQuery&) const override { return BootDecision::agent(); }
};

}  // namespace ironboot
