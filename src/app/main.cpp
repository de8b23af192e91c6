// ironboot: proxyDHCP, TFTP and iPXE-over-HTTP on one event loop.
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "app/bmc_command.hpp"
#include "app/appliance_setup.hpp"
#include "app/services.hpp"
#include "common/config.hpp"
#include "common/log.hpp"
#include "common/version.hpp"
#include "kube/cluster_service.hpp"
#include "kube/secrets_key_admin.hpp"

namespace ironboot {
namespace {

constexpr auto kDrainTimeout = std::chrono::seconds(10);

int check_config(const std::string& path) {
  try {
    const Config c = load_config_file(path);
    std::cout << path << ": ok (interface " << c.interface << ", cluster " << to_string(c.cluster.mode) << ")\n";
    return 0;
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

// `secrets-key rotate|prune`: works on cluster.embedded.data_dir's secrets.key.
int secrets_key(const std::string& path, bool rotate) {
  try {
    const Config c = load_config_file(path);
    const std::string& dir = c.cluster.embedded.data_dir;
    std::cout << (rotate ? kube::rotate_secrets_key(dir) : kube::prune_secrets_keys(dir)) << "\n";
    return 0;
  } catch (const std::runtime_error& e) {  // ConfigError included
    std::cerr << e.what() << "\n";
  }
  return 1;
}

class Daemon {
 public:
  Daemon(std::string config_path, Config config)
      : config_path_(std::move(config_path)), config_(std::move(config)),
        signals_(io_, SIGTERM, SIGINT, SIGHUP), watchdog_(io_), drain_timer_(io_) {}

  int run() {
    auto log = logger("app");
    services_ = make_services(io_, config_);
    for (auto& s : services_) {
      const std::string err = s->start();
      if (!err.empty()) {
        log->critical("start failed service={} error=\"{}\"", s->name(), err);
        for (auto& started : services_) started->stop();
        return 1;
      }
      log->info("started service={}", s->name());
    }
    wait_for_signal();
    start_watchdog();
    sd_notify(0, "READY=1\nSTATUS=serving");
    log->info("ready version={} config={}", version(), config_path_);
    io_.run();
    log->info("stopped");
    return 0;
  }

 private:
  void wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      if (signo == SIGHUP) {
        reload();
        wait_for_signal();
        return;
      }
      drain(signo);
    });
  }

  void reload() {
    auto log = logger("app");
    sd_notify(0, "RELOADING=1");
    try {
      Config next = load_config_file(config_path_);
      init_logging(next.log.level);
      for (auto& s : services_) s->reload(next);
      config_ = std::move(next);
      log->info("reloaded config={}", config_path_);
    } catch (const ConfigError& e) {
      // Keep serving with the old configuration: a typo must not take the appliance down.
      log->error("reload rejected, keeping the running configuration: {}", e.what());
    }
    sd_notify(0, "READY=1");
  }

  void drain(int signo) {
    logger("app")->info("draining signal={}", signo);
    sd_notify(0, "STOPPING=1");
    signals_.cancel();
    watchdog_.cancel();
    for (auto& s : services_) s->stop();
    // Work in flight finishes on its own; the timer bounds how long we wait for it.
    drain_timer_.expires_after(kDrainTimeout);
    drain_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        logger("app")->warn("drain timeout, stopping with work in flight");
        io_.stop();
      }
    });
    // When every service has released its handlers io_.run() returns by itself; the timer is
    // the only thing left, so cancel it once nothing else is pending.
    poll_drained();
  }

  void poll_drained() {
    // io_context has no "only this timer left" query; check cheaply every 50 ms.
    auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(50));
    timer->async_wait([this, timer](const boost::system::error_code&) {
      bool idle = true;
      for (auto& s : services_) idle = idle && s->idle();
      if (idle) {
        drain_timer_.cancel();
      } else {
        poll_drained();
      }
    });
  }

  void start_watchdog() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return;
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
    kick_watchdog();
  }

  void kick_watchdog() {
    // The kick runs on the event loop, so a stuck loop stops the kicks and systemd restarts us.
    sd_notify(0, "WATCHDOG=1");
    watchdog_.expires_after(watchdog_interval_);
    watchdog_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) kick_watchdog();
    });
  }

  std::string config_path_;
  Config config_;
  boost::asio::io_context io_{1};
  boost::asio::signal_set signals_;
  boost::asio::steady_timer watchdog_;
  boost::asio::steady_timer drain_timer_;
  std::chrono::microseconds watchdog_interval_{0};
  std::vector<std::unique_ptr<Service>> services_;
};

