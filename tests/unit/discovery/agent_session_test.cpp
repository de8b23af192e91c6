// The session policy: boot tokens bound to the /ipxe peer, exchanged at register for
// sessions bound to the agent's address, renewed past half their life, superseded by a newer
// boot, kernel tickets; and the per-address mint limit.
#include "discovery/agent_session.hpp"

#include "fakes.hpp"

#include <gtest/gtest.h>

namespace ironboot::discovery {
namespace {

constexpr const char* kUuid = "4c4c4544-0042-3510-8051-b7c04f4e4d32";
constexpr const char* kMac = "52:54:00:12:34:56";
constexpr const char* kAgent = "10.0.0.50";
constexpr const char* kOutsider = "10.0.0.66";

// Different bytes on every call, like a real source, but reproducible.
RandomSource counting_random() {
  auto counter = std::make_shared<unsigned char>(0);
  return [counter](unsigned char* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(++*counter);
    return true;
  };
}

class AgentSessionsTest : public ::testing::Test {
 protected:
  testing::FakeClock clock{1795491532};
  SessionOptions options{std::chrono::seconds(900), std::chrono::seconds(300), 65536};
  AgentSessions sessions{TokenKey{}, clock, counting_random(), options};

  std::optional<TokenClaims> check(AgentSessions& s, const std::string& token, const char* address, bool registering,
                                   TokenError& error) {
    return s.authenticate(token, address, registering, error);
  }
};

TEST_F(AgentSessionsTest, BootTokenIsExchangedFromItsAddressOnly) {
  const auto boot = sessions.mint_boot(kUuid, kMac, kAgent);
  ASSERT_TRUE(boot);
  EXPECT_EQ(boot->token.substr(0, 3), "b2.");
  EXPECT_EQ(boot->nonce.size(), 32u);
  TokenError error{};
  EXPECT_FALSE(check(sessions, boot->token, kOutsider, true, error));
  EXPECT_EQ(error, TokenError::wrong_address);
  EXPECT_FALSE(check(sessions, boot->token, kAgent, false, error)) << "a boot token opens register only";
  EXPECT_EQ(error, TokenError::wrong_kind);

  auto claims = check(sessions, boot->token, kAgent, true, error);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->kind, TokenKind::boot);
  EXPECT_EQ(claims->nonce, boot->nonce);
  EXPECT_EQ(claims->expiry, 1795491532 + 900);
  const std::string session = sessions.open_session(*claims);
  EXPECT_EQ(session.substr(0, 3), "s2.");
  auto s = check(sessions, session, kAgent, false, error);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, TokenKind::session);
  EXPECT_EQ(s->nonce, boot->nonce);
  EXPECT_EQ(s->address, kAgent);
  EXPECT_EQ(s->expiry, 1795491532 + 300);
  EXPECT_FALSE(check(sessions, session, kOutsider, false, error));
  EXPECT_EQ(error, TokenError::wrong_address);

  // The agent retries a register whose answer was lost: same boot token, same address.
  EXPECT_TRUE(check(sessions, boot->token, kAgent, true, error));
  // And a register again with its session (after a 404) works as well.
  EXPECT_TRUE(check(sessions, session, kAgent, true, error));
}

TEST_F(AgentSessionsTest, TokensExpire) {
  const auto boot = sessions.mint_boot(kUuid, kMac, kAgent);
  TokenError error{};
  const std::string session = sessions.open_session(*check(sessions, boot->token, kAgent, true, error));
  clock.advance(std::chrono::seconds(299));
  EXPECT_TRUE(check(sessions, session, kAgent, false, error));
  clock.advance(std::chrono::seconds(1));
  EXPECT_FALSE(check(sessions, session, kAgent, false, error));
  EXPECT_EQ(error, TokenError::expired);
  clock.advance(std::chrono::seconds(600));
  EXPECT_FALSE(check(sessions, boot->token, kAgent, true, error));
  EXPECT_EQ(error, TokenError::expired);
}

