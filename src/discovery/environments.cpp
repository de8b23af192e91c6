#include "discovery/environments.hpp"

#include "common/files.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "common/tls_client.hpp"
#include "discovery/cluster_access.hpp"
#include "http/file_response.hpp"
#include "kube/cluster_context.hpp"
#include "kube/names.hpp"
#include "kube/objects.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <utility>

namespace ironboot::discovery {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "/assets/environments/";
constexpr const char* kFiles[] = {"kernel", "initrd", "source"};

// What a job needs, copied to its worker.
struct Job {
  std::string name, dir, key;
  std::string kernel_url, kernel_sha512, initrd_url, initrd_sha512;
  FetchJob base;  // policy, limits, TLS context
};

std::uint64_t bytes_in(const std::string& dir) {
  std::uint64_t bytes = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->symlink_status(ec).type() == fs::file_type::regular) bytes += it->file_size(ec);
  }
  return bytes;
}

void remove_files(const std::string& dir) {
  for (const char* file : kFiles) {
    ::unlink((dir + "/" + file).c_str());
    ::unlink((dir + "/" + file + ".part").c_str());
  }
}

// The `source` file: the sources' key, then the digests of what was written, so a copy is
// re-verified at start even when the spec gives no sha512 (https://).
std::string marker_text(const std::string& key, const std::string& kernel_sha512, const std::string& initrd_sha512) {
  return key + "kernel " + kernel_sha512 + "\ninitrd " + initrd_sha512 + "\n";
}

// Runs on the worker thread.
FetchResult run_job(const Job& job, FetchQuota& quota, FetchControl& control) {
  FetchResult r;
  if (job.key.empty()) {  // the Environment was deleted
    remove_files(job.dir);
    ::rmdir(job.dir.c_str());
    quota.set(job.name, bytes_in(job.dir));
    r.ok = true;
    return r;
  }
  // The rules first: a copy kept from before must not be served once they refuse it.
  for (const auto& [part, url, sha512] : {std::tuple{"kernel", &job.kernel_url, &job.kernel_sha512},
                                          std::tuple{"initrd", &job.initrd_url, &job.initrd_sha512}}) {
    if (std::string_view(part) == "initrd" && url->empty()) continue;
    SourceCheck check = classify_source(*url, *sha512, job.base.policy);
    if (!check.source) {
      r.reason = check.reason;
      r.message = std::string(part) + ": " + check.message;
      return r;
    }
  }
  std::error_code ec;
  fs::create_directories(job.dir, ec);
  if (ec) {
    r.reason = fetch_reason::failed;
    r.message = "cannot create " + job.dir + ": " + ec.message();
    return r;
  }
  const auto marker = read_file(job.dir + "/source", 64 * 1024);
  std::string verify_note;
  if (marker && marker->rfind(job.key, 0) == 0) {
    const std::string kernel_sha = sha512_of_file(job.dir + "/kernel", &control);
    const std::string initrd_sha = job.initrd_url.empty() ? std::string() : sha512_of_file(job.dir + "/initrd", &control);
    if (control.cancelled()) {
      r.reason = fetch_reason::cancelled;
      return r;
    }
    if (!kernel_sha.empty() && (job.initrd_url.empty() || !initrd_sha.empty()) &&
        *marker == marker_text(job.key, kernel_sha, initrd_sha)) {
      quota.set(job.name, bytes_in(job.dir));
      r.ok = true;
      r.message = "cached copy verified";
      return r;
    }
    verify_note = " (the cached copy did not verify)";
  }
  remove_files(job.dir);
  quota.set(job.name, bytes_in(job.dir));
  auto fetch = [&](const char* file, const std::string& url, const std::string& sha512) {
    FetchJob fj = job.base;
    fj.url = url;
    fj.sha512 = sha512;
    fj.quota_name = job.name;
    FetchResult one = fetch_to_file(fj, job.dir, file, quota, control);
    if (!one.ok) one.message = std::string(file) + ": " + one.message;
    return one;
  };
  r = fetch("kernel", job.kernel_url, job.kernel_sha512);
  FetchResult initrd;
  initrd.ok = true;
  if (r.ok && !job.initrd_url.empty()) initrd = fetch("initrd", job.initrd_url, job.initrd_sha512);
  if (r.ok && !initrd.ok) r = initrd;
  if (r.ok) {
    r.bytes += initrd.bytes;
    if (auto error = write_file_durably(job.dir, "source", marker_text(job.key, r.sha512, initrd.sha512));
        !error.empty()) {
      r = FetchResult{};
      r.reason = fetch_reason::failed;
      r.message = error;
    } else {
      r.message = "fetched" + verify_note;
    }
  }
  if (!r.ok) remove_files(job.dir);
  quota.set(job.name, bytes_in(job.dir));
  return r;
}

}  // namespace

// What the workers share with the cache; it outlives the cache while a worker runs.
struct EnvironmentCache::Shared {
  Shared(boost::asio::io_context& io_context, std::string root, std::uint64_t quota_bytes)
      : io(io_context), quota(std::move(root), quota_bytes) {}

