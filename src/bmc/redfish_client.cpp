#include "bmc/redfish_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <deque>

#include "bmc/redfish_codec.hpp"
#include "bmc/redfish_http.hpp"
#include "common/base64.hpp"
#include "common/log.hpp"

namespace ironboot::bmc {

namespace {

namespace net = boost::asio;
using boost::beast::http::verb;
using namespace redfish;

constexpr const char* kServiceRoot = "/redfish/v1/";
constexpr const char* kDefaultSessions = "/redfish/v1/SessionService/Sessions";

bool success(int status) { return status >= 200 && status < 300; }

BmcStatus cancelled_status() { return BmcStatus::failure("Cancelled", "the client was closed"); }

// An HTTP error answer as a BmcStatus, with the BMC's own messages.
BmcStatus http_failure(const std::string& what, const HttpAnswer& a) {
  const std::string detail = parse_error(a.body).summary();
  const std::string msg = what + ": HTTP " + std::to_string(a.status) + (detail.empty() ? "" : " " + detail);
  if (a.status == 401 || a.status == 403) return BmcStatus::failure("AuthFailed", msg);
  if (a.status == 404 || a.status == 405 || a.status == 501) return BmcStatus::failure("Unsupported", msg);
  return BmcStatus::failure("Rejected", msg);
}

class RedfishClient : public BmcClient, public std::enable_shared_from_this<RedfishClient> {
 public:
  RedfishClient(net::io_context& io, const BmcEndpoint& endpoint, const BmcCredentials& credentials, RedfishOptions options)
      : io_(io),
        endpoint_(endpoint),
        credentials_(credentials),
        options_(options),
        http_(io, endpoint, HttpLimits{options.connect_timeout, options.request_timeout, options.max_response_bytes}),
        timer_(io) {}

  void power_status(PowerHandler done) override {
    Job job;
    job.kind = Job::Status;
    job.power_done = std::move(done);
    enqueue(std::move(job));
  }

  void power(PowerAction action, StatusHandler done) override {
    Job job;
    job.kind = Job::Power;
    job.action = action;
    job.status_done = std::move(done);
    enqueue(std::move(job));
  }

  void set_next_boot(BootOverride boot, StatusHandler done) override {
    Job job;
    job.kind = Job::Boot;
    job.boot = boot;
    job.status_done = std::move(done);
    enqueue(std::move(job));
  }

  void close() override {
    ++generation_;
    auto pending = std::move(queue_);
    queue_.clear();
    for (auto& job : pending) net::post(io_, [job = std::move(job)]() mutable { finish(job, cancelled_status(), PowerState::Unknown); });
    timer_.cancel();
    // An operation in flight is cut off; a login in flight is left to finish so the session
    // it creates can be deleted, never leaked. An idle connection stays for the logout.
    if (in_operation_ && !logging_in_) http_.disconnect();
    if (session_) {
      logout_sessions_.push_back(*session_);
      session_.reset();
    }
    if (!logout_sessions_.empty()) start();
  }

 private:
  struct Job {
    enum Kind { Status, Power, Boot } kind = Status;
    PowerAction action = PowerAction::On;
    BootOverride boot;
    PowerHandler power_done;
    StatusHandler status_done;
  };

  static void finish(Job& job, BmcStatus status, PowerState power) {
    if (job.power_done) job.power_done(std::move(status), power);
    else if (job.status_done) job.status_done(std::move(status));
  }

  void enqueue(Job job) {
    queue_.push_back(std::move(job));
    start();
  }

  void start() {
    if (running_) return;
    running_ = true;
    net::co_spawn(io_, run(shared_from_this()), net::detached);
  }

  static net::awaitable<void> run(std::shared_ptr<RedfishClient> self) {
    while (true) {
      if (!self->logout_sessions_.empty()) {
        co_await self->logout();
        continue;
      }
      if (self->queue_.empty()) break;
      Job job = std::move(self->queue_.front());
      self->queue_.pop_front();
      self->job_generation_ = self->generation_;
      PowerState power = PowerState::Unknown;
      self->in_operation_ = true;
      BmcStatus status = co_await self->execute(job, power);
      self->in_operation_ = false;
      if (self->cancelled()) status = cancelled_status();
      if (!status.ok()) power = PowerState::Unknown;
      finish(job, std::move(status), power);
    }
    self->running_ = false;
  }

  bool cancelled() const { return job_generation_ != generation_; }

