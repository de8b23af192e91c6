#include "discovery/boot_decision.hpp"

#include "discovery/lifecycle.hpp"
#include "kube/objects.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <map>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;
using Kind = BootDecision::Kind;
using objects::Condition;
constexpr const char* kNow = "2026-11-24T04:00:00Z";

json::object server(bool accepted, bool clean) {
  return json::parse(R"({"metadata":{"name":"s1"},"spec":{"accepted":)" + std::string(accepted ? "true" : "false") +
                     R"(},"status":{"isClean":)" + (clean ? "true" : "false") + "}}")
      .as_object();
}

json::object server_class(const std::string& name, const std::string& env, const std::vector<std::string>& available,
                          const std::string& disk_method = "") {
  json::object spec;
  if (!env.empty()) spec["environmentRef"] = json::object{{"name", env}};
  if (!disk_method.empty()) spec["bootFromDiskMethod"] = disk_method;
  json::array names;
  for (const auto& n : available) names.emplace_back(n);
  return json::object{{"metadata", json::object{{"name", name}}},
                      {"spec", std::move(spec)},
                      {"status", json::object{{"serversAvailable", std::move(names)}, {"serversInUse", json::array{}}}}};
}

json::object environment(const std::string& name, bool ready) {
  return json::parse(R"({"metadata":{"name":")" + name + R"("},
    "spec":{"kernel":{"url":"http://files.example/)" + name + R"(/vmlinuz","args":["console=ttyS0","talos.platform=metal"]},
            "initrd":{"url":"http://files.example/)" + name + R"(/initramfs.xz"}},
    "status":{"conditions":[{"type":"Ready","status":")" + (ready ? "True" : "False") + R"("}]}})")
      .as_object();
}

struct World {
  std::map<std::string, json::object, std::less<>> environments;
  std::vector<json::object> classes;
  BootInputs inputs(const json::object* s) {
    BootInputs in;
    in.server = s;
    for (const auto& c : classes) in.classes.push_back(&c);
    in.environment = [this](std::string_view name) -> const json::object* {
      auto it = environments.find(name);
      return it == environments.end() ? nullptr : &it->second;
    };
    in.default_disk_method = DiskBootMethod::ipxe_exit;
    return in;
  }
};

json::object apply_status(json::object s, const json::object& patch) {
  for (const auto& [k, v] : patch.at("status").as_object()) s["status"].as_object()[k] = v;
  return s;
}

TEST(BootDecision, AgentUntilAcceptedAndClean) {
  World w;
  EXPECT_EQ(decide_boot(w.inputs(nullptr)).kind, Kind::agent);
  EXPECT_EQ(decide_boot(w.inputs(nullptr)).reason, "unknown server");
  auto s = server(false, true);
  EXPECT_EQ(decide_boot(w.inputs(&s)).reason, "not accepted");
  s = server(true, false);
  EXPECT_EQ(decide_boot(w.inputs(&s)).reason, "not clean");
}

TEST(BootDecision, ClassEnvironmentOnceThenDisk) {
  World w;
  w.environments["talos"] = environment("talos", true);
  w.classes = {server_class("any", "", {"s1"}), server_class("amd", "talos", {"s1"})};
  auto s = server(true, true);
  std::vector<Condition> conditions;
  auto choice = decide_boot(w.inputs(&s), &conditions);
  ASSERT_EQ(choice.kind, Kind::environment) << choice.reason;
  EXPECT_EQ(choice.environment_name, "talos");
  EXPECT_EQ(choice.environment.kernel_url, "http://files.example/talos/vmlinuz");
  EXPECT_EQ(choice.environment.initrd_url, "http://files.example/talos/initramfs.xz");
  EXPECT_EQ(choice.environment.args, (std::vector<std::string>{"console=ttyS0", "talos.platform=metal"}));
  EXPECT_TRUE(conditions.empty());
  EXPECT_EQ(next_instruction(&s, {}, choice.kind == Kind::agent), Instruction::reboot());

  // The kernel was served: PXEBooted names the environment, the next boot is from disk.
  s = apply_status(s, status_for_pxe_booted(s, "talos", kNow));
  choice = decide_boot(w.inputs(&s));
  EXPECT_EQ(choice.kind, Kind::disk);
  EXPECT_STREQ(to_string(choice.disk_method), "ipxe-exit");
  EXPECT_EQ(choice.reason, "already booted environment talos");

  // A different environment later (operator sets environmentRef): boot it once again.
  w.environments["ubuntu"] = environment("ubuntu", true);
  s["spec"].as_object()["environmentRef"] = json::object{{"name", "ubuntu"}};
  choice = decide_boot(w.inputs(&s));
  EXPECT_EQ(choice.kind, Kind::environment);
  EXPECT_EQ(choice.environment_name, "ubuntu");

  // pxeBootAlways: every boot.
  s["spec"].as_object()["environmentRef"] = json::object{{"name", "talos"}};
  s["spec"].as_object()["pxeBootAlways"] = true;
  choice = decide_boot(w.inputs(&s));
  EXPECT_EQ(choice.kind, Kind::environment);
  EXPECT_EQ(choice.reason, "pxeBootAlways environment talos");
}

