// The agent API over the in-process cluster: what a register writes, what a long poll
// answers, and the Server lifecycle it keeps.
#include "discovery/agent_api.hpp"

#include "fakes.hpp"
#include "in_process_cluster.hpp"

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

http::Request request(std::string method, std::string path, std::string query, const std::string& token,
                      std::string body = {}) {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.query = std::move(query);
  r.target = r.path + (r.query.empty() ? "" : "?" + r.query);
  if (!token.empty()) r.headers.push_back({"Authorization", "Bearer " + token});
  r.body = std::move(body);
  r.peer = "10.0.0.50:40000";
  return r;
}

json::object body_of(const http::Response& r) { return json::parse(r.body).as_object(); }

class AgentApiTest : public testing::InProcessCluster {
 protected:
  testing::FakeClock clock{1795491532};
  TokenAuthority tokens{TokenKey{}, clock};
  http::Router router;
  std::string token = tokens.issue(kUuid, kMac);

  // Registers the machine of doc_example.json and waits for its Server in the cache.
  void register_machine() {
    const auto r = router.handle(request("POST", "/agent/v1/register", "", token, register_body()));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(body_of(r), json::parse(std::string(R"({"server":")") + kUuid + R"(","instruction":{"action":"wait"}})"));
    ASSERT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Discovered"); }));
  }
};

TEST_F(AgentApiTest, RegisterCreatesTheServer) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/register", "", token, register_body())).status, 503)
      << "not started";

  api.start(cluster, tokens);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/register", "", "", register_body())).status, 401);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/register", "", tokens.issue(kUuid, "52:54:00:00:00:01"),
                                  register_body()))
                .status,
            401)
      << "bootMac differs from the token";
  run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(cluster.servers().size(), 0u) << "a refused request writes nothing";

  register_machine();
  const json::object& server = *in(cluster.servers(), kUuid);
  EXPECT_EQ(server.at("spec").at("accepted"), false);
  EXPECT_EQ(server.at("spec").at("hardware").at("system").at("serialNumber"), "8N4MD32");
  EXPECT_EQ(server.at("metadata").at("annotations").at("ironboot.dev/boot-mac"), kMac);
  EXPECT_EQ(server.at("status").at("isClean"), false);
}

TEST_F(AgentApiTest, WaitingPollIsAnsweredWithTheWipeOnceAccepted) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  api.start(cluster, tokens);
  register_machine();

  std::optional<http::Response> answer;
  router.dispatch(request("GET", "/agent/v1/instructions", "wait=30", token),
                  [&](http::Response r) { answer = std::move(r); });
  run_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(answer) << "nothing changed: the poll waits";
  EXPECT_FALSE(api.idle());

  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return objects::spec_bool(*in(cluster.servers(), kUuid), "accepted"); }));
  api.recheck_polls();
  ASSERT_TRUE(run_until([&] { return answer.has_value(); }));
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(body_of(*answer), json::parse(R"({"action":"wipe","mode":"fast"})"));
  EXPECT_TRUE(api.idle());
  EXPECT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Wiping"); }));

  // The agent reports the wipe: clean, and the next boot is still the agent, so it waits.
  const auto wiped = router.handle(request("POST", "/agent/v1/wiped", "", token,
                                           R"({"mode":"fast","devices":["/dev/nvme0n1"]})"));
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

TEST_F(AgentApiTest, RegisterRecordsRegisteredThenWhatTheFactsChanged) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  api.start(cluster, tokens);
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
  ASSERT_EQ(router.handle(request("POST", "/agent/v1/register", "", token, register_body())).status, 200);
  run_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(has_event(kUuid, "FactsUpdated"));

  // More memory and a third disk.
  auto body = json::parse(register_body()).as_object();
  auto& hw = body["hardware"].as_object();
  hw["memory"].as_object()["totalSize"] = "1024 GB";
  hw["storage"].as_object()["deviceCount"] = 3;
  ASSERT_EQ(router.handle(request("POST", "/agent/v1/register", "", token, json::serialize(body))).status, 200);
  ASSERT_TRUE(run_until([&] { return has_event(kUuid, "FactsUpdated"); }));
  EXPECT_EQ(events_for(kUuid, "FactsUpdated")[0].at("message"), "memory 512 GB -> 1024 GB, disks 2 -> 3");
  EXPECT_EQ(events_for(kUuid, "Registered").size(), 1u);
  EXPECT_EQ(events_for(kUuid, "Registered")[0].at("count"), 1) << "a refresh is not a register";
}

