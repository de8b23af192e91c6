#include "discovery/environments.hpp"

#include "common/files.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "discovery/cluster_access.hpp"
#include "http/file_response.hpp"
#include "kube/cluster_context.hpp"
#include "kube/names.hpp"
#include "kube/objects.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace ironboot::discovery {

namespace json = boost::json;

namespace {

constexpr const char* kPrefix = "/assets/environments/";

struct Source {
  std::string url, sha512;
};

Source source_of(const json::object& env, std::string_view part) {
  Source s;
  const auto* spec = objects::spec_of(env);
  const auto* o = spec ? objects::object_at(*spec, part) : nullptr;
  if (o) {
    s.url = std::string(objects::string_at(*o, "url"));
    s.sha512 = std::string(objects::string_at(*o, "sha512"));
  }
  return s;
}

std::string read_small(const std::string& path) { return read_file(path).value_or(""); }

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Runs on the worker thread. Files already fetched for the same sources are kept
// ("fetched once"); with sha512 given they are verified again.
FetchResult fetch_environment(const std::string& dir, const std::string& key, const Source& kernel,
                              const Source& initrd, const std::atomic<bool>& cancel) {
  const std::string marker = dir + "/source";
  const bool have_kernel = file_exists(dir + "/kernel");
  const bool have_initrd = initrd.url.empty() || file_exists(dir + "/initrd");
  if (read_small(marker) == key && have_kernel && have_initrd &&
      (kernel.sha512.empty() || sha512_of_file(dir + "/kernel") == kernel.sha512) &&
      (initrd.url.empty() || initrd.sha512.empty() || sha512_of_file(dir + "/initrd") == initrd.sha512)) {
    FetchResult cached;
    cached.ok = true;
    cached.message = "cached";
    return cached;
  }
  ::unlink(marker.c_str());
  FetchLimits limits;
  FetchResult r = fetch_to_file(kernel.url, dir + "/kernel", kernel.sha512, limits, cancel);
  if (!r.ok) {
    r.message = "kernel: " + r.message;
    return r;
  }
  if (!initrd.url.empty()) {
    FetchResult ri = fetch_to_file(initrd.url, dir + "/initrd", initrd.sha512, limits, cancel);
    if (!ri.ok) {
      ri.message = "initrd: " + ri.message;
      return ri;
    }
    r.bytes += ri.bytes;
  }
  std::ofstream(marker) << key;
  return r;
}

}  // namespace

EnvironmentCache::EnvironmentCache(boost::asio::io_context& io, std::string data_dir, const Clock& clock,
                                   std::function<void()> on_change)
    : io_(io), data_dir_(std::move(data_dir)), clock_(clock), on_change_(std::move(on_change)) {}

EnvironmentCache::~EnvironmentCache() {
  alive_.reset();
  *cancel_ = true;
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

void EnvironmentCache::register_routes(http::Router& router) {
  router.add_prefix("GET", kPrefix, [this](const http::Request& r) { return serve_file(r); });
}

void EnvironmentCache::start(kube::ClusterContext& cluster) {
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

void EnvironmentCache::stop() { *cancel_ = true; }

std::string EnvironmentCache::asset_path(const std::string& name, bool kernel) const {
  auto it = environments_.find(name);
  if (it == environments_.end() || !it->second.ready) return {};
  return std::string(kPrefix) + name + (kernel ? "/kernel" : "/initrd");
}

void EnvironmentCache::on_event(const kube::ObjectPtr& now_obj, const std::string& name) {
  if (!now_obj) {
    environments_.erase(name);
    return;
  }
  const Source kernel = source_of(*now_obj, "kernel");
  const Source initrd = source_of(*now_obj, "initrd");
  const std::string key = kernel.url + "\n" + kernel.sha512 + "\n" + initrd.url + "\n" + initrd.sha512 + "\n";
  auto& state = environments_[name];
  if (state.key == key) return;  // our own status write, or nothing that matters changed
  state.key = key;
  state.ready = false;
  state.fetching = true;
  auto log = logger("discovery");
  auto fail_now = [&](std::string reason, std::string message) {
    FetchResult r;
    r.reason = std::move(reason);
    r.message = std::move(message);
    fetch_done(name, key, r);
  };
  if (!kube::valid_dns_subdomain(name)) return fail_now("InvalidName", "name cannot be a directory name");
  if (kernel.url.empty()) return fail_now("InvalidSpec", "spec.kernel.url is empty");
  state.dir = data_dir_ + "/environments/" + name;
  std::error_code ec;
  std::filesystem::create_directories(state.dir, ec);
  if (ec) return fail_now("FetchFailed", "cannot create " + state.dir + ": " + ec.message());
  if (!served_root_.is_open()) {
    if (auto error = served_root_.open(data_dir_ + "/environments"); !error.empty())
      return fail_now("FetchFailed", "cannot open " + error);
  }
  log->info("environment fetch name={} kernel={} initrd={}", name, kernel.url, initrd.url);
  std::weak_ptr<int> alive = alive_;
  auto cancel = cancel_;
  workers_.emplace_back([this, alive, cancel, dir = state.dir, key, kernel, initrd, name] {
    FetchResult r = fetch_environment(dir, key, kernel, initrd, *cancel);
    if (*cancel) return;
    boost::asio::post(io_, [this, alive, name, key, r] {
      if (!alive.expired()) fetch_done(name, key, r);
    });
  });
}

void EnvironmentCache::fetch_done(const std::string& name, const std::string& key, const FetchResult& result) {
  auto it = environments_.find(name);
  if (it == environments_.end() || it->second.key != key) return;  // changed or deleted meanwhile
  it->second.fetching = false;
  it->second.ready = result.ok;
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