TEST(BootDecision, ServerEnvironmentRefWinsOverClass) {
  World w;
  w.environments["talos"] = environment("talos", true);
  w.environments["rescue"] = environment("rescue", true);
  w.classes = {server_class("a", "talos", {"s1"}), server_class("b", "talos", {"s1"})};
  auto s = server(true, true);
  s["spec"].as_object()["environmentRef"] = "rescue";  // plain-string form accepted too
  const auto choice = decide_boot(w.inputs(&s));
  EXPECT_EQ(choice.kind, Kind::environment);
  EXPECT_EQ(choice.environment_name, "rescue");
}

TEST(BootDecision, AmbiguousClassesBootTheAgentAndSayWhy) {
  World w;
  w.environments["talos"] = environment("talos", true);
  w.environments["ubuntu"] = environment("ubuntu", true);
  w.classes = {server_class("zeta", "talos", {"s1"}), server_class("alpha", "ubuntu", {"s1"}),
               server_class("other", "ubuntu", {"s2"})};
  auto s = server(true, true);
  std::vector<Condition> conditions;
  auto choice = decide_boot(w.inputs(&s), &conditions);
  EXPECT_EQ(choice.kind, Kind::agent);
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0].type, "AmbiguousClass");
  EXPECT_TRUE(conditions[0].status);
  EXPECT_NE(conditions[0].message.find("alpha, zeta"), std::string::npos);
  EXPECT_EQ(next_instruction(&s, {}, choice.kind == Kind::agent), Instruction::wait()) << "no reboot loop";

  const auto patch = status_for_server_conditions(s, conditions, kNow);
  ASSERT_TRUE(patch);
  s = apply_status(s, *patch);
  EXPECT_TRUE(objects::condition_is_true(s, "AmbiguousClass"));
  decide_boot(w.inputs(&s), &conditions);
  EXPECT_TRUE(conditions.empty()) << "already recorded";

  // Resolved: one class drops its environment; the condition is cleared.
  w.classes[1] = server_class("alpha", "", {"s1"});
  choice = decide_boot(w.inputs(&s), &conditions);
  EXPECT_EQ(choice.kind, Kind::environment);
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0].type, "AmbiguousClass");
  EXPECT_FALSE(conditions[0].status);
}

TEST(BootDecision, MissingOrUnreadyEnvironmentKeepsTheAgent) {
  World w;
  w.classes = {server_class("amd", "talos", {"s1"})};
  auto s = server(true, true);
  EXPECT_EQ(decide_boot(w.inputs(&s)).reason, "environment talos not found");
  w.environments["talos"] = environment("talos", false);
  auto choice = decide_boot(w.inputs(&s));
  EXPECT_EQ(choice.kind, Kind::agent);
  EXPECT_EQ(choice.reason, "environment talos not ready");
}

TEST(BootDecision, DiskMethodFromServerThenClassThenConfig) {
  World w;
  w.classes = {server_class("any", "", {"s1"}, "ipxe-sanboot"), server_class("amd", "", {"s1"}, "http-404")};
  auto s = server(true, true);
  auto choice = decide_boot(w.inputs(&s));
  EXPECT_EQ(choice.kind, Kind::disk);
  EXPECT_EQ(choice.reason, "no environment");
  EXPECT_STREQ(to_string(choice.disk_method), "http-404") << "a specific class before `any`";
  s["spec"].as_object()["bootFromDiskMethod"] = "ipxe-sanboot";
  EXPECT_STREQ(to_string(decide_boot(w.inputs(&s)).disk_method), "ipxe-sanboot");
  s["spec"].as_object()["bootFromDiskMethod"] = "bogus";
  EXPECT_STREQ(to_string(decide_boot(w.inputs(&s)).disk_method), "http-404");
  w.classes = {server_class("amd", "", {"s2"}, "http-404")};  // does not list s1
  auto in = w.inputs(&s);
  in.default_disk_method = DiskBootMethod::ipxe_sanboot;
  EXPECT_STREQ(to_string(decide_boot(in).disk_method), "ipxe-sanboot");
}

TEST(BootDecision, FreshMembershipsOverrideStaleStatusLists) {
  World w;
  w.environments["talos"] = environment("talos", true);
  w.classes = {server_class("amd", "talos", {})};  // status not written yet
  auto s = server(true, true);
  EXPECT_EQ(decide_boot(w.inputs(&s)).kind, Kind::disk);
  const std::vector<serverclass::ClassStatus> fresh = {{"amd", {"s1"}, {}, std::nullopt}};
  auto in = w.inputs(&s);
  in.memberships = &fresh;
  const auto choice = decide_boot(in);
  EXPECT_EQ(choice.kind, Kind::environment);
  EXPECT_EQ(choice.environment_name, "talos");
}

}  // namespace
}  // namespace ironboot::discovery
