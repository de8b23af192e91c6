// The Environments this process can boot: each Environment's spec.kernel / spec.initrd is
// fetched into <data_dir>/environments/<name>/ on a worker thread (environment_fetcher.hpp,
// under the rules of environment_source.hpp), sha512-verified, and served under
// /assets/environments/<name>/{kernel,initrd}; the outcome is the Environment's Ready
// condition (and, on failure, an EnvironmentFetchFailed Event). Runs on the io_context
// thread; the workers only post their results back. One job per Environment at a time: a
// spec change cancels the running one and starts again when it has ended.
#pragma once

#include "common/beneath.hpp"
#include "common/config.hpp"

#include "discovery/cluster_access.hpp"
#include "discovery/environment.hpp"
#include "discovery/environment_fetcher.hpp"
#include "http/message.hpp"
#include "http/router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

struct EnvironmentOptions {
  std::string data_dir;  // cluster.embedded.data_dir
  EnvironmentsConfig config;
  // How long stop() waits for the workers before it leaves them to end on their own.
  std::chrono::milliseconds stop_wait{1000};
  static EnvironmentOptions from(const Config& config);
};

class EnvironmentCache {
 public:
  // `on_change` runs after every Environment event and fetch outcome (what the boot policy
  // can serve may have changed).
  EnvironmentCache(boost::asio::io_context& io, EnvironmentOptions options, const Clock& clock,
                   std::function<void()> on_change);
  // stop(), then nothing of this object is touched again by a worker.
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
  // Cancels running fetches and waits for them at most options.stop_wait; a worker stuck
  // beyond that (a disk that does not answer) is left to end by itself.
  void stop();

  // The path an Environment's kernel (or initrd) is served at; empty until it is fetched and
  // verified.
  std::string asset_path(const std::string& name, bool kernel) const;
  // Worker threads not yet ended.
  int workers() const;

 private:
  struct SpecSource {
    std::string url, sha512;
  };
  struct State {
    std::string key;  // kernel url + sha512 + initrd url + sha512 wanted now; "" once deleted
    SpecSource kernel, initrd;
    bool ready = false;
    std::shared_ptr<FetchControl> job;  // the running job
    std::string job_key;                // what it is for
  };
  struct Shared;

  void on_event(const std::shared_ptr<const boost::json::object>& now, const std::string& name);
  void start_job(const std::string& name, State& state);
  void job_ended(const std::string& name, const std::string& key, const FetchResult& result);
  void report(const std::string& name, const FetchResult& result);
  http::Response serve_file(const http::Request& request) const;

  boost::asio::io_context& io_;
  EnvironmentOptions options_;
  const Clock& clock_;
  std::function<void()> on_change_;
  KernelFetched kernel_fetched_;
  kube::ClusterContext* cluster_ = nullptr;
  kube::EventReporter events_;
  std::map<std::string, State> environments_;
  // <data_dir>/environments, opened once it exists: every served file is opened beneath it.
  BeneathDir served_root_;
  std::shared_ptr<Shared> shared_;  // also held by every worker
  bool stopped_ = false;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted results check it
};

}  // namespace ironboot::discovery