int serve(const std::string& path) {
  Config config;
  try {
    config = load_config_file(path);
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  init_logging(config.log.level);
  Daemon daemon(path, std::move(config));
  return daemon.run();
}

}  // namespace
}  // namespace ironboot

int main(int argc, char** argv) {
  CLI::App app{"ironboot: network boot appliance for bare-metal Kubernetes fleets"};
  app.require_subcommand(1);
  std::string config_path = "/etc/ironboot/ironboot.yaml";

  auto* serve = app.add_subcommand("serve", "Run proxyDHCP, TFTP and HTTP on the provisioning interface");
  serve->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  auto* check = app.add_subcommand("check-config", "Validate a configuration file and exit 0 (valid) or 1");
  check->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  auto* version = app.add_subcommand("version", "Print the version");
  auto* kubeconfig = app.add_subcommand("kubeconfig", "Print a kubeconfig for the embedded Kubernetes API");
  kubeconfig->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  bool read_only = false;
  kubeconfig->add_flag("--read-only", read_only, "Use the read-only token (get, list, watch; no secrets)");
  auto* secrets_key = app.add_subcommand("secrets-key", "Manage the keys that encrypt Secrets in the embedded API's store");
  secrets_key->require_subcommand(1);
  auto* rotate = secrets_key->add_subcommand(
      "rotate", "Put a new key first in secrets.key; ironboot re-encrypts the store under it on its next start");
  rotate->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  auto* prune = secrets_key->add_subcommand(
      "prune", "Remove every key but the current one (refused while the store still needs another)");
  prune->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();

  ironboot::add_bmc_command(app);  // runs from its callback: CLI11_PARSE returns its exit code
  // The appliance image's boot-time setup and console banner (image/build-appliance).
  ironboot::appliance::SetupPaths appliance_paths;
  std::string appliance_phase = "network";
  auto* appliance_setup = app.add_subcommand("appliance-setup", "Appliance image: apply appliance.yaml (networkd files, ironboot.yaml)");
  appliance_setup->add_option("--phase", appliance_phase, "network (before systemd-networkd) or config (before ironboot)")->capture_default_str();
  appliance_setup->add_option("--source", appliance_paths.source, "appliance.yaml")->capture_default_str();
  appliance_setup->add_option("--state-dir", appliance_paths.state_dir, "Where the last good appliance.yaml is kept")->capture_default_str();
  appliance_setup->add_option("--run-dir", appliance_paths.run_dir, "Runtime files (status, SSH keys, accepted config)")->capture_default_str();
  appliance_setup->add_option("--networkd-dir", appliance_paths.networkd_dir, "Where the systemd-networkd files go")->capture_default_str();
  appliance_setup->add_option("--output", appliance_paths.ironboot_yaml, "The ironboot.yaml written")->capture_default_str();
  appliance_setup->add_option("--base", appliance_paths.base_yaml, "The ironboot.yaml the appliance's settings are merged into")->capture_default_str();
  appliance_setup->add_option("--sysfs-net", appliance_paths.sysfs_net, "Interfaces by name, each with its MAC address")->capture_default_str();
  appliance_setup->add_option("--wait", appliance_paths.wait_seconds, "Seconds to wait for a NIC or a DHCP lease")->capture_default_str();
  auto* appliance_status = app.add_subcommand("appliance-status", "Appliance image: print the console status banner");
  appliance_status->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  appliance_status->add_option("--run-dir", appliance_paths.run_dir, "Runtime files of appliance-setup")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  if (appliance_setup->parsed()) return ironboot::appliance::run_appliance_setup(appliance_phase, appliance_paths);
  if (appliance_status->parsed()) return ironboot::appliance::print_appliance_status(appliance_paths, config_path);
  if (serve->parsed()) return ironboot::serve(config_path);
  if (check->parsed()) return ironboot::check_config(config_path);
  if (rotate->parsed()) return ironboot::secrets_key(config_path, true);
  if (prune->parsed()) return ironboot::secrets_key(config_path, false);
  if (kubeconfig->parsed()) {
    try {
      return ironboot::print_embedded_kubeconfig(ironboot::load_config_file(config_path), read_only);
    } catch (const ironboot::ConfigError& e) {
      std::cerr << e.what() << "\n";
      return 1;
    }
  }
  if (version->parsed()) {
    std::cout << "ironboot " << ironboot::version() << "\n";
    return 0;
  }
  return 2;
}
