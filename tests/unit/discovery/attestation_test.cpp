// TPM identity through the agent API over the in-process cluster, with swtpm as each
// machine's TPM: the challenge, the register that answers it, the pin on accept, and what a
// machine without that TPM is refused.
#include "discovery/agent_api.hpp"
#include "discovery/attestation.hpp"

#include "../tpm/swtpm.hpp"
#include "fakes.hpp"
#include "in_process_cluster.hpp"

#include "common/metrics.hpp"
#include "tpm/client.hpp"
#include "tpm/credential.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;

constexpr const char* kUuid = "4c4c4544-0042-3510-8051-b7c04f4e4d32";
constexpr const char* kMac = "52:54:00:12:34:56";
constexpr const char* kAddress = "10.0.0.50";

std::string register_body(const std::optional<json::object>& tpm = std::nullopt) {
  std::ifstream in("tests/fuzz/corpus/discovery_register/doc_example.json", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  json::object body = json::parse(ss.str()).as_object();
  if (tpm) body["tpm"] = *tpm;
  return json::serialize(body);
}

RandomSource counting_random() {
  auto counter = std::make_shared<unsigned char>(0);
  return [counter](unsigned char* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(++*counter);
    return true;
  };
}

http::Request request(std::string path, const std::string& token, std::string body, std::string peer = "10.0.0.50:40000") {
  http::Request r;
  r.method = "POST";
  r.path = std::move(path);
  r.target = r.path;
  r.headers.push_back({"Authorization", "Bearer " + token});
  r.body = std::move(body);
  r.peer = std::move(peer);
  return r;
}

template <class T>
T value(const tpm::Result<T>& r) {
  if (const auto* e = std::get_if<tpm::Error>(&r)) ADD_FAILURE() << e->message;
  const T* v = std::get_if<T>(&r);
  return v ? *v : T{};
}

// A machine's TPM as the agent uses it: its EK and a fresh AK, loaded in swtpm.
struct Machine {
  tpm::testing::Swtpm swtpm;
  std::optional<tpm::Client> client;
  tpm::LoadedObject ek, ak;

  Machine() {
    if (!swtpm.transport) return;
    client.emplace(*swtpm.transport);
    ek = value(client->endorsement_key());
    ak = value(client->create_attestation_key());
  }
  std::string ek_sha256() const { return value(tpm::public_key_sha256(ek.public_area)); }
  std::string challenge_request() const {
    return json::serialize(json::object{{"ekPublic", tpm::to_hex(ek.public_area.marshaled)},
                                        {"akPublic", tpm::to_hex(ak.public_area.marshaled)}});
  }
  // The register's "tpm" member for a challenge answer.
  json::object answer(const json::object& challenge) {
    auto id_object = tpm::from_hex(challenge.at("idObject").as_string(), 4096);
    auto secret = tpm::from_hex(challenge.at("encryptedSecret").as_string(), 4096);
    EXPECT_TRUE(id_object && secret);
    const tpm::Bytes recovered = value(client->activate_credential(ak, ek, *id_object, *secret));
    return json::object{{"challenge", challenge.at("challenge")}, {"secret", tpm::to_hex(recovered)}};
  }
};

class AttestationTest : public testing::InProcessCluster {
 protected:
  testing::FakeClock clock{1795491532};
  AgentSessions sessions{TokenKey{}, clock, counting_random()};
  http::Router router;
  std::optional<AgentApi> api;

  void start(AgentApiOptions options = {}) {
    api.emplace(io, options, clock, [](const json::object*) { return true; });
    api->register_routes(router);
    api->start(cluster, sessions, counting_random());
  }
  std::string boot_token(const char* address = kAddress) { return sessions.mint_boot(kUuid, kMac, address)->token; }
  http::Response challenge(const std::string& token, const Machine& m, std::string peer = "10.0.0.50:40000") {
    return router.handle(request("/agent/v1/challenge", token, m.challenge_request(), std::move(peer)));
  }
  // One boot of `m`: a challenge answered in the register. The register's answer.
  http::Response attested_register(Machine& m, const std::string& token) {
    const auto c = challenge(token, m);
    EXPECT_EQ(c.status, 200) << c.body;
    if (c.status != 200) return c;
    return router.handle(request("/agent/v1/register", token, register_body(m.answer(json::parse(c.body).as_object()))));
  }
  const json::object* server() { return in(cluster.servers(), kUuid); }
  std::string identity(const char* key) {
    const auto* s = server();
    const auto* st = s ? objects::status_of(*s) : nullptr;
    const auto* id = st ? objects::object_at(*st, "identity") : nullptr;
    if (!id) return "";
    const auto* v = id->if_contains(key);
    return v ? json::serialize(*v) : "";
  }
  std::string annotation() {
    const auto* a = server() ? objects::annotations_of(*server()) : nullptr;
    return a ? std::string(objects::string_at(*a, kEkAnnotation)) : "";
  }
  static std::string reason(const http::Response& r) { return std::string(json::parse(r.body).at("reason").as_string()); }
};

TEST_F(AttestationTest, TheProvenEkIsRecordedPinnedOnAcceptAndAnotherTpmIsRefused) {
  Machine a;
  ASSERT_TRUE(a.client) << "swtpm did not start";
  start();
  auto r = attested_register(a, boot_token());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string session(json::parse(r.body).at("session").as_string());
  ASSERT_TRUE(run_until([&] { return !identity("ekSha256").empty(); }));
  EXPECT_EQ(identity("ekSha256"), "\"" + a.ek_sha256() + "\"");
  EXPECT_EQ(identity("akName"), "\"" + tpm::to_hex(a.ak.name) + "\"");
  EXPECT_EQ(identity("pinned"), "false");
  EXPECT_EQ(annotation(), a.ek_sha256());
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "Registered"); }));
  EXPECT_NE(events_for(kUuid, "Registered")[0].at("message").as_string().find("TPM EK " + a.ek_sha256() + " proven"),
            std::string::npos);

  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return identity("pinned") == "true"; }));
  const std::string version(server()->at("metadata").at("resourceVersion").as_string());

  // Another TPM claiming the same machine, in a new boot: refused, recorded, nothing written.
  Machine b;
  ASSERT_TRUE(b.client);
  ASSERT_NE(b.ek_sha256(), a.ek_sha256());
  const auto before = metrics()
                          .counter("ironboot_agent_identity_refusals_total", "", {{"reason", "identity_mismatch"}})
                          .value();
  r = attested_register(b, boot_token());
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(reason(r), "identity_mismatch");
  EXPECT_NE(r.body.find(a.ek_sha256()), std::string::npos) << r.body;
  // A register that proves nothing is refused the same way.
  r = router.handle(request("/agent/v1/register", boot_token(), register_body()));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(reason(r), "identity_mismatch");
  EXPECT_EQ(metrics().counter("ironboot_agent_identity_refusals_total", "", {{"reason", "identity_mismatch"}}).value(),
            before + 2);
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "IdentityMismatch"); }));
  EXPECT_EQ(events_for(kUuid, "IdentityMismatch")[0].at("type"), "Warning");
  run_until([] { return false; }, std::chrono::milliseconds(200));
  EXPECT_EQ(server()->at("metadata").at("resourceVersion").as_string(), version) << "the Server was changed";
  EXPECT_EQ(annotation(), a.ek_sha256());

  // The first machine's session still acts; a session of a boot that proved nothing does not.
  EXPECT_EQ(router.handle(request("/agent/v1/heartbeat", session, "{}")).status, 200);
  // A boot of the right TPM registers again and its session takes over.
  r = attested_register(a, boot_token());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(identity("pinned"), "true");

  // Un-accepting unpins: the machine may then be registered with a new TPM (a replaced board).
  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", false}}}});
  ASSERT_TRUE(run_until([&] { return identity("pinned") == "false"; }));
  r = attested_register(b, boot_token());
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(run_until([&] { return annotation() == b.ek_sha256(); }));
}

