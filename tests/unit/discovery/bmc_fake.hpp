// A scripted fake BMC behind the BmcClient interface: a power state the actions change, every
// call recorded ("status", "boot pxe once uefi", "power cycle", ...), failures and delays to
// inject, and the concurrency the controller drove it at.
#pragma once

#include "bmc/bmc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ironboot::discovery::testing {

struct FakeBmc {
  bmc::PowerState power = bmc::PowerState::Off;
  std::vector<std::string> calls;
  std::vector<std::chrono::steady_clock::time_point> starts;  // of every operation
  std::optional<bmc::BmcStatus> fail;                         // every operation fails with this
  std::chrono::milliseconds delay{0};
  bmc::BmcCredentials credentials;                            // of the last client made
  bmc::BmcEndpoint endpoint;
  int reboots = 0;  // power on from off, cycle, hard reset
  int in_flight = 0, max_in_flight = 0;

  std::size_t count(const std::string& call) const { return std::count(calls.begin(), calls.end(), call); }
};

class FakeBmcFactory final : public bmc::BmcClientFactory {
 public:
  explicit FakeBmcFactory(boost::asio::io_context& io) : io_(io) {}
  std::map<std::string, std::shared_ptr<FakeBmc>> bmcs;  // by endpoint host
  int made = 0;
  int in_flight = 0, max_in_flight = 0;  // over every BMC

  FakeBmc& bmc(const std::string& host) {
    auto& b = bmcs[host];
    if (!b) b = std::make_shared<FakeBmc>();
    return *b;
  }

  std::shared_ptr<bmc::BmcClient> make(const bmc::BmcEndpoint& endpoint, const bmc::BmcCredentials& credentials) override {
    ++made;
    auto& b = bmc(endpoint.host);
    b.credentials = credentials;
    b.endpoint = endpoint;
    return std::make_shared<Client>(*this, bmcs[endpoint.host]);
  }

 private:
  class Client final : public bmc::BmcClient {
   public:
    Client(FakeBmcFactory& factory, std::shared_ptr<FakeBmc> bmc) : factory_(factory), bmc_(std::move(bmc)) {}
    void power_status(bmc::PowerHandler done) override {
      start("status", [b = bmc_, done = std::move(done)](const bmc::BmcStatus& st) {
        done(st, st.ok() ? b->power : bmc::PowerState::Unknown);
      });
    }
    void power(bmc::PowerAction action, bmc::StatusHandler done) override {
      start(std::string("power ") + bmc::to_string(action), [b = bmc_, action, done = std::move(done)](const bmc::BmcStatus& st) {
        if (st.ok()) {
          using bmc::PowerAction;
          if (action == PowerAction::On && b->power == bmc::PowerState::Off) ++b->reboots;
          if (action == PowerAction::Cycle || action == PowerAction::HardReset) ++b->reboots;
          b->power = action == PowerAction::Off || action == PowerAction::SoftOff ? bmc::PowerState::Off
                                                                                  : bmc::PowerState::On;
        }
        done(st);
      });
    }
    void set_next_boot(bmc::BootOverride boot, bmc::StatusHandler done) override {
      std::string call = std::string("boot ") + (boot.device == bmc::BootDevice::Pxe ? "pxe" : "disk") +
                         (boot.persistent ? " persistent" : " once") + (boot.mode == bmc::BootMode::Uefi ? " uefi" : " legacy");
      start(call, [done = std::move(done)](const bmc::BmcStatus& st) { done(st); });
    }
    void close() override { bmc_->calls.push_back("close"); }

   private:
    template <class F>
    void start(std::string call, F finish) {
      bmc_->calls.push_back(call);
      bmc_->starts.push_back(std::chrono::steady_clock::now());
      bmc_->max_in_flight = std::max(bmc_->max_in_flight, ++bmc_->in_flight);
      factory_.max_in_flight = std::max(factory_.max_in_flight, ++factory_.in_flight);
      auto timer = std::make_shared<boost::asio::steady_timer>(factory_.io_, bmc_->delay);
      timer->async_wait([timer, b = bmc_, f = &factory_, finish = std::move(finish)](const boost::system::error_code&) {
        --b->in_flight;
        --f->in_flight;
        finish(b->fail ? *b->fail : bmc::BmcStatus::success());
      });
    }
    FakeBmcFactory& factory_;
    std::shared_ptr<FakeBmc> bmc_;
  };

  boost::asio::io_context& io_;
};

}  // namespace ironboot::discovery::testing
