// The agent API over the in-process cluster: what a register writes, what a long poll
// answers, and the Server lifecycle it keeps.
#include "discovery/agent_api.hpp"

#include "fakes.hpp"
#include "in_process_cluster.hpp"

#include "common/metrics.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;

constexpr const char* kUuid = "4c4c4544-0042-3510-8051-b7c04f4e4d32";
constexpr const char* kMac = "52:54:00:12:34:56";

std::string register_body() {
  std::ifstream in("tests/fuzz/corpus/discovery_register/doc_example.json", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

constexpr const char* kAgentAddress = "10.0.0.50";

// Different bytes on every call, reproducible.
RandomSource counting_random() {
  auto counter = std::make_shared<unsigned char>(0);
  return [counter](unsigned char* out, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<unsigned char>(++*counter);
    return true;
  };
}

http::Request request(std::string method, std::string path, std::string query, const std::string& token,
                      std::string body = {}, std::string peer = "10.0.0.50:40000") {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = std::move(query);
  r.target = r.path + (r.query.empty() ? "" : "?" + r.query);
  if (!token.empty()) r.headers.push_back({"Authorization", "Bearer " + token});
  r.body = std::move(body);
  r.peer = std::move(peer);
  return r;
}

std::string header_of(const http::Response& r, std::string_view name) {
  for (const auto& h : r.headers)
    if (h.name == name) return h.value;
  return {};
}

std::uint64_t rejections(const char* reason) {
  return metrics()
      .counter("ironboot_agent_token_rejections_total", "Agent API requests refused for their token, by reason",
               {{"reason", reason}})
      .value();
}

json::object body_of(const http::Response& r) { return json::parse(r.body).as_object(); }

class AgentApiTest : public testing::InProcessCluster {
 protected:
  testing::FakeClock clock{1795491532};
  AgentSessions sessions{TokenKey{}, clock, counting_random()};
  http::Router router;
  std::string boot = sessions.mint_boot(kUuid, kMac, kAgentAddress)->token;  // what /ipxe put on the command line
  std::string session;  // what register answered

  void start(AgentApi& api, kube::ClusterContext& context) { api.start(context, sessions, counting_random()); }
  void start(AgentApi& api) { start(api, cluster); }

  // Registers the machine of doc_example.json with the boot token and waits for its Server in
  // the cache; `session` is the answer's session token.
  void register_machine() {
    const auto r = router.handle(request("POST", "/agent/v1/register", "", boot, register_body()));
    ASSERT_EQ(r.status, 200) << r.body;
    const auto body = body_of(r);
    EXPECT_EQ(body.at("server"), kUuid);
    EXPECT_EQ(body.at("instruction"), json::parse(R"({"action":"wait"})"));
    session = std::string(body.at("session").as_string());
    EXPECT_EQ(session.substr(0, 3), "s2.");
    EXPECT_EQ(header_of(r, "Ironboot-Session"), session);
    ASSERT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Discovered"); }));
  }

  // Accepts the Server and takes the wipe instruction from a poll: its wipeId.
  std::string accept_and_take_wipe() {
    merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
    EXPECT_TRUE(run_until([&] { return objects::spec_bool(*in(cluster.servers(), kUuid), "accepted"); }));
    const auto r = router.handle(request("GET", "/agent/v1/instructions", "wait=0", session));
    EXPECT_EQ(r.status, 200) << r.body;
    const auto body = body_of(r);
    EXPECT_EQ(body.at("action"), "wipe");
    EXPECT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Wiping"); }));
    return std::string(body.at("wipeId").as_string());
  }
};

TEST_F(AgentApiTest, RegisterCreatesTheServer) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/register", "", boot, register_body())).status, 503)
      << "not started";

  start(api);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/register", "", "", register_body())).status, 401);
  const auto other_mac = router.handle(request(
      "POST", "/agent/v1/register", "", sessions.mint_boot(kUuid, "52:54:00:00:00:01", kAgentAddress)->token,
      register_body()));
  EXPECT_EQ(other_mac.status, 401) << "bootMac differs from the token";
  EXPECT_EQ(body_of(other_mac).at("reason"), "wrong_machine");
  run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(cluster.servers().size(), 0u) << "a refused request writes nothing";

  register_machine();
  const json::object& server = *in(cluster.servers(), kUuid);
  EXPECT_EQ(server.at("spec").at("accepted"), false);
  EXPECT_EQ(server.at("spec").at("hardware").at("system").at("serialNumber"), "8N4MD32");
  EXPECT_EQ(server.at("metadata").at("annotations").at("ironboot.dev/boot-mac"), kMac);
  EXPECT_EQ(server.at("status").at("isClean"), false);
}

// A register is not answered 200 when the write queue would refuse its writes (a long
// outage filled it): 503 with Retry-After, nothing written; with room again it registers.
TEST_F(AgentApiTest, AFullWriteQueueRefusesTheRegisterInsteadOfAcknowledgingIt) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  const std::size_t budget = cluster.writes().max_bytes;
  cluster.writes().max_bytes = 1024;  // less than one register's facts
  const auto refused = router.handle(request("POST", "/agent/v1/register", "", boot, register_body()));
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(header_of(refused, "Retry-After"), "10");
  run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(cluster.servers().size(), 0u);
  EXPECT_EQ(cluster.writes().pending(), 0u);
  cluster.writes().max_bytes = budget;
  register_machine();
}