TEST_F(AgentSessionsTest, RenewalPastHalfItsLife) {
  const auto boot = sessions.mint_boot(kUuid, kMac, kAgent);
  TokenError error{};
  const std::string session = sessions.open_session(*check(sessions, boot->token, kAgent, true, error));
  const auto claims = check(sessions, session, kAgent, false, error);
  ASSERT_TRUE(claims);
  EXPECT_EQ(sessions.renewal(*claims), "") << "fresh";
  clock.advance(std::chrono::seconds(149));
  EXPECT_EQ(sessions.renewal(*claims), "");
  clock.advance(std::chrono::seconds(1));
  const std::string renewed = sessions.renewal(*claims);
  ASSERT_FALSE(renewed.empty());
  const auto again = check(sessions, renewed, kAgent, false, error);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->expiry, 1795491532 + 150 + 300);
  EXPECT_EQ(again->nonce, claims->nonce) << "the same boot";
  // Renewals keep an agent going as long as it talks to ironboot.
  clock.advance(std::chrono::seconds(290));
  EXPECT_TRUE(check(sessions, renewed, kAgent, false, error));
  EXPECT_FALSE(check(sessions, session, kAgent, false, error));
}

TEST_F(AgentSessionsTest, ANewerBootSupersedesTheOldSession) {
  TokenError error{};
  const auto first = sessions.mint_boot(kUuid, kMac, kAgent);
  const std::string old_session = sessions.open_session(*check(sessions, first->token, kAgent, true, error));
  clock.advance(std::chrono::seconds(30));
  const auto second = sessions.mint_boot(kUuid, kMac, kAgent);
  // Minting alone supersedes nothing (anyone may ask /ipxe): the old session carries on.
  EXPECT_TRUE(check(sessions, old_session, kAgent, false, error));
  const std::string new_session = sessions.open_session(*check(sessions, second->token, kAgent, true, error));
  EXPECT_FALSE(check(sessions, old_session, kAgent, false, error));
  EXPECT_EQ(error, TokenError::superseded);
  EXPECT_FALSE(check(sessions, first->token, kAgent, true, error)) << "nor can the old boot register again";
  EXPECT_EQ(error, TokenError::superseded);
  EXPECT_TRUE(check(sessions, new_session, kAgent, false, error));
  // Another machine is not affected.
  const auto other = sessions.mint_boot(kUuid, "52:54:00:00:00:02", kOutsider);
  EXPECT_TRUE(sessions.open_session(*check(sessions, other->token, kOutsider, true, error)).size() > 0);
  EXPECT_TRUE(check(sessions, new_session, kAgent, false, error));
}

TEST_F(AgentSessionsTest, ARestartKeepsRunningAgentsAndStillSupersedes) {
  TokenError error{};
  const auto first = sessions.mint_boot(kUuid, kMac, kAgent);
  const std::string old_session = sessions.open_session(*check(sessions, first->token, kAgent, true, error));
  clock.advance(std::chrono::seconds(10));
  const auto second = sessions.mint_boot(kUuid, kMac, kAgent);
  const std::string new_session = sessions.open_session(*check(sessions, second->token, kAgent, true, error));

  // A restarted ironboot (same key, nothing remembered) trusts the signed, unexpired session.
  AgentSessions restarted(TokenKey{}, clock, counting_random(), options);
  EXPECT_EQ(restarted.machines(), 0u);
  EXPECT_TRUE(check(restarted, new_session, kAgent, false, error));
  EXPECT_EQ(restarted.machines(), 1u);
  EXPECT_FALSE(check(restarted, old_session, kAgent, false, error)) << "the newer boot is known again";
  EXPECT_EQ(error, TokenError::superseded);
  // Longer than the session TTL: the agent registers again with its boot token, if unexpired.
  clock.advance(std::chrono::seconds(400));
  EXPECT_FALSE(check(restarted, new_session, kAgent, false, error));
  EXPECT_EQ(error, TokenError::expired);
  EXPECT_TRUE(check(restarted, second->token, kAgent, true, error));
}

TEST_F(AgentSessionsTest, KeyMismatchAndGarbageAreRefused) {
  TokenKey other{};
  other[0] = 1;
  AgentSessions foreign(other, clock, counting_random(), options);
  const auto boot = foreign.mint_boot(kUuid, kMac, kAgent);
  TokenError error{};
  EXPECT_FALSE(check(sessions, boot->token, kAgent, true, error));
  EXPECT_EQ(error, TokenError::bad_signature);
  EXPECT_FALSE(check(sessions, "", kAgent, true, error));
  EXPECT_EQ(error, TokenError::missing);
  EXPECT_FALSE(check(sessions, "v1.abc.def", kAgent, true, error));
  EXPECT_EQ(error, TokenError::malformed);
  AgentSessions broken(TokenKey{}, clock, [](unsigned char*, std::size_t) { return false; }, options);
  EXPECT_FALSE(broken.mint_boot(kUuid, kMac, kAgent)) << "no nonce, no token";
  EXPECT_EQ(broken.mint_ticket(kUuid, kMac, "talos", kAgent), "");
}