  net::awaitable<HttpAnswer> send(verb method, std::string target, RedfishHttp::Headers headers, std::string body) {
    if (cancelled()) {
      HttpAnswer a;
      a.transport = cancelled_status();
      co_return a;
    }
    co_return co_await http_.request(method, std::move(target), std::move(headers), std::move(body));
  }

  // ---- authentication -------------------------------------------------------------------

  bool use_session() const {
    if (basic_fallback_) return false;
    if (options_.auth == RedfishOptions::Auth::Basic) return false;
    if (options_.auth == RedfishOptions::Auth::Session) return true;
    return root_ && !root_->sessions_path.empty();
  }

  std::string basic_header() const { return "Basic " + base64_encode(credentials_.username + ":" + credentials_.password); }

  net::awaitable<BmcStatus> login() {
    const std::string path = root_ && !root_->sessions_path.empty() ? root_->sessions_path : kDefaultSessions;
    const auto now = std::chrono::steady_clock::now();
    if (now < login_not_before_) {
      const auto wait = std::chrono::duration_cast<std::chrono::seconds>(login_not_before_ - now).count() + 1;
      co_return BmcStatus::failure("Busy", "the BMC had no session left; retrying the login in " + std::to_string(wait) + " s");
    }
    boost::json::object creds{{"UserName", credentials_.username}, {"Password", credentials_.password}};
    logging_in_ = true;
    auto a = co_await send(verb::post, path, {}, boost::json::serialize(creds));
    logging_in_ = false;
    if (!a.transport.ok()) co_return a.transport;
    if (success(a.status)) {
      auto session = parse_session_created(a.auth_token, a.location, a.body);
      if (!session) co_return BmcStatus::failure("Protocol", "POST " + path + ": " + session.error);
      if (cancelled()) {
        logout_sessions_.push_back(*session.value);  // closed meanwhile: log it out at once
        co_return cancelled_status();
      }
      session_ = *session.value;
      co_return BmcStatus::success();
    }
    const auto error = parse_error(a.body);
    if (is_session_limit(a.status, error)) {
      // Not again before the BMC's Retry-After (5 s when it sends none, at most a minute):
      // every login attempt costs a full BMC its session bookkeeping too.
      const auto backoff = std::min<std::chrono::seconds>(a.retry_after.value_or(std::chrono::seconds(5)), std::chrono::seconds(60));
      login_not_before_ = std::chrono::steady_clock::now() + backoff;
      co_return BmcStatus::failure("Busy", "POST " + path + ": HTTP " + std::to_string(a.status) +
                                               " the BMC has as many sessions as it allows (" + error.summary() +
                                               "); retry later");
    }
    if (options_.auth == RedfishOptions::Auth::Auto && (a.status == 404 || a.status == 405 || a.status == 501)) {
      basic_fallback_ = true;  // no session service after all
      co_return BmcStatus::success();
    }
    co_return http_failure("POST " + path, a);
  }

  // A request with credentials; a session the BMC has dropped (401) is renewed once.
  net::awaitable<HttpAnswer> authed(verb method, std::string target, std::string body, RedfishHttp::Headers extra = {}) {
    for (int attempt = 0;; ++attempt) {
      if (use_session() && !session_) {
        auto st = co_await login();
        if (!st.ok()) {
          HttpAnswer a;
          a.transport = st;
          co_return a;
        }
      }
      RedfishHttp::Headers headers = extra;
      if (use_session()) headers.emplace_back("X-Auth-Token", session_->token);
      else headers.emplace_back("Authorization", basic_header());
      auto a = co_await send(method, target, std::move(headers), body);
      if (a.transport.ok() && a.status == 401 && use_session() && attempt == 0) {
        logger("bmc")->info("redfish session expired host={} path={}: logging in again", endpoint_.host, session_->path);
        session_.reset();
        continue;
      }
      co_return a;
    }
  }

  net::awaitable<void> logout() {
    job_generation_ = generation_;
    Session s = logout_sessions_.front();
    logout_sessions_.erase(logout_sessions_.begin());
    RedfishHttp::Headers headers{{"X-Auth-Token", s.token}};
    auto a = co_await send(verb::delete_, s.path, std::move(headers), {});
    if (!a.transport.ok() || (!success(a.status) && a.status != 404))
      logger("bmc")->warn("redfish logout failed host={} session={} error=\"{}\"", endpoint_.host, s.path,
                          a.transport.ok() ? "HTTP " + std::to_string(a.status) : a.transport.message);
    if (logout_sessions_.empty()) http_.disconnect();
  }

  // ---- discovery of the system ----------------------------------------------------------

