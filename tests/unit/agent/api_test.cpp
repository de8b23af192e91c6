#include "agent/api.hpp"

#include <gtest/gtest.h>

#include "agent/http_client.hpp"
#include "fake_server.hpp"

namespace ironboot::agent {
namespace {
using namespace std::chrono_literals;
using testing::FakeServer;
using testing::Reply;

Endpoint local(std::uint16_t port) { return Endpoint{"127.0.0.1", port, ""}; }

// Sleeps are recorded, not slept; randomness is fixed.
struct RecordingPacer {
  std::vector<std::chrono::milliseconds> sleeps;
  double value = 0.5;
  Pacer pacer() {
    return Pacer{[this](std::chrono::milliseconds d) { sleeps.push_back(d); }, [this] { return value; }};
  }
};

std::vector<std::string> lines;
void record(const std::string& s) { lines.push_back(s); }

TEST(Backoff, GrowsWithJitterAndCaps) {
  Backoff b{1000ms, 30000ms};
  EXPECT_EQ(b.delay(0, 0.0), 500ms);
  EXPECT_EQ(b.delay(0, 1.0), 1000ms);
  EXPECT_EQ(b.delay(1, 0.5), 1500ms);
  EXPECT_EQ(b.delay(3, 0.0), 4000ms);
  EXPECT_EQ(b.delay(10, 1.0), 30000ms);
  EXPECT_EQ(b.delay(1000, 0.0), 15000ms);  // no overflow for huge attempt counts
}

TEST(HttpClient, SendsTokenAndBodyAndReadsAnswer) {
  FakeServer server({{200, R"({"server":"abc","instruction":{"action":"wait"}})"}});
  BeastHttpClient http(local(server.port()));
  auto r = http.request("POST", "/agent/v1/register", R"({"uuid":"x"})", "s2.tok", 2s);
  ASSERT_TRUE(r.response) << r.error;
  EXPECT_EQ(r.response->status, 200);
  EXPECT_EQ(r.response->body, R"({"server":"abc","instruction":{"action":"wait"}})");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/agent/v1/register");
  EXPECT_EQ(reqs[0].authorization, "Bearer s2.tok");
  EXPECT_EQ(reqs[0].body, R"({"uuid":"x"})");
}

TEST(HttpClient, TimesOutOnASilentServer) {
  FakeServer server({{200, "{}", 3000ms}});
  BeastHttpClient http(local(server.port()));
  auto started = std::chrono::steady_clock::now();
  auto r = http.request("GET", "/agent/v1/instructions?wait=1", "", "s2.tok", 300ms);
  EXPECT_FALSE(r.response);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
}

TEST(HttpClient, RefusedAndHangUpAreErrors) {
  std::uint16_t port;
  {
    FakeServer gone({{200, "{}"}});
    port = gone.port();
  }
  BeastHttpClient refused(local(port));
  EXPECT_NE(refused.request("GET", "/", "", "s2.tok", 1s).error, "");
  FakeServer hangs({{200, "", 0ms, true}});
  BeastHttpClient h(local(hangs.port()));
  EXPECT_FALSE(h.request("GET", "/", "", "s2.tok", 1s).response);
}

TEST(HttpClient, RejectsOversizedAnswers) {
  FakeServer server({{200, std::string(5000, 'x')}});
  BeastHttpClient http(local(server.port()), 1000);
  EXPECT_FALSE(http.request("GET", "/", "", "s2.tok", 2s).response);
}

TEST(AgentApi, RegisterRetriesWithBackoffUntilAccepted) {
  FakeServer server({{503, "starting"}, {500, ""}, {200, "not json"}, {200, R"({"server":"s1","instruction":{"action":"wipe","mode":"fast"},"session":"s2.one"})"}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record, Backoff{1000ms, 30000ms});
  auto reg = api.register_until_accepted("{}");
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->server, "s1");
  EXPECT_EQ(reg->instruction.action, Action::wipe);
  EXPECT_EQ(server.requests().size(), 4u);
  // Three failures: waits of 0.75 s, 1.5 s, 3 s (random fixed at 0.5).
  EXPECT_EQ(pacer.sleeps, (std::vector<std::chrono::milliseconds>{750ms, 1500ms, 3000ms}));
}

TEST(AgentApi, RegisterRetriesWhileUnreachable) {
  std::uint16_t port;
  {
    FakeServer gone({{200, "{}"}});
    port = gone.port();
  }
  BeastHttpClient http(local(port));
  RecordingPacer pacer;
  pacer.value = 0.0;
  AgentApi api(http, "b2.boot", pacer.pacer(), record, Backoff{100ms, 400ms});
  EXPECT_FALSE(api.register_until_accepted("{}", 5));
  EXPECT_EQ(pacer.sleeps, (std::vector<std::chrono::milliseconds>{50ms, 100ms, 200ms, 200ms}));
}

TEST(AgentApi, RegisterGivesUpOnARejectedToken) {
  FakeServer server({{401, R"({"error":"token expired"})"}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  EXPECT_FALSE(api.register_until_accepted("{}"));
  EXPECT_EQ(server.requests().size(), AgentApi::kUnauthorizedLimit);
  // A 401 among other failures does not count towards the limit.
  FakeServer mixed({{401, ""}, {503, ""}, {401, ""}, {401, ""}, {401, ""}, {401, ""}, {200, R"({"action":"wait","session":"s2.one"})"}});
  BeastHttpClient http2(local(mixed.port()));
  AgentApi api2(http2, "b2.boot", pacer.pacer(), record);
  EXPECT_TRUE(api2.register_until_accepted("{}"));
}

TEST(AgentApi, LongPollWaitsForTheServer) {
  FakeServer server({{200, R"({"action":"wipe","mode":"full"})", 700ms}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  auto started = std::chrono::steady_clock::now();
  auto poll = api.poll_instruction(1);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(poll.instruction) << poll.error;
  EXPECT_EQ(poll.instruction->action, Action::wipe);
  EXPECT_EQ(poll.instruction->mode, "full");
  EXPECT_GE(took, 600ms);  // the answer was held, and the client waited for it
  EXPECT_EQ(server.requests()[0].target, "/agent/v1/instructions?wait=1");
  EXPECT_EQ(server.requests()[0].method, "GET");
}

TEST(AgentApi, LongPollCapsWaitAndReportsFailures) {
  FakeServer server({{404, R"({"error":"unknown"})"}, {500, "boom"}, {200, R"({"action":"wait"})"}, {401, ""}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  auto gone = api.poll_instruction(600);
  EXPECT_TRUE(gone.not_found);
  EXPECT_FALSE(gone.unauthorized);
  EXPECT_FALSE(gone.instruction);
  EXPECT_EQ(server.requests()[0].target, "/agent/v1/instructions?wait=60");
  auto failed = api.poll_instruction(5);
  EXPECT_FALSE(failed.instruction);
  EXPECT_FALSE(failed.not_found);
  EXPECT_NE(failed.error.find("500"), std::string::npos);
  auto ok = api.poll_instruction(5);
  ASSERT_TRUE(ok.instruction);
  EXPECT_EQ(ok.instruction->action, Action::wait);
  auto denied = api.poll_instruction(5);
  EXPECT_TRUE(denied.unauthorized);
  EXPECT_FALSE(denied.instruction);
}

TEST(AgentApi, ReportsAndWiped) {
  FakeServer server({{204, ""}, {204, ""}, {200, R"({"instruction":{"action":"wait"}})"}, {503, ""},
                     {200, R"({"action":"reboot"})"}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  EXPECT_TRUE(api.progress("/dev/vda", 1, 2));
  EXPECT_TRUE(api.addresses({"10.0.0.50"}));
  auto hb = api.heartbeat();
  ASSERT_TRUE(hb);
  EXPECT_EQ(hb->action, Action::wait);
  auto next = api.wiped(WipeReport{"fast", {{"/dev/vda", "virtio", "zero", "", true}}, {}, "0011"});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->action, Action::reboot);
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 5u);
  EXPECT_EQ(reqs[0].target, "/agent/v1/progress");
  EXPECT_EQ(reqs[1].target, "/agent/v1/addresses");
  EXPECT_EQ(reqs[2].target, "/agent/v1/heartbeat");
  EXPECT_EQ(reqs[2].body, "{}");
  EXPECT_EQ(reqs[3].target, "/agent/v1/wiped");
  EXPECT_EQ(reqs[4].body, reqs[3].body);  // the retry repeats the report
  EXPECT_NE(reqs[4].body.find(R"("devices":["/dev/vda"])"), std::string::npos);
  EXPECT_NE(reqs[4].body.find(R"("wipeId":"0011")"), std::string::npos) << "the instruction's id goes back";
  EXPECT_EQ(pacer.sleeps.size(), 1u);  // one retry of wiped
}

TEST(AgentApi, TheBootTokenIsExchangedForASessionThatRenewalsReplace) {
  FakeServer server({{401, R"({"reason":"superseded"})"},
                     {200, R"({"server":"s1","instruction":{"action":"wait"},"session":"s2.one"})"},
                     {200, R"({"instruction":{"action":"wait"}})", 0ms, false, "s2.two"},
                     {200, R"({"action":"wait"})"},
                     {401, R"({"reason":"expired"})"},
                     {200, R"({"server":"s1","instruction":{"action":"wait"},"session":"s2.three"})"}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  EXPECT_EQ(api.session(), "");
  ASSERT_TRUE(api.register_until_accepted("{}"));
  EXPECT_EQ(api.session(), "s2.one");
  ASSERT_TRUE(api.heartbeat());
  EXPECT_EQ(api.session(), "s2.two") << "a renewed session in any answer is adopted";
  ASSERT_TRUE(api.poll_instruction(0).instruction);
  const auto refused = api.poll_instruction(0);
  EXPECT_TRUE(refused.unauthorized);
  EXPECT_EQ(api.session(), "") << "a refused session is dropped";
  ASSERT_TRUE(api.register_until_accepted("{}"));
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(reqs[0].authorization, "Bearer b2.boot");
  EXPECT_EQ(reqs[1].authorization, "Bearer b2.boot");
  EXPECT_EQ(reqs[2].authorization, "Bearer s2.one");
  EXPECT_EQ(reqs[3].authorization, "Bearer s2.two");
  EXPECT_EQ(reqs[4].authorization, "Bearer s2.two");
  EXPECT_EQ(reqs[5].authorization, "Bearer b2.boot") << "register again presents the boot token";
  EXPECT_EQ(api.session(), "s2.three");
}

TEST(AgentApi, ARegisterAnswerWithoutASessionIsNotAccepted) {
  FakeServer server({{200, R"({"server":"s1","instruction":{"action":"wait"}})"}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  EXPECT_FALSE(api.register_until_accepted("{}", 2));
}

TEST(AgentApi, WipedRefusedAsAnExchangeGivesWait) {
  FakeServer server({{409, R"({"error":"wiped refused: wrong wipeId"})"}, {401, ""}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  auto next = api.wiped(WipeReport{"fast", {}, {}, "0011"});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->action, Action::wait) << "the next poll says what follows";
  EXPECT_FALSE(api.wiped(WipeReport{"fast", {}, {}, "0011"})) << "401: no retrying with a refused session";
  EXPECT_EQ(server.requests().size(), 2u);
}

}  // namespace
}  // namespace ironboot::agent

namespace ironboot::agent {
namespace {

// A TPM stand-in: fixed key blobs, and the secret it "recovers" is whatever it was told.
class FakeAttestor final : public Attestor {
 public:
  std::string ek_public_hex() const override { return "0001"; }
  std::string ak_public_hex() const override { return "0023"; }
  std::optional<std::string> activate(std::string_view id_object, std::string_view encrypted, std::string& error) override {
    seen.emplace_back(std::string(id_object) + "/" + std::string(encrypted));
    if (fail) {
      error = "TPM_RC_INTEGRITY";
      return std::nullopt;
    }
    return std::string("5ec2e7");
  }
  bool fail = false;
  std::vector<std::string> seen;
};

constexpr const char* kChallenge = R"({"challenge":"c1","idObject":"aa","encryptedSecret":"bb","expiresInSeconds":60})";
constexpr const char* kAccepted = R"({"server":"s1","instruction":{"action":"wait"},"session":"s2.one"})";

TEST(AgentApiTpm, EachRegisterAnswersAFreshChallenge) {
  testing::FakeServer server({{200, kChallenge}, {403, R"({"reason":"unknown_challenge"})"}, {200, kChallenge}, {200, kAccepted}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  FakeAttestor tpm;
  api.set_attestor(&tpm);
  ASSERT_TRUE(api.register_until_accepted(R"({"uuid":"u"})"));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].target, "/agent/v1/challenge");
  EXPECT_EQ(requests[0].authorization, "Bearer b2.boot");
  EXPECT_EQ(requests[0].body, R"({"ekPublic":"0001","akPublic":"0023"})");
  EXPECT_EQ(requests[1].target, "/agent/v1/register");
  EXPECT_EQ(requests[1].body, R"({"uuid":"u","tpm":{"challenge":"c1","secret":"5ec2e7"}})");
  // The refused register is retried with a new challenge, never the spent one alone.
  EXPECT_EQ(requests[2].target, "/agent/v1/challenge");
  EXPECT_EQ(tpm.seen, (std::vector<std::string>{"aa/bb", "aa/bb"}));
}

TEST(AgentApiTpm, ATpmThatCannotAnswerRegistersWithoutProof) {
  testing::FakeServer server({{200, kChallenge}, {200, kAccepted}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  FakeAttestor tpm;
  tpm.fail = true;
  api.set_attestor(&tpm);
  ASSERT_TRUE(api.register_until_accepted(R"({"uuid":"u"})"));
  EXPECT_EQ(server.requests().at(1).body, R"({"uuid":"u"})");
}

TEST(AgentApiTpm, A403PollAsksToRegisterAgain) {
  testing::FakeServer server({{403, R"({"reason":"identity_mismatch"})"}});
  BeastHttpClient http(local(server.port()));
  RecordingPacer pacer;
  AgentApi api(http, "b2.boot", pacer.pacer(), record);
  const auto poll = api.poll_instruction(0);
  EXPECT_TRUE(poll.forbidden);
  EXPECT_FALSE(poll.instruction);
}

}  // namespace
}  // namespace ironboot::agent