TEST_F(AgentApiTest, WaitingPollIsAnsweredWithTheWipeOnceAccepted) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();

  std::optional<http::Response> answer;
  router.dispatch(request("GET", "/agent/v1/instructions", "wait=30", session),
                  [&](http::Response r) { answer = std::move(r); });
  run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(answer) << "nothing changed: the poll waits";
  EXPECT_FALSE(api.idle());

  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return objects::spec_bool(*in(cluster.servers(), kUuid), "accepted"); }));
  api.recheck_polls();
  ASSERT_TRUE(run_until([&] { return answer.has_value(); }));
  EXPECT_EQ(answer->status, 200);
  auto wipe = body_of(*answer);
  ASSERT_TRUE(wipe.contains("wipeId")) << answer->body;
  const std::string wipe_id(wipe.at("wipeId").as_string());
  EXPECT_EQ(wipe_id.size(), 32u);
  wipe.erase("wipeId");
  EXPECT_EQ(wipe, json::parse(R"({"action":"wipe","mode":"fast"})"));
  EXPECT_TRUE(api.idle());
  EXPECT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Wiping"); }));
  EXPECT_TRUE(run_until([&] { return in(cluster.servers(), kUuid)->at("status").as_object().contains("wipeRequest"); }));
  EXPECT_EQ(in(cluster.servers(), kUuid)->at("status").at("wipeRequest").at("idSha256"), json::value(sha256_hex(wipe_id)))
      << "only the digest is stored";
  // Asked again (a heartbeat), the same session gets the same id.
  const auto beat = router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}"));
  EXPECT_EQ(body_of(beat).at("instruction").at("wipeId"), json::value(wipe_id));

  // The agent reports the wipe with its id: clean, and the next boot is still the agent, so it waits.
  const auto wiped = router.handle(request("POST", "/agent/v1/wiped", "", session,
                                           R"({"mode":"fast","wipeId":")" + wipe_id + R"(","devices":["/dev/nvme0n1"]})"));
  EXPECT_EQ(wiped.status, 200);
  EXPECT_EQ(body_of(wiped), json::parse(R"({"instruction":{"action":"wait"}})"));
  EXPECT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Clean"); }));

  // The Events of the flow, each once.
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "Wiped"); }));
  EXPECT_EQ(reasons_for(kUuid), (std::vector<std::string>{"Registered", "Accepted", "WipeStarted", "Wiped"}));
  EXPECT_EQ(events_for(kUuid, "Accepted")[0].at("message"), "spec.accepted set to true");
  EXPECT_EQ(events_for(kUuid, "WipeStarted")[0].at("message"),
            "wipe handed to the agent: mode fast, disks /dev/nvme0n1");
  EXPECT_EQ(events_for(kUuid, "Wiped")[0].at("message"), "mode fast, devices /dev/nvme0n1, took 0s");
}

