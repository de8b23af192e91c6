#include "ipxe/ipxe_routes.hpp"

#include "common/log.hpp"
#include "common/metrics.hpp"
#include "ipxe/boot_query.hpp"

namespace ironboot {
namespace {

http::Response script_response(std::string script) {
  http::Response r = http::text_response(200, std::move(script));
  // Decisions change as the Server changes: never cache a script.
  r.set("Cache-Control", "no-store");
  return r;
}

// Over the per-address limit of boot tokens: iPXE waits and starts over from /boot.ipxe.
http::Response retry_later(const std::string& base_url) {
  metrics()
      .counter("ironboot_ipxe_boot_tokens_rate_limited_total",
               "/ipxe requests refused a boot token: the source address asked too often")
      .inc();
  return script_response("#!ipxe\necho ironboot: too many boots from this address; retrying in " +
                         std::to_string(kRateLimitedRetrySeconds) + " s\nsleep " +
                         std::to_string(kRateLimitedRetrySeconds) + "\nchain --replace --autofree " + base_url +
                         "/boot.ipxe\n");
}

bool has_console_arg(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a.rfind("console=", 0) == 0) return true;
  return false;
}

}  // namespace

bool valid_boot_token(const std::string& token) {
  if (token.empty() || token.size() > 1024) return false;
  for (char c : token) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '~' || c == '-';
    if (!ok) return false;
  }
  return true;
}

IpxeRoutes::IpxeRoutes(ScriptSet scripts, IpxeSettings settings, const BootPolicy& policy, BootTokenIssuer* tokens)
    : scripts_(std::move(scripts)), settings_(std::move(settings)), policy_(policy), tokens_(tokens) {}

http::Response IpxeRoutes::boot_script(const http::Request&) const {
  return script_response(render_boot_script(scripts_, settings_.base_url, settings_.dhcp_rounds));
}

KernelBoot IpxeRoutes::agent_boot(const BootQuery& query, std::string& error, bool* rate_limited) const {
  KernelBoot boot;
  boot.kernel_url = kAgentKernelPath;
  boot.initrd_url = kAgentInitrdPath;
  // With tokens the agent also learns which NIC booted (the token is bound to that MAC).
  if (tokens_ != nullptr) boot.args.push_back("ironboot.mac=" + query.mac);
  boot.args.push_back("ironboot.endpoint=" + settings_.base_url);
  if (tokens_ != nullptr) {
    BootTokenIssue issued = tokens_->issue(query);
    if (issued.rate_limited) {
      if (rate_limited) *rate_limited = true;
      error = "boot tokens rate-limited for " + query.peer_address;
      return boot;
    }
    if (!valid_boot_token(issued.token)) {
      error = "token issuer returned an unsafe token";
      return boot;
    }
    boot.args.push_back("ironboot.token=" + issued.token);
  }
  // The agent reports over the serial console as well as the screen unless told otherwise;
  // the last console= is /dev/console.
  if (!has_console_arg(settings_.agent_args)) {
    boot.args.push_back("console=tty0");
    boot.args.push_back("console=ttyS0,115200n8");
  }
  boot.args.insert(boot.args.end(), settings_.agent_args.begin(), settings_.agent_args.end());
  return boot;
}

http::Response IpxeRoutes::ipxe(const http::Request& request) const {
  auto log = logger("http");
  const BootQueryResult parsed = parse_boot_query(request.query);
  if (!parsed.query) {
    log->debug("ipxe refused reason=\"{}\" peer={}", parsed.error, request.peer);
    return http::text_response(400, "bad request: " + parsed.error + "\n");
  }
  BootQuery q = *parsed.query;
  q.probe = request.method == "HEAD";
  q.peer_address = request.peer_address();
  const BootDecision decision = policy_.decide(q);
  static constexpr const char* kKinds[] = {"agent", "environment", "disk"};
  log->debug("ipxe decision={} uuid={} mac={} arch={} platform={} peer={}", kKinds[static_cast<int>(decision.kind)],
             q.uuid, q.mac, q.arch, q.platform, request.peer);
  RenderedScript rendered;
  switch (decision.kind) {
    case BootDecision::Kind::agent: {
      if (!settings_.agent_configured) {
        log->warn("ipxe no agent image configured (agent.kernel, agent.initrd) uuid={} mac={}", q.uuid, q.mac);
        return http::text_response(503, "agent image not configured\n");
      }
      std::string error;
      bool rate_limited = false;
      KernelBoot boot = agent_boot(q, error, &rate_limited);
      if (rate_limited) {
        log->info("ipxe boot token refused reason=rate_limited uuid={} mac={} peer={}", q.uuid, q.mac, request.peer);
        return retry_later(settings_.base_url);
      }
      if (!error.empty()) {
        rendered.status = 500;
        rendered.error = error;
      } else {
        rendered = render_kernel_boot(scripts_, boot, settings_.base_url, "discovery agent");
      }
      break;
    }
    case BootDecision::Kind::environment: {
      // The kernel fetch with this ticket is what records the boot (PXEBooted), not /ipxe.
      KernelBoot env = decision.environment;
      if (tokens_ != nullptr && env.kernel_url.rfind(kEnvironmentAssetsPrefix, 0) == 0) {
        const std::string ticket = tokens_->kernel_ticket(q, decision.environment_name);
        if (valid_boot_token(ticket)) env.kernel_url += "?ticket=" + ticket;
      }
      rendered = render_kernel_boot(scripts_, env, settings_.base_url, "environment");
      break;
    }
    case BootDecision::Kind::disk:
      rendered = render_disk_boot(scripts_, decision.disk_method);
      break;
  }
  if (!rendered.error.empty()) {
    log->error("ipxe decision not rendered reason=\"{}\" uuid={} mac={}", rendered.error, q.uuid, q.mac);
    return http::text_response(500, "boot decision could not be rendered\n");
  }
  if (rendered.status == 404) return http::text_response(404, "boot from disk\n");
  return script_response(std::move(rendered.script));
}

}  // namespace ironboot
