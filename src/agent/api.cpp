#include "agent/api.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>

namespace ironboot::agent {
using namespace std::chrono_literals;

namespace {
constexpr auto kRequestTimeout = 15s;

std::string seconds_text(std::chrono::milliseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

std::string describe(const HttpResult& r) {
  if (!r.response) return "ironboot unreachable (" + r.error + ")";
  std::string body = r.response->body.substr(0, 200);
  return "HTTP " + std::to_string(r.response->status) + (body.empty() ? "" : " " + body);
}
}  // namespace

std::chrono::milliseconds Backoff::delay(unsigned attempt, double rand01) const {
  auto d = initial;
  for (unsigned i = 0; i < attempt && d < max; ++i) d *= 2;
  d = std::min(d, max);
  rand01 = std::clamp(rand01, 0.0, 1.0);
  return std::chrono::milliseconds(d.count() / 2 + static_cast<long long>(static_cast<double>(d.count() / 2) * rand01));
}

Pacer Pacer::real(std::uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return Pacer{[](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); },
               [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); }};
}

AgentApi::AgentApi(HttpClient& http, std::string boot_token, Pacer pacer, Say say, Backoff backoff)
    : http_(http), boot_token_(std::move(boot_token)), pacer_(std::move(pacer)), say_(std::move(say)), backoff_(backoff) {}

std::string AgentApi::session() const {
  std::lock_guard lock(mutex_);
  return session_;
}

void AgentApi::drop_session() {
  std::lock_guard lock(mutex_);
  session_.clear();
}

void AgentApi::adopt(const std::string& session) {
  if (session.empty()) return;
  std::lock_guard lock(mutex_);
  session_ = session;
}

HttpResult AgentApi::send(const std::string& method, const std::string& target, const std::string& body,
                          std::chrono::milliseconds timeout, bool registering) {
  std::string bearer = session();
  // Only register takes the boot token; elsewhere without a session the 401 says so.
  if (bearer.empty() && registering) bearer = boot_token_;
  auto r = http_.request(method, target, body, bearer, timeout);
  if (r.response) {
    if (r.response->status == 401) {
      drop_session();
    } else {
      adopt(r.response->session);
    }
  }
  return r;
}

std::chrono::milliseconds AgentApi::failure_delay(unsigned n) const {
  return backoff_.delay(n == 0 ? 0 : n - 1, pacer_.random());
}

HttpResult AgentApi::post(const std::string& target, const std::string& body, std::chrono::milliseconds timeout) {
  return send("POST", target, body, timeout);
}

HttpResult AgentApi::register_once(const std::string& body) {
  if (!attestor_) return send("POST", "/agent/v1/register", body, kRequestTimeout, true);
  auto c = send("POST", "/agent/v1/challenge", challenge_request_body(attestor_->ek_public_hex(), attestor_->ak_public_hex()),
                kRequestTimeout, true);
  if (!c.response || c.response->status != 200) {
    say_("tpm challenge: " + describe(c));
    return c;
  }
  auto parsed = parse_challenge_body(c.response->body);
  std::string error = parsed.error;
  std::optional<std::string> secret;
  if (parsed.challenge) secret = attestor_->activate(parsed.challenge->id_object, parsed.challenge->encrypted_secret, error);
  if (!secret) {
    say_("tpm challenge: not answered (" + error + "); registering without it");
    return send("POST", "/agent/v1/register", body, kRequestTimeout, true);
  }
  return send("POST", "/agent/v1/register", with_tpm_proof(body, parsed.challenge->id, *secret), kRequestTimeout, true);
}

std::optional<AgentApi::Registered> AgentApi::register_until_accepted(const std::string& body, unsigned attempts) {
  unsigned unauthorized = 0;
  for (unsigned attempt = 0; attempts == 0 || attempt < attempts; ++attempt) {
    auto r = register_once(body);
    unauthorized = (r.response && r.response->status == 401) ? unauthorized + 1 : 0;
    if (unauthorized >= kUnauthorizedLimit) {
      say_("register: token rejected " + std::to_string(unauthorized) + " times in a row");
      return std::nullopt;
    }
    if (r.response && r.response->status == 200) {
      auto parsed = parse_instruction_body(r.response->body);
      if (parsed.instruction && !parsed.session.empty()) {
        adopt(parsed.session);
        return Registered{parsed.server, *parsed.instruction, parsed.bmc_setup};
      }
      if (parsed.instruction) parsed.error = "no session token in the answer";
      say_("register: answer not understood (" + parsed.error + ")");
    } else {
      say_("register: " + describe(r));
    }
    if (attempts != 0 && attempt + 1 == attempts) break;
    auto d = backoff_.delay(attempt, pacer_.random());
    say_("register: retry in " + seconds_text(d));
    pacer_.sleep(d);
  }
  return std::nullopt;
}

AgentApi::Poll AgentApi::poll_instruction(unsigned wait_seconds) {
  wait_seconds = std::min(wait_seconds, 60u);
  // The server holds the request up to `wait` seconds; allow for it plus the network.
  auto timeout = std::chrono::seconds(wait_seconds) + kRequestTimeout;
  auto r = send("GET", "/agent/v1/instructions?wait=" + std::to_string(wait_seconds), "", timeout);
  Poll p;
  if (!r.response) {
    p.error = describe(r);
    return p;
  }
  if (r.response->status == 404) p.not_found = true;
  if (r.response->status == 401) p.unauthorized = true;
  if (r.response->status == 403) p.forbidden = true;
  if (r.response->status != 200) {
    p.error = describe(r);
    return p;
  }
  auto parsed = parse_instruction_body(r.response->body);
  if (!parsed.instruction) {
    p.error = "answer not understood (" + parsed.error + ")";
    return p;
  }
  p.instruction = parsed.instruction;
  return p;
}

std::optional<Instruction> AgentApi::heartbeat() {
  auto r = post("/agent/v1/heartbeat", "{}", kRequestTimeout);
  if (!r.response || r.response->status != 200) {
    say_("heartbeat: " + describe(r));
    return std::nullopt;
  }
  return parse_instruction_body(r.response->body).instruction;
}

bool AgentApi::progress(const std::string& device, std::uint64_t done, std::uint64_t total) {
  auto r = post("/agent/v1/progress", progress_body(device, done, total), 5s);
  return r.response && r.response->status / 100 == 2;
}

std::optional<Instruction> AgentApi::wiped(const WipeReport& report, unsigned attempts) {
  auto body = wiped_body(report);
  for (unsigned attempt = 0; attempts == 0 || attempt < attempts; ++attempt) {
    auto r = post("/agent/v1/wiped", body, kRequestTimeout);
    if (r.response && r.response->status == 200) {
      auto parsed = parse_instruction_body(r.response->body);
      if (parsed.instruction) return parsed.instruction;
      return Instruction{};  // accepted; the next poll says what comes next
    }
    say_("wiped: " + describe(r));
    if (r.response && r.response->status == 409) return Instruction{};
    if (r.response && r.response->status == 401) return std::nullopt;
    if (attempts != 0 && attempt + 1 == attempts) break;
    pacer_.sleep(backoff_.delay(attempt, pacer_.random()));
  }
  return std::nullopt;
}

bool AgentApi::addresses(const std::vector<std::string>& ipv4) {
  auto r = post("/agent/v1/addresses", addresses_body(ipv4), kRequestTimeout);
  if (!r.response || r.response->status / 100 != 2) {
    say_("addresses: " + describe(r));
    return false;
  }
  return true;
}

}  // namespace ironboot::agent