// Nothing calls recheck_polls() here (no reconciler): the accept's own Server event answers
// the waiting poll, at once — in a boot storm the paced reconciles came seconds apart.
TEST_F(AgentApiTest, TheAcceptsServerEventAnswersTheWaitingPollAtOnce) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();

  std::optional<http::Response> answer;
  router.dispatch(request("GET", "/agent/v1/instructions", "wait=30", session),
                  [&](http::Response r) { answer = std::move(r); });
  run_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(answer);
  // A change that leaves the instruction as it was does not answer.
  merge("servers", kUuid, json::object{{"metadata", json::object{{"labels", json::object{{"rack", "r1"}}}}}});
  ASSERT_TRUE(run_until([&] { return in(cluster.servers(), kUuid)->at("metadata").as_object().contains("labels"); }));
  run_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(answer) << answer->body;
  EXPECT_FALSE(api.idle());

  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return objects::spec_bool(*in(cluster.servers(), kUuid), "accepted"); }));
  ASSERT_TRUE(run_until([&] { return answer.has_value(); }, std::chrono::milliseconds(500)))
      << "the accept did not reach the waiting poll";
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(body_of(*answer).at("action"), "wipe") << answer->body;
  EXPECT_TRUE(api.idle());
}

TEST_F(AgentApiTest, RegisterRecordsRegisteredThenWhatTheFactsChanged) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "Registered"); }));
  const auto e = events_for(kUuid, "Registered").at(0);
  const json::object& server = *in(cluster.servers(), kUuid);
  EXPECT_EQ(e.at("involvedObject").at("uid"), server.at("metadata").at("uid"));
  EXPECT_EQ(e.at("involvedObject").at("kind"), "Server");
  EXPECT_EQ(e.at("involvedObject").at("apiVersion"), "metal.sidero.dev/v1alpha2");
  EXPECT_FALSE(e.at("involvedObject").as_object().contains("namespace")) << "Servers are cluster-scoped";
  EXPECT_EQ(e.at("metadata").at("namespace"), "default");
  EXPECT_EQ(e.at("type"), "Normal");
  EXPECT_EQ(e.at("reportingComponent"), "ironboot.dev/discovery");
  EXPECT_EQ(e.at("message").as_string(), std::string("registered by the agent: boot MAC ") + kMac + ", uuid " + kUuid);

  // The same facts again: nothing changed, no Event.
  ASSERT_EQ(router.handle(request("POST", "/agent/v1/register", "", session, register_body())).status, 200);
  run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(has_event(kUuid, "FactsUpdated"));

  // More memory and a third disk.
  auto body = json::parse(register_body()).as_object();
  auto& hw = body["hardware"].as_object();
  hw["memory"].as_object()["totalSize"] = "1024 GB";
  hw["storage"].as_object()["deviceCount"] = 3;
  ASSERT_EQ(router.handle(request("POST", "/agent/v1/register", "", session, json::serialize(body))).status, 200);
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "FactsUpdated"); }));
  EXPECT_EQ(events_for(kUuid, "FactsUpdated")[0].at("message"), "memory 512 GB -> 1024 GB, disks 2 -> 3");
  EXPECT_EQ(events_for(kUuid, "Registered").size(), 1u);
  EXPECT_EQ(events_for(kUuid, "Registered")[0].at("count"), 1) << "a refresh is not a register";
}

