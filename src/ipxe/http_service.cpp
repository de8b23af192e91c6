#include "ipxe/http_service.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <optional>

#include "common/config.hpp"
#include "common/log.hpp"
#include "common/metrics.hpp"
#include "common/net.hpp"
#include "http/assets.hpp"
#include "http/server.hpp"
#include "ipxe/ipxe_routes.hpp"
#include "ipxe/script.hpp"

namespace ironboot {
namespace {

http::ServerLimits limits_of(const HttpConfig& c) {
  http::ServerLimits l;
  l.max_connections = c.max_connections;
  l.max_connections_per_client = c.max_connections_per_client;
  l.first_byte_timeout = std::chrono::seconds(c.first_byte_timeout_seconds);
  l.header_timeout = std::chrono::seconds(c.header_timeout_seconds);
  l.idle_timeout = std::chrono::seconds(c.idle_timeout_seconds);
  l.max_header_bytes = c.max_header_bytes;
  l.max_body_bytes = c.max_body_bytes;
  return l;
}

// Each connection is a descriptor and a file being sent is another one.
void raise_fd_limit(std::uint32_t max_connections) {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = static_cast<rlim_t>(max_connections) * 2 + 256;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = std::min(want, rl.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < want)
    logger("http")->warn("open file limit {} is below what http.max_connections={} needs", rl.rlim_cur,
                         max_connections);
}

std::string mount_name(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return std::filesystem::path(dir).filename().string();
}

class HttpServiceImpl final : public HttpService {
 public:
  HttpServiceImpl(boost::asio::io_context& io, const Config& config)
      : config_(config), server_(io, router_, limits_of(config.http)),
        policy_(std::make_shared<AgentForEveryonePolicy>()) {
    router_.add("GET", "/boot.ipxe", [this](const http::Request& r) {
      return ipxe_ ? ipxe_->boot_script(r) : unavailable();
    });
    router_.add("GET", "/ipxe", [this](const http::Request& r) { return ipxe_ ? ipxe_->ipxe(r) : unavailable(); });
    router_.add_prefix("GET", "/assets/", [this](const http::Request& r) {
      return assets_ ? assets_->handle(r) : unavailable();
    });
    router_.add("GET", "/metrics", [](const http::Request&) {
      return http::text_response(200, metrics().render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    router_.add("GET", "/healthz", [](const http::Request&) { return http::text_response(200, "ok\n"); });
    router_.add("GET", "/readyz", [this](const http::Request&) { return readyz(); });
    readiness_.add("http-listener", [this] { return server_.listening(); });
  }

  const char* name() const override { return "http"; }

  std::string start() override {
    std::signal(SIGPIPE, SIG_IGN);  // sendfile(2) to a closed peer must be an error, not a signal
    auto hp = listen_endpoint(config_);
    if (!hp) return "http.listen: invalid '" + config_.http.listen + "'";
    if (hp->host.empty()) return "http.listen '" + config_.http.listen + "': no provisioning address (set advertise_address or give interface " + config_.interface + " an IPv4 address)";
    std::string base;
    std::string err = build_site(config_, hp->port, base);
    if (!err.empty()) return err;
    raise_fd_limit(config_.http.max_connections);
    err = server_.listen(hp->host, hp->port);
    if (!err.empty()) return err;
    base_url_ = base;
    logger("http")->info("listening address={}:{} base_url={}", hp->host, hp->port, base_url_);
    return {};
  }

  void stop() override {
    stopped_ = true;
    server_.stop();
  }
  bool idle() const override { return server_.idle(); }

  void reload(const Config& next) override {
    auto log = logger("http");
    if (next.http.listen != config_.http.listen)
      log->warn("http.listen changed to {}; it takes effect after a restart", next.http.listen);
    auto hp = listen_endpoint(config_);
    std::string base;
    const Config previous = config_;
    config_ = next;
    config_.http.listen = previous.http.listen;
    const std::string err = hp ? build_site(config_, hp->port, base) : "invalid listen";
    if (!err.empty()) {
      log->error("http reload rejected error=\"{}\"", err);
      config_ = previous;
      return;
    }
    base_url_ = base;
    server_.set_limits(limits_of(config_.http));
  }

  http::Router& router() override { return router_; }
  http::Readiness& readiness() override { return readiness_; }

  void set_boot_policy(std::shared_ptr<const BootPolicy> policy) override {
    policy_ = policy ? std::move(policy) : std::make_shared<AgentForEveryonePolicy>();
    rebuild_ipxe();
  }
  void set_token_issuer(std::shared_ptr<BootTokenIssuer> issuer) override {
    tokens_ = std::move(issuer);
    rebuild_ipxe();
  }
  std::string base_url() const override { return base_url_; }

 private:
  static http::Response unavailable() { return http::text_response(503, "not started\n"); }

  http::Response readyz() const {
    auto result = readiness_.evaluate();
    std::string body;
    for (const auto& [name, ok] : result.checks) body += name + (ok ? " ok\n" : " not ready\n");
    if (stopped_) {
      result.ready = false;
      body += "shutting down\n";
    }
    return http::text_response(result.ready ? 200 : 503, std::move(body));
  }

  // The address told to clients: advertise_address, the listen host when it is one address,
  // else the provisioning interface's first IPv4.
  static std::string advertise_host(const Config& c) {
    if (!c.advertise_address.empty()) return c.advertise_address;
    auto hp = parse_host_port(c.http.listen);
    if (hp && hp->host != "0.0.0.0" && hp->host != "::") return hp->host;
    if (auto ip = interface_ipv4(c.interface)) return ip->to_string();
    return {};
  }

  // http.listen, with ":PORT" bound to the provisioning address (host "" when there is none).
  static std::optional<HostPort> listen_endpoint(const Config& c) {
    auto hp = parse_listen(c.http.listen);
    if (hp && hp->host.empty()) hp->host = advertise_host(c);
    return hp;
  }

  // Templates, asset mounts and the agent environment from one configuration.
  std::string build_site(const Config& c, std::uint16_t port, std::string& base_out) {
    auto log = logger("http");
    const std::string host = advertise_host(c);
    if (host.empty())
      return "no address to advertise: set advertise_address or give interface " + c.interface + " an IPv4 address";
    const std::string base = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                             std::to_string(port);
    if (!safe_script_word(base)) return "advertise address '" + host + "' cannot appear in a script";

    std::string err;
    auto scripts = ScriptSet::load(err);
    if (!scripts) return "iPXE templates: " + err;

    for (const auto& a : c.agent.kernel_args)
      if (!safe_script_word(a)) return "agent.kernel_args: '" + a + "' cannot be one kernel argument";

    auto assets = std::make_shared<http::AssetStore>();
    const bool agent_configured = !c.agent.kernel.empty() && !c.agent.initrd.empty();
    if (agent_configured) {
      assets->add_file("agent", "vmlinuz", c.agent.kernel);
      assets->add_file("agent", "initramfs", c.agent.initrd);
      for (const auto* f : {&c.agent.kernel, &c.agent.initrd})
        if (::access(f->c_str(), R_OK) != 0) log->warn("agent image file not readable path={}", *f);
    } else {
      log->warn("agent.kernel / agent.initrd not set: /ipxe cannot boot the discovery agent");
    }
    // UEFI HTTP boot fetches the iPXE binaries here; symlinks follow the TFTP server's rule.
    if (std::string e = assets->add_dir("tftp", c.tftp.root, c.tftp.follow_symlinks_into); !e.empty()) {
      log->warn("tftp.root not served over HTTP: {}", e);
    }
    for (const auto& dir : c.http.asset_dirs) {
      const std::string mount = mount_name(dir);
      if (mount.empty() || mount == "." || mount == "..") return "http.asset_dirs: no directory name in '" + dir + "'";
      if (mount == "agent" || mount == "tftp" || assets->has_mount(mount))
        return "http.asset_dirs: '" + dir + "' would be served as /assets/" + mount + "/, which is already taken";
      if (std::string e = assets->add_dir(mount, dir); !e.empty()) return "http.asset_dirs: " + e;
    }

    IpxeSettings settings;
    settings.base_url = base;
    settings.agent_configured = agent_configured;
    settings.agent_args = c.agent.kernel_args;
    scripts_ = std::move(*scripts);
    settings_ = std::move(settings);
    assets_ = std::move(assets);
    rebuild_ipxe();
    base_out = base;
    return {};
  }

  void rebuild_ipxe() {
    if (!scripts_) return;
    ipxe_ = std::make_shared<IpxeRoutes>(*scripts_, settings_, *policy_, tokens_.get());
  }

  Config config_;
  http::Router router_;
  http::Readiness readiness_;
  http::HttpServer server_;
  std::shared_ptr<const BootPolicy> policy_;
  std::shared_ptr<BootTokenIssuer> tokens_;
  std::optional<ScriptSet> scripts_;
  IpxeSettings settings_;
  // Replaced on reload; a request in progress keeps the one it started with.
  std::shared_ptr<const http::AssetStore> assets_;
  std::shared_ptr<const IpxeRoutes> ipxe_;
  std::string base_url_;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<HttpService> make_http_service(boost::asio::io_context& io, const Config& config) {
  return std::make_unique<HttpServiceImpl>(io, config);
}

}  // namespace ironboot