  // Runs `handler` on the loop, unless the cache is gone.
  void post(std::function<void()> handler) {
    std::lock_guard lock(mutex);
    if (open) boost::asio::post(io, std::move(handler));
  }
  void worker_ended() {
    {
      std::lock_guard lock(mutex);
      --workers;
    }
    idle.notify_all();
  }

  boost::asio::io_context& io;
  FetchQuota quota;
  std::shared_ptr<boost::asio::ssl::context> tls;
  std::string tls_error;
  std::mutex mutex;
  std::condition_variable idle;
  int workers = 0;
  bool open = true;
};

EnvironmentOptions EnvironmentOptions::from(const Config& config) {
  EnvironmentOptions o;
  o.data_dir = config.cluster.embedded.data_dir;
  o.config = config.environments;
  return o;
}

EnvironmentCache::EnvironmentCache(boost::asio::io_context& io, EnvironmentOptions options, const Clock& clock,
                                   std::function<void()> on_change)
    : io_(io), options_(std::move(options)), clock_(clock), on_change_(std::move(on_change)) {
  shared_ = std::make_shared<Shared>(io, options_.data_dir + "/environments", options_.config.quota_bytes);
  shared_->tls = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_client);
  shared_->tls_error = tls::configure_client(*shared_->tls, true, options_.config.ca_bundle);
  if (!shared_->tls_error.empty()) shared_->tls_error = "environments.ca_bundle: " + shared_->tls_error;
}

EnvironmentCache::~EnvironmentCache() {
  alive_.reset();
  {
    std::lock_guard lock(shared_->mutex);
    shared_->open = false;
  }
  stop();
}

void EnvironmentCache::register_routes(http::Router& router) {
  router.add_prefix("GET", kPrefix, [this](const http::Request& r) { return serve_file(r); });
}

void EnvironmentCache::start(kube::ClusterContext& cluster) {
  auto log = logger("discovery");
  const auto& c = options_.config;
  if (c.allow_unverified)
    log->warn("environments.allow_unverified is true: http:// sources without sha512 are fetched unverified");
  if (!shared_->tls_error.empty()) log->error("{}: https:// sources will fail", shared_->tls_error);
  log->info("environments local_dirs={} max_file_bytes={} quota_bytes={} connect_timeout_seconds={} "
            "read_timeout_seconds={}",
            c.local_dirs.size(), c.max_file_bytes, c.quota_bytes, c.connect_timeout_seconds, c.read_timeout_seconds);
  const std::string root = options_.data_dir + "/environments";
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) log->error("environments: cannot create {}: {}", root, ec.message());
  else if (auto error = served_root_.open(root); !error.empty()) log->error("environments: cannot open {}", error);
  cluster_ = &cluster;
  events_ = discovery_events(cluster);
  cluster.environments().add_handler(
      [this, alive = std::weak_ptr<int>(alive_)](const kube::ObjectPtr& old, const kube::ObjectPtr& now_obj) {
        if (alive.expired()) return;
        const auto& obj = now_obj ? now_obj : old;
        on_event(now_obj, std::string(objects::name_of(*obj)));
        if (on_change_) on_change_();
      });
  // Objects already in the cache (the informer may have listed before we subscribed).
  cluster.environments().for_each([this](const std::string& name, const kube::ObjectPtr& obj) { on_event(obj, name); });
}

void EnvironmentCache::stop() {
  for (auto& [name, state] : environments_) {
    if (state.job) state.job->cancel();
  }
  if (std::exchange(stopped_, true)) return;
  std::unique_lock lock(shared_->mutex);
  if (!shared_->idle.wait_for(lock, options_.stop_wait, [&] { return shared_->workers == 0; }))
    logger("discovery")->warn("environments: {} fetch worker(s) did not end within {} ms; left to end on their own",
                              shared_->workers, options_.stop_wait.count());
}

int EnvironmentCache::workers() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->workers;
}

std::string EnvironmentCache::asset_path(const std::string& name, bool kernel) const {
  auto it = environments_.find(name);
  if (it == environments_.end() || !it->second.ready) return {};
  return std::string(kPrefix) + name + (kernel ? "/kernel" : "/initrd");
}

void EnvironmentCache::on_event(const kube::ObjectPtr& now_obj, const std::string& name) {
  if (!now_obj) {
    auto it = environments_.find(name);
    if (it == environments_.end()) return;
    State& state = it->second;
    state.key.clear();
    state.ready = false;
    if (state.job) state.job->cancel();  // its end starts the removal
    else if (kube::valid_dns_subdomain(name)) start_job(name, state);
    else environments_.erase(it);
    return;
  }
  auto source_of = [&](std::string_view part) {
    SpecSource s;
    const auto* spec = objects::spec_of(*now_obj);
    if (const auto* o = spec ? objects::object_at(*spec, part) : nullptr) {
      s.url = std::string(objects::string_at(*o, "url"));
      s.sha512 = std::string(objects::string_at(*o, "sha512"));
    }
    return s;
  };
  const SpecSource kernel = source_of("kernel");
  const SpecSource initrd = source_of("initrd");
  const std::string key = kernel.url + "\n" + kernel.sha512 + "\n" + initrd.url + "\n" + initrd.sha512 + "\n";
  auto& state = environments_[name];
  if (state.key == key) return;  // our own status write, or nothing that matters changed
  state.key = key;
  state.kernel = kernel;
  state.initrd = initrd;
  state.ready = false;
  if (!kube::valid_dns_subdomain(name)) {
    FetchResult r;
    r.reason = "InvalidName";
    r.message = "name cannot be a directory name";
    return report(name, r);
  }
  if (state.job) {
    state.job->cancel();  // its end starts the job for the new key
    return;
  }
  start_job(name, state);
}