TEST_F(AgentApiTest, AutoAcceptRecordsAcceptedButARestartDoesNot) {
  {
    AgentApi api(io, AgentApiOptions{true, {}, false, {}}, clock, [](const json::object*) { return true; });
    api.register_routes(router);
    start(api);
    const auto r = router.handle(request("POST", "/agent/v1/register", "", boot, register_body()));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(run_until([&] { return has_event(kUuid, "Accepted"); }));
    EXPECT_EQ(events_for(kUuid, "Accepted")[0].at("message"), "accepted at registration (discovery.auto_accept)");
  }
  // A restart: a new cluster context whose informer lists the Server, accepted already.
  kube::ClusterContext restarted{io, api_events};
  http::Router second_router;
  AgentApi again(io, AgentApiOptions{true, {}, false, {}}, clock, [](const json::object*) { return true; });
  again.register_routes(second_router);
  start(again, restarted);  // subscribed before the first list
  restarted.start();
  ASSERT_TRUE(run_until([&] { return restarted.synced() && in(restarted.servers(), kUuid); }));
  run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(events_for(kUuid, "Accepted").size(), 1u);
  EXPECT_EQ(events_for(kUuid, "Accepted")[0].at("count"), 1);
  restarted.stop();
}

TEST_F(AgentApiTest, RejectedTokensAreRecordedOnTheClaimedServer) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();

  TokenKey other{};
  other[0] = 1;
  AgentSessions foreign(other, clock, counting_random());
  const std::string forged = foreign.mint_boot(kUuid, kMac, kAgentAddress)->token;
  const auto bad = router.handle(request("POST", "/agent/v1/register", "", forged, register_body()));
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(body_of(bad).at("reason"), "bad_signature");
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", boot, "{}")).status, 401)
      << "the boot token opens register only";
  clock.advance(std::chrono::seconds(301));
  const auto expired = router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}"));
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(body_of(expired).at("reason"), "expired");
  ASSERT_TRUE(run_until([&] { return events_for(kUuid, "AgentTokenRejected").size() == 3; }));
  const auto rejected = events_for(kUuid, "AgentTokenRejected");
  EXPECT_EQ(rejected[0].at("type"), "Warning");
  EXPECT_EQ(rejected[0].at("message"), "token bad_signature; POST /agent/v1/register from 10.0.0.50");
  EXPECT_EQ(rejected[1].at("message"),
            "token wrong_kind (a session token is needed); POST /agent/v1/heartbeat from 10.0.0.50");
  EXPECT_EQ(rejected[2].at("message"), "token expired; POST /agent/v1/heartbeat from 10.0.0.50");
  for (const auto& e : rejected) {
    EXPECT_EQ(std::string(e.at("message").as_string()).find(session), std::string::npos) << "no token in Events";
    EXPECT_EQ(std::string(e.at("message").as_string()).find(forged), std::string::npos);
  }
}

TEST_F(AgentApiTest, ATokenFromAnotherAddressIsRefusedCountedAndRecorded) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  // The boot token works only from the address that asked /ipxe.
  const auto before = rejections("wrong_address");
  const auto stolen = router.handle(request("POST", "/agent/v1/register", "", boot, register_body(), "10.0.0.66:5000"));
  EXPECT_EQ(stolen.status, 401);
  EXPECT_EQ(body_of(stolen).at("reason"), "wrong_address");
  register_machine();
  const auto replayed = router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}", "10.0.0.66:5001"));
  EXPECT_EQ(replayed.status, 401);
  EXPECT_EQ(body_of(replayed).at("reason"), "wrong_address");
  EXPECT_EQ(rejections("wrong_address"), before + 2);
  ASSERT_TRUE(run_until([&] { return !events_for(kUuid, "AgentTokenRejected").empty(); }));
  EXPECT_EQ(events_for(kUuid, "AgentTokenRejected").back().at("message"),
            "token wrong_address; POST /agent/v1/heartbeat from 10.0.0.66");
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}")).status, 200)
      << "the agent itself carries on";
}