TEST_F(AgentSessionsTest, TicketsAreBoundToEnvironmentAndAddress) {
  const std::string ticket = sessions.mint_ticket(kUuid, kMac, "talos", kAgent);
  EXPECT_EQ(ticket.substr(0, 3), "k2.");
  TokenError error{};
  auto claims = sessions.verify_ticket(ticket, kAgent, error);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->environment, "talos");
  EXPECT_EQ(claims->uuid, kUuid);
  EXPECT_EQ(claims->mac, kMac);
  EXPECT_EQ(claims->nonce.size(), 32u);
  EXPECT_NE(sessions.mint_ticket(kUuid, kMac, "talos", kAgent), ticket) << "a new nonce per boot";
  EXPECT_FALSE(sessions.verify_ticket(ticket, kOutsider, error));
  EXPECT_EQ(error, TokenError::wrong_address);
  TokenError e2{};
  EXPECT_FALSE(check(sessions, ticket, kAgent, true, e2)) << "a ticket is no agent credential";
  EXPECT_EQ(e2, TokenError::wrong_kind);
  const auto boot = sessions.mint_boot(kUuid, kMac, kAgent);
  EXPECT_FALSE(sessions.verify_ticket(boot->token, kAgent, error));
  EXPECT_EQ(error, TokenError::wrong_kind);
  clock.advance(std::chrono::seconds(900));
  EXPECT_FALSE(sessions.verify_ticket(ticket, kAgent, error));
  EXPECT_EQ(error, TokenError::expired);
}

TEST_F(AgentSessionsTest, TheTableOfBootsIsBounded) {
  SessionOptions small = options;
  small.max_machines = 2;
  AgentSessions s(TokenKey{}, clock, counting_random(), small);
  TokenError error{};
  for (const char* mac : {"52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"}) {
    const auto boot = s.mint_boot(kUuid, mac, kAgent);
    s.open_session(*check(s, boot->token, kAgent, true, error));
  }
  EXPECT_EQ(s.machines(), 2u);
}

TEST(MintRateLimiter, TokenBucketPerAddress) {
  testing::FakeClock clock(1795491532);
  MintRateLimiter limiter(clock, 6);  // one more every 10 s
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(limiter.allow(kAgent)) << i;
  EXPECT_FALSE(limiter.allow(kAgent));
  EXPECT_TRUE(limiter.allow(kOutsider)) << "each address has its own bucket";
  clock.advance(std::chrono::seconds(9));
  EXPECT_FALSE(limiter.allow(kAgent));
  clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(limiter.allow(kAgent));
  EXPECT_FALSE(limiter.allow(kAgent));
  clock.advance(std::chrono::seconds(3600));
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(limiter.allow(kAgent)) << "refills up to the burst only";
  EXPECT_FALSE(limiter.allow(kAgent));
}

TEST(MintRateLimiter, BoundedTableDropsRefilledBucketsFirst) {
  testing::FakeClock clock(1795491532);
  MintRateLimiter limiter(clock, 2, 3);
  EXPECT_TRUE(limiter.allow("10.0.0.1"));
  EXPECT_TRUE(limiter.allow("10.0.0.1"));
  EXPECT_FALSE(limiter.allow("10.0.0.1"));
  EXPECT_TRUE(limiter.allow("10.0.0.2"));
  EXPECT_TRUE(limiter.allow("10.0.0.3"));
  clock.advance(std::chrono::seconds(30));  // .2 and .3 refill to 2; .1 to 1
  EXPECT_TRUE(limiter.allow("10.0.0.4"));
  EXPECT_LE(limiter.addresses(), 3u);
  EXPECT_TRUE(limiter.allow("10.0.0.1"));
  EXPECT_FALSE(limiter.allow("10.0.0.1")) << "the busy address kept its bucket";
}

}  // namespace
}  // namespace ironboot::discovery