TEST_F(AttestationTest, ASessionOfABootThatDidNotProveThePinnedTpmIsRefused) {
  Machine a;
  ASSERT_TRUE(a.client);
  start();
  // A boot without a TPM registers (not pinned yet: allowed) and keeps its session; a later
  // boot proves the TPM and the Server is accepted.
  auto r = router.handle(request("/agent/v1/register", boot_token(), register_body()));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string unproven(json::parse(r.body).at("session").as_string());
  ASSERT_TRUE(run_until([&] { return server() != nullptr; }));
  EXPECT_EQ(annotation(), "");
  r = attested_register(a, boot_token());
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string proven(json::parse(r.body).at("session").as_string());
  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return identity("pinned") == "true"; }));
  // After a restart ironboot no longer knows which boot is newest: the older session would
  // pass as the machine's, were it not for the identity it never proved.
  api->stop();
  AgentSessions restarted{TokenKey{}, clock, counting_random()};
  http::Router router2;
  AgentApi api2(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api2.register_routes(router2);
  api2.start(cluster, restarted, counting_random());
  r = router2.handle(request("/agent/v1/heartbeat", unproven, "{}"));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(reason(r), "identity_mismatch");
  EXPECT_EQ(router2.handle(request("/agent/v1/heartbeat", proven, "{}")).status, 200);
}