TEST_F(AgentApiTest, ANewBootSupersedesTheOldSession) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();
  const std::string old_session = session;
  clock.advance(std::chrono::seconds(5));
  boot = sessions.mint_boot(kUuid, kMac, kAgentAddress)->token;
  register_machine();
  const auto refused = router.handle(request("POST", "/agent/v1/heartbeat", "", old_session, "{}"));
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(body_of(refused).at("reason"), "superseded");
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}")).status, 200);
}

TEST_F(AgentApiTest, AnswersCarryARenewedSessionPastHalfItsLife) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();
  EXPECT_EQ(header_of(router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}")), "Ironboot-Session"), "");
  clock.advance(std::chrono::seconds(160));
  const auto r = router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}"));
  const std::string renewed = header_of(r, "Ironboot-Session");
  ASSERT_EQ(renewed.substr(0, 3), "s2.");
  clock.advance(std::chrono::seconds(200));  // the first session has lapsed, the renewed one not
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}")).status, 401);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", renewed, "{}")).status, 200);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/addresses", "", renewed,
                                  R"({"addresses":[{"type":"InternalIP","address":"10.0.0.50"}]})"))
                .status,
            204);
}

TEST_F(AgentApiTest, TheHeadGuardsClaimsReachTheHandlerUnverifiedAgain) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();
  // The server checks the head before reading the body; the handler runs on what it found,
  // even if the token expired while the body was on its way.
  auto head = request("POST", "/agent/v1/heartbeat", "", session);
  ASSERT_FALSE(router.check_head(head));
  EXPECT_TRUE(head.head_checked);
  clock.advance(std::chrono::seconds(400));
  head.body = "{}";
  EXPECT_EQ(router.handle(head).status, 200);
  // A request that never passed the guard is checked by dispatch itself.
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}")).status, 401);
}

TEST_F(AgentApiTest, WipedIsAnExchangeNotAClaim) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();
  const auto wiped_body = [](const std::string& id) {
    return R"({"mode":"fast","devices":["/dev/sda"])" + (id.empty() ? std::string() : R"(,"wipeId":")" + id + "\"") + "}";
  };
  // Before any wipe was handed out: nothing to report.
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/wiped", "", session, wiped_body("00112233445566778899aabbccddeeff")))
                .status,
            409);
  const std::string wipe_id = accept_and_take_wipe();
  // A boot token (what GET /ipxe gives anyone) is no credential for wiped.
  const std::string outsider_boot = sessions.mint_boot(kUuid, kMac, kAgentAddress)->token;
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/wiped", "", outsider_boot, wiped_body(wipe_id))).status, 401);
  // The session without the id, or with another one: 409, nothing changes.
  for (const std::string& id : {std::string(), std::string("00112233445566778899aabbccddeeff")}) {
    const auto r = router.handle(request("POST", "/agent/v1/wiped", "", session, wiped_body(id)));
    EXPECT_EQ(r.status, 409) << id;
    EXPECT_NE(body_of(r).at("error").as_string().find("wiped refused"), std::string::npos);
  }
  run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(in(cluster.servers(), kUuid)->at("status").at("isClean"), false);
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "WipeReportRefused"); }));

  // The right id from the right session: clean; the id is used up.
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/wiped", "", session, wiped_body(wipe_id))).status, 200);
  ASSERT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Clean"); }));
  EXPECT_FALSE(in(cluster.servers(), kUuid)->at("status").as_object().contains("wipeRequest"));
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/wiped", "", session, wiped_body(wipe_id))).status, 409);
}