  net::awaitable<BmcStatus> load_root() {
    if (root_) co_return BmcStatus::success();
    // The service root needs no credentials (DSP0266 §13.3.1); some BMCs want them anyway.
    auto a = co_await send(verb::get, kServiceRoot, {}, {});
    if (a.transport.ok() && a.status == 401) {
      RedfishHttp::Headers headers{{"Authorization", basic_header()}};
      a = co_await send(verb::get, kServiceRoot, std::move(headers), {});
    }
    if (!a.transport.ok()) co_return a.transport;
    if (!success(a.status)) co_return http_failure("GET service root", a);
    auto root = parse_service_root(a.body);
    if (!root) co_return BmcStatus::failure("Protocol", root.error);
    root_ = *root.value;
    co_return BmcStatus::success();
  }

  net::awaitable<BmcStatus> load_system_path() {
    if (!system_path_.empty()) co_return BmcStatus::success();
    if (!endpoint_.system_path.empty()) {
      system_path_ = uri_path(endpoint_.system_path);
      if (system_path_.empty())
        co_return BmcStatus::failure("Unsupported", "the system path " + endpoint_.system_path + " is not a URI path");
      co_return BmcStatus::success();
    }
    if (root_->systems_path.empty()) co_return BmcStatus::failure("Unsupported", "the service root has no Systems");
    auto a = co_await authed(verb::get, root_->systems_path, {});
    if (!a.transport.ok()) co_return a.transport;
    if (!success(a.status)) co_return http_failure("GET " + root_->systems_path, a);
    auto members = parse_systems_collection(a.body);
    if (!members) co_return BmcStatus::failure("Protocol", members.error);
    system_path_ = members.value->front();
    co_return BmcStatus::success();
  }

  // GET the ComputerSystem; `etag` is the ETag header, else @odata.etag.
  net::awaitable<BmcStatus> get_system(ComputerSystem& sys, std::string& etag) {
    auto a = co_await authed(verb::get, system_path_, {});
    if (!a.transport.ok()) co_return a.transport;
    if (!success(a.status)) co_return http_failure("GET " + system_path_, a);
    auto parsed = parse_computer_system(a.body);
    if (!parsed) co_return BmcStatus::failure("Protocol", parsed.error);
    sys = std::move(*parsed.value);
    etag = a.etag.empty() ? sys.etag : a.etag;
    co_return BmcStatus::success();
  }

  net::awaitable<BmcStatus> execute(Job& job, PowerState& power) {
    auto st = co_await load_root();
    if (st.ok()) st = co_await load_system_path();
    ComputerSystem sys;
    std::string etag;
    if (st.ok()) st = co_await get_system(sys, etag);
    if (!st.ok()) co_return st;
    switch (job.kind) {
      case Job::Status:
        if (sys.power_state.empty()) co_return BmcStatus::failure("Protocol", system_path_ + " has no PowerState");
        power = sys.power;
        co_return BmcStatus::success();
      case Job::Power: co_return co_await do_power(job.action, sys);
      case Job::Boot: co_return co_await do_boot(job.boot, sys, etag);
    }
    co_return BmcStatus::failure("Unsupported", "unknown operation");
  }

  // ---- power ----------------------------------------------------------------------------

  net::awaitable<BmcStatus> wait_for_off() {
    for (int i = 0; i < options_.power_poll_attempts; ++i) {
      timer_.expires_after(options_.power_poll_interval);
      co_await timer_.async_wait(net::as_tuple(net::use_awaitable));
      if (cancelled()) co_return cancelled_status();
      ComputerSystem sys;
      std::string etag;
      auto st = co_await get_system(sys, etag);
      if (!st.ok()) co_return st;
      if (sys.power == PowerState::Off) co_return BmcStatus::success();
    }
    co_return BmcStatus::failure("Timeout", "the system did not power off after ForceOff");
  }

  net::awaitable<BmcStatus> do_power(PowerAction action, const ComputerSystem& sys) {
    const auto plan = plan_reset(action, sys.reset, sys.power);
    if (!plan.error.empty()) co_return BmcStatus::failure("Unsupported", plan.error);
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      if (i > 0) {
        auto st = co_await wait_for_off();
        if (!st.ok()) co_return st;
      }
      const std::string what = "POST " + sys.reset.target + " ResetType " + plan.steps[i];
      boost::json::object reset_body{{"ResetType", plan.steps[i]}};
      auto a = co_await authed(verb::post, sys.reset.target, boost::json::serialize(reset_body));
      if (!a.transport.ok()) co_return a.transport;
      if (!success(a.status)) co_return http_failure(what, a);
      if (auto task = parse_task(a.body); task && task.value->failed()) {
        RedfishError e;
        e.extended = task.value->messages;
        co_return BmcStatus::failure("Rejected", what + ": task " + task.value->state + " " + e.summary());
      }
    }
    co_return BmcStatus::success();
  }

