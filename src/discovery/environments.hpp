// The Environments this process can boot: each Environment's spec.kernel / spec.initrd is
// fetched once into <data_dir>/environments/<name>/ on a worker thread (environment_fetcher),
// sha512-verified, and served under /assets/environments/<name>/{kernel,initrd}; the outcome is
// the Environment's Ready condition (and, on failure, an EnvironmentFetchFailed Event). Runs on the io_context thread; the fetch workers only
// post their results back.
#pragma once

#include "common/beneath.hpp"

#include "discovery/cluster_access.hpp"
#include "discovery/environment.hpp"
#include "discovery/environment_fetcher.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

class EnvironmentCache {
 public:
  // `data_dir`: cluster.embedded.data_dir. `on_change` runs after every Environment event and
  // fetch outcome (what the boot policy can serve may have changed).
  EnvironmentCache(boost::asio::io_context& io, std::string data_dir, const Clock& clock, std::function<void()> on_change);
  // Cancels the fetches and joins their workers.
  ~EnvironmentCache();
  EnvironmentCache(const EnvironmentCache&) = delete;
  EnvironmentCache& operator=(const EnvironmentCache&) = delete;

  // GET /assets/environments/<name>/{kernel,initrd}.
  void register_routes(http::Router& router);
  // Called after a GET of an Environment's kernel is answered 2xx (the boot policy checks
  // the request's ticket and records the boot).
  using KernelFetched = std::function<void(const http::Request& request, const std::string& environment)>;
  void on_kernel_fetched(KernelFetched hook) { kernel_fetched_ = std::move(hook); }
  // Subscribes to the Environment informer and fetches those already in its cache.
  void start(kube::ClusterContext& cluster);
  // Cancels running fetches.
  void stop();

  // The path an Environment's kernel (or initrd) is served at; empty until it is fetched and
  // verified.
  std::string asset_path(const std::string& name, bool kernel) const;

 private:
  struct State {
    std::string key;  // kernel url + sha512 + initrd url + sha512 this state is for
    bool fetching = false;
    bool ready = false;
    std::string dir;
  };

  void on_event(const std::shared_ptr<const boost::json::object>& now, const std::string& name);
  void fetch_done(const std::string& name, const std::string& key, const FetchResult& result);
  http::Response serve_file(const http::Request& request) const;

  boost::asio::io_context& io_;
  std::string data_dir_;
  const Clock& clock_;
  std::function<void()> on_change_;
  KernelFetched kernel_fetched_;
  kube::ClusterContext* cluster_ = nullptr;
  kube::EventReporter events_;
  std::map<std::string, State> environments_;
  // <data_dir>/environments, opened once it exists: every served file is opened beneath it.
  BeneathDir served_root_;
  std::vector<std::thread> workers_;
  std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted results check it
};

}  // namespace ironboot::discovery
