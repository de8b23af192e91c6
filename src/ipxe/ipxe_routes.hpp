// GET /boot.ipxe and GET /ipxe: pure handlers over the validated query, the boot policy
// and the rendered templates.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "http/message.hpp"
#include "ipxe/boot_policy.hpp"
#include "ipxe/script.hpp"

namespace ironboot {

struct IpxeSettings {
  std::string base_url;                     // "http://10.0.0.1:8080"
  bool agent_configured = false;            // agent.kernel and agent.initrd are set
  std::vector<std::string> agent_args;      // agent.kernel_args
  int dhcp_rounds = 3;
};

// Paths the agent image is served under (see http/assets.hpp).
constexpr const char* kAgentKernelPath = "/assets/agent/vmlinuz";
constexpr const char* kAgentInitrdPath = "/assets/agent/initramfs";
// Environments' copies (discovery's EnvironmentCache); their kernel URL gets the boot's ticket.
constexpr const char* kEnvironmentAssetsPrefix = "/assets/environments/";
// How long iPXE waits before asking again when its address is over the boot token limit.
constexpr int kRateLimitedRetrySeconds = 20;

class IpxeRoutes {
 public:
  // `policy` must outlive this; `tokens` may be null (no ironboot.token= argument then).
  IpxeRoutes(ScriptSet scripts, IpxeSettings settings, const BootPolicy& policy, BootTokenIssuer* tokens);

  http::Response boot_script(const http::Request& request) const;
  http::Response ipxe(const http::Request& request) const;

  // The agent environment for one machine (endpoint, token, console, configured args).
  // Empty error on success; `rate_limited` is set when no boot token may be minted now.
  KernelBoot agent_boot(const BootQuery& query, std::string& error, bool* rate_limited = nullptr) const;

 private:
  ScriptSet scripts_;
  IpxeSettings settings_;
  const BootPolicy& policy_;
  BootTokenIssuer* tokens_;
};

// A token may only contain unreserved URI characters.
bool valid_boot_token(const std::string& token);

}  // namespace ironboot