TEST_F(AttestationTest, AChallengeIsSingleUseBoundToItsBootAndExpires) {
  Machine a;
  ASSERT_TRUE(a.client);
  start(AgentApiOptions{false, {}, false, ChallengeOptions{std::chrono::seconds(30), 2, 4096}});
  const std::string token = boot_token();

  // Answered once; the same answer again is refused.
  auto c = challenge(token, a);
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(json::parse(c.body).at("expiresInSeconds"), 30);
  const json::object proof = a.answer(json::parse(c.body).as_object());
  ASSERT_EQ(router.handle(request("/agent/v1/register", token, register_body(proof))).status, 200);
  auto r = router.handle(request("/agent/v1/register", token, register_body(proof)));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason(r), "unknown_challenge");

  // The wrong secret spends the challenge too.
  c = challenge(token, a);
  ASSERT_EQ(c.status, 200);
  json::object wrong = a.answer(json::parse(c.body).as_object());
  std::string secret(wrong.at("secret").as_string());
  secret[0] = secret[0] == '0' ? '1' : '0';
  wrong["secret"] = secret;
  r = router.handle(request("/agent/v1/register", token, register_body(wrong)));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason(r), "wrong_secret");
  r = router.handle(request("/agent/v1/register", token, register_body(a.answer(json::parse(c.body).as_object()))));
  EXPECT_EQ(reason(r), "unknown_challenge");

  // Issued to one boot, answered by another boot of the same machine: refused.
  c = challenge(token, a);
  ASSERT_EQ(c.status, 200);
  r = router.handle(request("/agent/v1/register", boot_token(), register_body(a.answer(json::parse(c.body).as_object()))));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(reason(r), "wrong_boot");

  // Expired.
  c = challenge(token, a);
  ASSERT_EQ(c.status, 200);
  clock.advance(std::chrono::seconds(31));
  r = router.handle(request("/agent/v1/register", token, register_body(a.answer(json::parse(c.body).as_object()))));
  EXPECT_EQ(reason(r), "unknown_challenge");

  // At most two outstanding per address; another address has its own.
  ASSERT_EQ(challenge(token, a).status, 200);
  ASSERT_EQ(challenge(token, a).status, 200);
  r = challenge(token, a);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(reason(r), "too_many_challenges");
  EXPECT_EQ(challenge(boot_token("10.0.0.51"), a, "10.0.0.51:40000").status, 200);
  clock.advance(std::chrono::seconds(31));
  EXPECT_EQ(challenge(token, a).status, 200) << "expired challenges free their slots";
}

TEST_F(AttestationTest, KeysThatAreNotAnEkAndAnAkAreRefused) {
  Machine a;
  ASSERT_TRUE(a.client);
  start();
  // The AK offered as the EK: not a decryption key.
  const std::string swapped = json::serialize(json::object{{"ekPublic", tpm::to_hex(a.ak.public_area.marshaled)},
                                                           {"akPublic", tpm::to_hex(a.ak.public_area.marshaled)}});
  auto r = router.handle(request("/agent/v1/challenge", boot_token(), swapped));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(reason(r), "bad_key");
  r = router.handle(request("/agent/v1/challenge", boot_token(), R"({"ekPublic":"zz","akPublic":"00"})"));
  EXPECT_EQ(r.status, 400) << r.body;
  // A challenge needs a token like a register does.
  r = router.handle(request("/agent/v1/challenge", "b2.nonsense.x", a.challenge_request()));
  EXPECT_EQ(r.status, 401) << r.body;
}

TEST_F(AttestationTest, RequireTpmRefusesARegisterThatProvesNone) {
  Machine a;
  ASSERT_TRUE(a.client);
  start(AgentApiOptions{false, {}, true, {}});
  auto r = router.handle(request("/agent/v1/register", boot_token(), register_body()));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(reason(r), "tpm_required");
  EXPECT_EQ(attested_register(a, boot_token()).status, 200);
}

TEST(IdentityPolicy, AcceptedIsWhatPins) {
  auto srv = [](bool accepted, const char* ek) {
    json::object s{{"spec", json::object{{"accepted", accepted}}}};
    if (ek) s["status"] = json::object{{"identity", json::object{{"ekSha256", ek}, {"pinned", false}}}};
    return s;
  };
  using V = IdentityDecision::Verdict;
  const ProvenIdentity a{"aa", "000b"}, b{"bb", "000b"};
  EXPECT_EQ(check_identity(nullptr, std::nullopt, false).verdict, V::accept);
  EXPECT_EQ(check_identity(nullptr, std::nullopt, true).verdict, V::tpm_required);
  const auto unaccepted = srv(false, "aa");
  EXPECT_EQ(check_identity(&unaccepted, b, false).verdict, V::accept);
  // Accepted, the pinned flag not yet written: pinned all the same.
  const auto accepted = srv(true, "aa");
  EXPECT_EQ(pinned_ek(accepted), "aa");
  EXPECT_EQ(check_identity(&accepted, a, false).verdict, V::accept);
  EXPECT_EQ(check_identity(&accepted, b, false).verdict, V::mismatch);
  EXPECT_EQ(check_identity(&accepted, std::nullopt, false).verdict, V::mismatch);
  EXPECT_EQ(status_for_pin(accepted, true)->at("status").at("identity").at("pinned"), true);
  EXPECT_FALSE(status_for_pin(unaccepted, false));
  const auto accepted_without = srv(true, nullptr);
  EXPECT_EQ(check_identity(&accepted_without, std::nullopt, false).verdict, V::accept);
  EXPECT_TRUE(session_may_act(accepted_without, "n"));
}

}  // namespace
}  // namespace ironboot::discovery