TEST_F(AgentApiTest, TheWipeOfAnotherSessionDoesNotCount) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();
  const std::string first_session = session;
  const std::string first_id = accept_and_take_wipe();
  // The machine boots again (a new boot token, a new session): its wipe gets a new id.
  clock.advance(std::chrono::seconds(5));
  boot = sessions.mint_boot(kUuid, kMac, kAgentAddress)->token;
  const auto r = router.handle(request("POST", "/agent/v1/register", "", boot, register_body()));
  ASSERT_EQ(r.status, 200);
  session = std::string(body_of(r).at("session").as_string());
  const std::string second_id(body_of(r).at("instruction").at("wipeId").as_string());
  EXPECT_NE(second_id, first_id);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/wiped", "", session,
                                  R"({"mode":"fast","wipeId":")" + first_id + R"("})"))
                .status,
            409);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/wiped", "", first_session,
                                  R"({"mode":"fast","wipeId":")" + first_id + R"("})"))
                .status,
            401)
      << "superseded";
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/wiped", "", session,
                                  R"({"mode":"fast","wipeId":")" + second_id + R"("})"))
                .status,
            200);
}

TEST_F(AgentApiTest, AWipeOutlivesARestart) {
  std::string wipe_id;
  {
    AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
    api.register_routes(router);
    start(api);
    register_machine();
    wipe_id = accept_and_take_wipe();
    ASSERT_TRUE(run_until([&] { return in(cluster.servers(), kUuid)->at("status").as_object().contains("wipeRequest"); }));
  }
  // A new process: no wipe remembered, the same key; the agent is still wiping.
  http::Router second_router;
  AgentSessions restarted(TokenKey{}, clock, counting_random());
  AgentApi again(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  again.register_routes(second_router);
  again.start(cluster, restarted, counting_random());
  // The agent's heartbeat while it wipes does not replace the id it is working with.
  const auto beat = second_router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}"));
  EXPECT_EQ(beat.status, 200) << beat.body;
  EXPECT_FALSE(body_of(beat).at("instruction").as_object().contains("wipeId"));
  run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(in(cluster.servers(), kUuid)->at("status").at("wipeRequest").at("idSha256"), json::value(sha256_hex(wipe_id)));
  const auto r = second_router.handle(
      request("POST", "/agent/v1/wiped", "", session, R"({"mode":"fast","wipeId":")" + wipe_id + R"("})"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Clean"); }));
}

TEST_F(AgentApiTest, DuplicateUuidIsAWarningOnTheFirstServer) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  start(api);
  register_machine();
  auto body = json::parse(register_body()).as_object();
  body["bootMac"] = "52:54:00:aa:bb:cc";
  body["hardware"].as_object()["system"].as_object()["serialNumber"] = "OTHER1";
  body["hardware"].as_object()["network"].as_object()["interfaces"] = json::array{};
  const auto r = router.handle(
      request("POST", "/agent/v1/register", "", sessions.mint_boot(kUuid, "52:54:00:aa:bb:cc", kAgentAddress)->token,
              json::serialize(body)));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "DuplicateUUID"); }));
  const auto e = events_for(kUuid, "DuplicateUUID")[0];
  EXPECT_EQ(e.at("type"), "Warning");
  EXPECT_NE(std::string(e.at("message").as_string()).find("52:54:00:aa:bb:cc"), std::string::npos);
  // The second machine is registered under its MAC-derived name.
  const std::string second(body_of(r).at("server").as_string());
  EXPECT_TRUE(run_until([&] { return has_event(second, "Registered"); }));
}

TEST_F(AgentApiTest, WipeNoneMarksAnAcceptedServerClean) {
  AgentApi api(io, AgentApiOptions{false, LifecycleOptions{WipeMode::none}, false, {}}, clock,
               [](const json::object*) { return false; });
  api.register_routes(router);
  start(api);
  register_machine();
  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Clean"); }));
  const auto* clean = objects::find_condition(*in(cluster.servers(), kUuid), "Clean");
  EXPECT_EQ(objects::string_at(*clean, "reason"), "WipeDisabled");
  EXPECT_EQ(in(cluster.servers(), kUuid)->at("status").at("isClean"), true);
  // Clean, and the next boot leaves the agent: reboot.
  const auto r = router.handle(request("POST", "/agent/v1/heartbeat", "", session, "{}"));
  EXPECT_EQ(body_of(r), json::parse(R"({"instruction":{"action":"reboot"}})"));
}

}  // namespace
}  // namespace ironboot::discovery
