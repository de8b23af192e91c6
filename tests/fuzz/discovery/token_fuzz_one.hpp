// One input of the token fuzz target (also replayed by tests/unit/discovery/token_test.cpp):
// the bytes as a bearer token through every verifier, and the invariants that must hold.
#pragma once

#include "discovery/agent_session.hpp"
#include "discovery/token.hpp"

#include <chrono>
#include <cstdlib>
#include <string_view>

namespace ironboot::discovery::fuzzing {

// The corpus tokens are minted with the all-zero key; the clock stands still at kNow, so a
// replay gives the same answers whenever it runs.
inline constexpr std::int64_t kNow = 1795491532;

class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
  }
};

inline void check(bool ok) {
  if (!ok) std::abort();
}

// Returns how many verifiers accepted the input (for the unit test's sanity check).
inline int fuzz_token_one(std::string_view input) {
  static const FixedClock clock;
  const TokenKey key{};
  int accepted = 0;
  for (TokenKind kind : {TokenKind::boot, TokenKind::session, TokenKind::ticket}) {
    TokenError error = TokenError::missing;
    const auto claims = verify_token(key, input, kind, kNow, error);
    if (!claims) continue;
    ++accepted;
    // Whatever verifies says what it was minted for: minting it again verifies to the same.
    check(claims->kind == kind && claims->expiry > kNow);
    TokenError again = TokenError::missing;
    const auto round = verify_token(key, mint_token(key, *claims), kind, kNow, again);
    check(round && *round == *claims);
    check(unverified_claims(input).has_value());
  }
  (void)unverified_claims(input);
  AgentSessions sessions(key, clock, [](unsigned char* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(i);
    return true;
  });
  TokenError error = TokenError::missing;
  for (bool registering : {false, true}) {
    if (auto claims = sessions.authenticate(input, "10.0.0.50", registering, error)) {
      check(claims->address == "10.0.0.50");
      const std::string session = sessions.open_session(*claims);
      check(sessions.authenticate(session, "10.0.0.50", false, error).has_value());
      check(!sessions.authenticate(session, "10.0.0.51", false, error) && error == TokenError::wrong_address);
    }
  }
  (void)sessions.verify_ticket(input, "10.0.0.50", error);
  return accepted;
}

}  // namespace ironboot::discovery::fuzzing