  // ---- next boot ------------------------------------------------------------------------

  net::awaitable<HttpAnswer> patch(const std::string& body, const std::string& if_match) {
    RedfishHttp::Headers extra;
    if (!if_match.empty()) extra.emplace_back("If-Match", if_match);
    co_return co_await authed(verb::patch, system_path_, body, std::move(extra));
  }

  // One PATCH with the If-Match dance of the BMC's ETag mode.
  net::awaitable<HttpAnswer> patch_with_etag(const std::string& body, std::string etag) {
    const auto mode = options_.etag;
    const bool send_tag = mode == EtagMode::On || (mode == EtagMode::Auto && (!etag.empty() || if_match_required_));
    std::string tag = send_tag ? (etag.empty() ? "*" : etag) : "";
    auto a = co_await patch(body, tag);
    if (!a.transport.ok() || mode == EtagMode::Off) co_return a;
    if (a.status == 428) {
      if_match_required_ = true;
      if (!tag.empty()) co_return a;
      ComputerSystem sys;
      auto st = co_await get_system(sys, etag);
      if (!st.ok()) {
        a.transport = st;
        co_return a;
      }
      tag = etag.empty() ? "*" : etag;
      a = co_await patch(body, tag);
      if (!a.transport.ok()) co_return a;
    }
    if (a.status == 412) {
      // Changed since we read it, or the BMC spells the tag differently: read it again and
      // retry once, then with the other spellings of the same tag.
      ComputerSystem sys;
      std::string fresh;
      auto st = co_await get_system(sys, fresh);
      if (!st.ok()) {
        a.transport = st;
        co_return a;
      }
      for (const auto& variant : if_match_variants(fresh.empty() ? tag : fresh)) {
        a = co_await patch(body, variant);
        if (!a.transport.ok() || a.status != 412) break;
      }
    }
    co_return a;
  }

  net::awaitable<BmcStatus> do_boot(const BootOverride& want, const ComputerSystem& sys, const std::string& etag) {
    const auto plan = plan_boot_patch(sys.boot, want, mode_rejected_);
    if (!plan.error.empty()) co_return BmcStatus::failure("Unsupported", plan.error);
    for (std::size_t i = 0; i < plan.bodies.size(); ++i) {
      auto a = co_await patch_with_etag(plan.bodies[i], etag);
      if (!a.transport.ok()) co_return a.transport;
      if (success(a.status)) co_return BmcStatus::success();
      const bool more = i + 1 < plan.bodies.size();
      if (a.status == 400 && more) {
        // Dell: Mode is read-only; HPE DL160 Gen10: the full object is refused. Without Mode,
        // now and for the next boots of this BMC.
        mode_rejected_ = true;
        logger("bmc")->info("redfish BMC refused the Boot override with its Mode host={} error=\"{}\": retrying with Target and Enabled only",
                            endpoint_.host, parse_error(a.body).summary());
        continue;
      }
      co_return http_failure("PATCH " + system_path_ + " Boot", a);
    }
    co_return BmcStatus::failure("Rejected", "no Boot override body was accepted");
  }

  net::io_context& io_;
  BmcEndpoint endpoint_;
  BmcCredentials credentials_;
  RedfishOptions options_;
  RedfishHttp http_;
  net::steady_timer timer_;
  std::deque<Job> queue_;
  bool running_ = false;
  std::uint64_t generation_ = 0, job_generation_ = 0;
  std::optional<ServiceRoot> root_;
  std::string system_path_;
  std::optional<Session> session_;
  std::vector<Session> logout_sessions_;
  std::chrono::steady_clock::time_point login_not_before_{};
  bool in_operation_ = false;
  bool logging_in_ = false;
  bool basic_fallback_ = false;
  bool if_match_required_ = false;
  bool mode_rejected_ = false;
};

}  // namespace

std::shared_ptr<BmcClient> make_redfish_client(net::io_context& io, const BmcEndpoint& endpoint,
                                               const BmcCredentials& credentials, RedfishOptions options) {
  return std::make_shared<RedfishClient>(io, endpoint, credentials, options);
}

}  // namespace ironboot::bmc
