#include "ipxe/ipxe_routes.hpp"

#include "common/log.hpp"
#include "ipxe/boot_query.hpp"

namespace ironboot {
namespace {

http::Response script_response(std::string script) {
  http::Response r = http::text_response(200, std::move(script));
  // Decisions change as the Server changes: never cache a script.
  r.set("Cache-Control", "no-store");
  return r;
}

bool has_console_arg(const std::vector<std::string>& args) {
  for (const auto& a : args)
    if (a.rfind("console=", 0) == 0) return true;
  return false;
}

}  // namespace

bool valid_boot_token(const std::string& token) {
  if (token.empty() || token.size() > 512) return false;
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

KernelBoot IpxeRoutes::agent_boot(const BootQuery& query, std::string& error) const {
  KernelBoot boot;
  boot.kernel_url = kAgentKernelPath;
  boot.initrd_url = kAgentInitrdPath;
  // With tokens the agent also learns which NIC booted (the token is bound to that MAC).
  if (tokens_ != nullptr) boot.args.push_back("ironboot.mac=" + query.mac);
  boot.args.push_back("ironboot.endpoint=" + settings_.base_url);
  if (tokens_ != nullptr) {
    std::string token = tokens_->issue(query.uuid, query.mac);
    if (!valid_boot_token(token)) {
      error = "token issuer returned an unsafe token";
      return boot;
    }
    boot.args.push_back("ironboot.token=" + token);
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
      KernelBoot boot = agent_boot(q, error);
      if (!error.empty()) {
        rendered.status = 500;
        rendered.error = error;
      } else {
        rendered = render_kernel_boot(scripts_, boot, settings_.base_url, "discovery agent");
      }
      break;
    }
    case BootDecision::Kind::environment:
      rendered = render_kernel_boot(scripts_, decision.environment, settings_.base_url, "environment");
      break;
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