TEST_F(AgentApiTest, AutoAcceptRecordsAcceptedButARestartDoesNot) {
  {
    AgentApi api(io, AgentApiOptions{true, {}}, clock, [](const json::object*) { return true; });
    api.register_routes(router);
    api.start(cluster, tokens);
    const auto r = router.handle(request("POST", "/agent/v1/register", "", token, register_body()));
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(run_until([&] { return has_event(kUuid, "Accepted"); }));
    EXPECT_EQ(events_for(kUuid, "Accepted")[0].at("message"), "accepted at registration (discovery.auto_accept)");
  }
  // A restart: a new cluster context whose informer lists the Server, accepted already.
  kube::ClusterContext restarted{io, api_events};
  http::Router second_router;
  AgentApi again(io, AgentApiOptions{true, {}}, clock, [](const json::object*) { return true; });
  again.register_routes(second_router);
  again.start(restarted, tokens);  // subscribed before the first list
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
  api.start(cluster, tokens);
  register_machine();

  TokenKey other{};
  other[0] = 1;
  const std::string forged = TokenAuthority(other, clock).issue(kUuid, kMac);
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", forged, "{}")).status, 401);
  clock.advance(std::chrono::hours(25));
  EXPECT_EQ(router.handle(request("POST", "/agent/v1/heartbeat", "", token, "{}")).status, 401);
  ASSERT_TRUE(run_until([&] { return events_for(kUuid, "AgentTokenRejected").size() == 2; }));
  const auto rejected = events_for(kUuid, "AgentTokenRejected");
  EXPECT_EQ(rejected[0].at("type"), "Warning");
  EXPECT_EQ(rejected[0].at("message"), "token bad-signature; POST /agent/v1/heartbeat from 10.0.0.50");
  EXPECT_EQ(rejected[1].at("message"), "token expired; POST /agent/v1/heartbeat from 10.0.0.50");
  for (const auto& e : rejected) {
    EXPECT_EQ(std::string(e.at("message").as_string()).find(token), std::string::npos) << "no token in Events";
    EXPECT_EQ(std::string(e.at("message").as_string()).find(forged), std::string::npos);
  }
}

TEST_F(AgentApiTest, DuplicateUuidIsAWarningOnTheFirstServer) {
  AgentApi api(io, AgentApiOptions{}, clock, [](const json::object*) { return true; });
  api.register_routes(router);
  api.start(cluster, tokens);
  register_machine();
  auto body = json::parse(register_body()).as_object();
  body["bootMac"] = "52:54:00:aa:bb:cc";
  body["hardware"].as_object()["system"].as_object()["serialNumber"] = "OTHER1";
  body["hardware"].as_object()["network"].as_object()["interfaces"] = json::array{};
  const auto r = router.handle(
      request("POST", "/agent/v1/register", "", tokens.issue(kUuid, "52:54:00:aa:bb:cc"), json::serialize(body)));
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
  AgentApi api(io, AgentApiOptions{false, LifecycleOptions{WipeMode::none}}, clock,
               [](const json::object*) { return false; });
  api.register_routes(router);
  api.start(cluster, tokens);
  register_machine();
  merge("servers", kUuid, json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return condition(cluster.servers(), kUuid, "Clean"); }));
  const auto* clean = objects::find_condition(*in(cluster.servers(), kUuid), "Clean");
  EXPECT_EQ(objects::string_at(*clean, "reason"), "WipeDisabled");
  EXPECT_EQ(in(cluster.servers(), kUuid)->at("status").at("isClean"), true);
  // Clean, and the next boot leaves the agent: reboot.
  const auto r = router.handle(request("POST", "/agent/v1/heartbeat", "", token, "{}"));
  EXPECT_EQ(body_of(r), json::parse(R"({"instruction":{"action":"reboot"}})"));
}

}  // namespace
}  // namespace ironboot::discovery