void EnvironmentCache::start_job(const std::string& name, State& state) {
  Job job;
  job.name = name;
  job.dir = options_.data_dir + "/environments/" + name;
  job.key = state.key;
  job.kernel_url = state.kernel.url;
  job.kernel_sha512 = state.kernel.sha512;
  job.initrd_url = state.initrd.url;
  job.initrd_sha512 = state.initrd.sha512;
  const auto& c = options_.config;
  job.base.policy = SourcePolicy{c.local_dirs, options_.data_dir, c.allow_unverified};
  job.base.limits.max_file_bytes = c.max_file_bytes;
  job.base.limits.connect_timeout = std::chrono::seconds(c.connect_timeout_seconds);
  job.base.limits.read_timeout = std::chrono::seconds(c.read_timeout_seconds);
  job.base.tls = shared_->tls;
  job.base.tls_error = shared_->tls_error;
  auto control = std::make_shared<FetchControl>();
  state.job = control;
  state.job_key = state.key;
  if (!job.key.empty())
    logger("discovery")->info("environment fetch name={} kernel={} initrd={}", name, job.kernel_url, job.initrd_url);
  {
    std::lock_guard lock(shared_->mutex);
    ++shared_->workers;
  }
  try {
    // Only shared state goes to the worker: it may outlive this object (stop() does not join).
    std::thread([shared = shared_, control, job = std::move(job), alive = std::weak_ptr<int>(alive_), this] {
      FetchResult r = run_job(job, shared->quota, *control);
      shared->post([this, alive, name = job.name, key = job.key, r = std::move(r)] {
        if (!alive.expired()) job_ended(name, key, r);
      });
      shared->worker_ended();
    }).detach();
  } catch (const std::system_error& e) {
    shared_->worker_ended();
    state.job.reset();
    FetchResult r;
    r.reason = fetch_reason::failed;
    r.message = std::string("cannot start a worker: ") + e.what();
    report(name, r);
  }
}

void EnvironmentCache::job_ended(const std::string& name, const std::string& key, const FetchResult& result) {
  auto it = environments_.find(name);
  if (it == environments_.end()) return;
  State& state = it->second;
  state.job.reset();
  if (state.key != key) {  // changed or deleted meanwhile: what is wanted now
    start_job(name, state);
    return;
  }
  if (state.key.empty()) {  // removed
    environments_.erase(it);
    return;
  }
  if (result.reason == fetch_reason::cancelled) return;  // stopping
  state.ready = result.ok;
  report(name, result);
}

void EnvironmentCache::report(const std::string& name, const FetchResult& result) {
  auto log = logger("discovery");
  objects::Condition ready;
  ready.type = "Ready";
  if (result.ok) {
    log->info("environment ready name={} bytes={} {}", name, result.bytes, result.message);
    ready.status = true;
    ready.reason = "Fetched";
    ready.message = "kernel and initrd fetched and verified";
  } else {
    log->error("environment not ready name={} reason={} message=\"{}\"", name, result.reason, result.message);
    ready.status = false;
    ready.reason = result.reason;
    ready.message = result.message;
    if (cluster_) {
      if (const auto* env = cached(cluster_->environments(), name))
        events_.warning(*env, "EnvironmentFetchFailed", result.reason + ": " + result.message);
    }
  }
  if (cluster_) {
    write_status(cluster_->writes(), "environments", name,
                 [ready, stamp = format_rfc3339(clock_.now())](const json::object& current) {
                   const auto* status = objects::status_of(current);
                   auto conditions = objects::with_condition(
                       status ? objects::array_at(*status, "conditions") : nullptr, ready, stamp);
                   return std::optional<json::object>(
                       json::object{{"status", json::object{{"conditions", std::move(conditions)}}}});
                 });
  }
  if (on_change_) on_change_();
}

http::Response EnvironmentCache::serve_file(const http::Request& request) const {
  std::string_view rest(request.path);
  rest.remove_prefix(std::string_view(kPrefix).size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return http::text_response(404, "not found\n");
  const std::string name(rest.substr(0, slash));
  const std::string_view file = rest.substr(slash + 1);
  if (file != "kernel" && file != "initrd") return http::text_response(404, "not found\n");
  auto it = environments_.find(name);
  if (it == environments_.end() || !it->second.ready) return http::text_response(404, "not found\n");
  http::Response response = http::serve_file_beneath(request, served_root_, name + "/" + std::string(file), file);
  if (kernel_fetched_ && file == "kernel" && request.method == "GET" && response.status / 100 == 2)
    kernel_fetched_(request, name);
  return response;
}

}  // namespace ironboot::discovery
