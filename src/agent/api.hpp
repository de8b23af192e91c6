// The agent's conversation with ironboot (docs/agent-api.md): register until it works,
// long-poll for instructions, heartbeat, report progress, wiped disks and addresses. The boot
// token from the kernel command line is exchanged at register for a session token, which
// every later request carries; a renewed one in any answer replaces it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/attest.hpp"
#include "agent/http_client.hpp"
#include "agent/wire.hpp"

namespace ironboot::agent {

// Exponential backoff with jitter: attempt n waits a random time in [d/2, d] where
// d = min(max, initial * 2^n), so a rack of machines rebooted together spreads out.
struct Backoff {
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{30000};
  // rand01 in [0, 1).
  std::chrono::milliseconds delay(unsigned attempt, double rand01) const;
};

// Waiting and randomness, injectable so tests run instantly and deterministically.
struct Pacer {
  std::function<void(std::chrono::milliseconds)> sleep;
  std::function<double()> random;  // [0, 1)
  // Real sleeps; jitter from a generator seeded by the caller (no getrandom(): it can block
  // early in boot, and the seed only has to differ between machines).
  static Pacer real(std::uint64_t seed);
};

// Lines for the console ("register: ironboot unreachable (connect: refused), retry in 2.1 s").
using Say = std::function<void(const std::string&)>;

class AgentApi {
 public:
  // `boot_token`: ironboot.token= of this boot.
  AgentApi(HttpClient& http, std::string boot_token, Pacer pacer, Say say, Backoff backoff = {});

  // With a TPM: every register first asks POST challenge and carries its answer
  // (docs/tpm-identity.md). Not owned; null (the default): registers prove nothing.
  void set_attestor(Attestor* attestor) { attestor_ = attestor; }

  // The session token in use ("" before the first register or after it was refused).
  std::string session() const;
  // Forgets the session (refused): the next register presents the boot token again.
  void drop_session();

  struct Registered {
    std::string server;
    Instruction instruction;
    bool bmc_setup = false;  // ironboot asks for a BMC user (docs/agent.md)
  };
  // Retries (with backoff) until ironboot accepts the registration or `attempts` is spent
  // (0 = forever). With a session it presents the session first and, once that is refused,
  // the boot token. nullopt when attempts ran out, or after kUnauthorizedLimit 401 answers in
  // a row: the boot is over for ironboot (expired, superseded, another key), and only a new
  // PXE boot brings a new boot token.
  std::optional<Registered> register_until_accepted(const std::string& body, unsigned attempts = 0);
  static constexpr unsigned kUnauthorizedLimit = 5;

  // One long-poll. nullopt on any failure (the caller backs off via next_failure_delay()).
  // not_found is set when ironboot no longer knows this agent (404): register again.
  struct Poll {
    std::optional<Instruction> instruction;
    bool not_found = false;
    bool unauthorized = false;  // 401: the session is no longer accepted (it is dropped)
    bool forbidden = false;     // 403: this boot has not proven the TPM its Server is pinned to
    std::string error;
  };
  Poll poll_instruction(unsigned wait_seconds);

  // A delay for the n-th consecutive failure of a poll or report.
  std::chrono::milliseconds failure_delay(unsigned consecutive_failures) const;
  void pause(std::chrono::milliseconds d) { pacer_.sleep(d); }

  std::optional<Instruction> heartbeat();  // nullopt on failure
  bool progress(const std::string& device, std::uint64_t done, std::uint64_t total);
  // Retries until accepted or attempts are spent; the answer's next instruction. A 409 (not
  // this wipe's exchange any more, e.g. its answer was lost and the Server is clean) gives
  // wait: the next poll says what follows. A 401 drops the session and gives nullopt.
  std::optional<Instruction> wiped(const WipeReport& report, unsigned attempts = 0);
  bool addresses(const std::vector<std::string>& ipv4);

 private:
  HttpResult post(const std::string& target, const std::string& body, std::chrono::milliseconds timeout);
  // Every request goes through here: the current token out, a renewed session in.
  HttpResult send(const std::string& method, const std::string& target, const std::string& body,
                  std::chrono::milliseconds timeout, bool registering = false);
  void adopt(const std::string& session);
  // One register: with an attestor, a challenge first and the register with its answer (or,
  // when the TPM cannot answer, without one: ironboot decides whether that is enough).
  HttpResult register_once(const std::string& body);

  HttpClient& http_;
  const std::string boot_token_;
  mutable std::mutex mutex_;  // session_: the heartbeat thread renews it too
  std::string session_;
  Pacer pacer_;
  Say say_;
  Backoff backoff_;
  Attestor* attestor_ = nullptr;
};

}  // namespace ironboot::agent
