#include "discovery/server_object.hpp"

#include "discovery/uuid.hpp"
#include "kube/objects.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <map>

namespace ironboot::discovery {
namespace {

TokenClaims claims_for(std::string uuid, std::string mac) {
  TokenClaims c;
  c.uuid = std::move(uuid);
  c.mac = std::move(mac);
  return c;
}

namespace json = boost::json;

constexpr const char* kUuid = "4c4c4544-0042-3510-8051-b7c04f4e4d32";
constexpr const char* kNow = "2026-11-24T04:00:00Z";

RegisterReport report(const std::string& uuid, const std::string& mac, const std::string& serial) {
  const std::string body = R"({"uuid":")" + uuid + R"(","bootMac":")" + mac +
                           R"(","bootMode":"UEFI","hardware":{"system":{"serialNumber":")" + serial +
                           R"("},"network":{"interfaces":[{"name":"eth0","mac":")" + mac + R"("}]}},
                           "firmware":{"vendor":"SeaBIOS","version":"1.16.2","date":"04/01/2014"},
                           "pci":[{"address":"0000:00:03.0","vendor":"1af4","device":"1000","class":"020000"}]})";
  auto parsed = parse_register(body);
  return std::get<RegisterReport>(parsed);
}

struct Store {
  std::map<std::string, json::object, std::less<>> objects;
  ServerLookup lookup() {
    return [this](std::string_view name) -> const json::object* {
      auto it = objects.find(name);
      return it == objects.end() ? nullptr : &it->second;
    };
  }
};

const json::object& cond(const json::object& status_patch, const std::string& type) {
  for (const auto& c : status_patch.at("status").at("conditions").as_array()) {
    if (c.at("type").as_string() == type) return c.as_object();
  }
  static const json::object none;
  ADD_FAILURE() << "no condition " << type << " in " << json::serialize(status_patch);
  return none;
}

TEST(RegisterPlan, CreatesUnacceptedServer) {
  Store store;
  const auto plan = plan_register(report(kUuid, "52:54:00:12:34:56", "SN1"), store.lookup(), {}, kNow);
  EXPECT_EQ(plan.server_name, kUuid);
  EXPECT_FALSE(plan.synthetic_uuid);
  EXPECT_FALSE(plan.duplicate_uuid);
  ASSERT_EQ(plan.writes.size(), 2u);
  const auto& create = plan.writes[0];
  EXPECT_EQ(create.kind, ServerWrite::Kind::create);
  EXPECT_EQ(create.name, kUuid);
  EXPECT_EQ(create.body.at("kind"), "Server");
  EXPECT_EQ(create.body.at("apiVersion"), "metal.sidero.dev/v1alpha2");
  EXPECT_EQ(create.body.at("metadata").at("name"), kUuid);
  EXPECT_EQ(create.body.at("spec").at("accepted"), false);
  EXPECT_EQ(create.body.at("spec").at("hardware").at("system").at("serialNumber"), "SN1");
  const auto& ann = create.body.at("metadata").at("annotations").as_object();
  EXPECT_EQ(ann.at(kBootMacAnnotation), "52:54:00:12:34:56");
  EXPECT_EQ(ann.at(kBootModeAnnotation), "UEFI");
  EXPECT_EQ(json::parse(ann.at(kPciAnnotation).as_string()).at(0).at("class"), "020000");
  EXPECT_EQ(json::parse(ann.at(kFirmwareAnnotation).as_string()).at("vendor"), "SeaBIOS");
  const auto& status = plan.writes[1];
  EXPECT_EQ(status.kind, ServerWrite::Kind::status_patch);
  EXPECT_EQ(status.body.at("status").at("isClean"), false);
  EXPECT_EQ(cond(status.body, "Discovered").at("status"), "True");

  const auto auto_accepted =
      plan_register(report(kUuid, "52:54:00:12:34:56", "SN1"), store.lookup(), {.auto_accept = true}, kNow);
  EXPECT_EQ(auto_accepted.writes[0].body.at("spec").at("accepted"), true);
}

TEST(RegisterPlan, UpdateRefreshesHardwareOnlyAndNeverOperatorFields) {
  Store store;
  store.objects[kUuid] = json::parse(R"({
    "apiVersion": "metal.sidero.dev/v1alpha2", "kind": "Server",
    "metadata": {"name": "4c4c4544-0042-3510-8051-b7c04f4e4d32", "labels": {"rack": "rack-a"},
                 "annotations": {"ironboot.dev/boot-mac": "52:54:00:12:34:56", "owner": "ops"}},
    "spec": {"accepted": true, "cordoned": true, "hostname": "node1", "pxeBootAlways": true,
             "environmentRef": {"name": "talos"}, "bootFromDiskMethod": "http-404",
             "bmc": {"endpoint": "10.0.9.1"},
             "hardware": {"system": {"serialNumber": "SN1", "manufacturer": "Old"},
                          "network": {"interfaces": [{"mac": "52:54:00:12:34:56"}, {"mac": "52:54:00:12:34:57"}]}}},
    "status": {"isClean": true, "conditions": [
      {"type": "Discovered", "status": "True", "reason": "AgentRegistered", "message": "x",
       "lastTransitionTime": "2026-01-01T00:00:00Z"},
      {"type": "PXEBooted", "status": "True", "reason": "EnvironmentServed", "message": "talos",
       "lastTransitionTime": "2026-01-02T00:00:00Z"}]}
  })").as_object();
  // The same machine, booting from its second NIC.
  const auto plan = plan_register(report(kUuid, "52:54:00:12:34:57", "SN1"), store.lookup(), {.auto_accept = true},
                                  kNow);
  EXPECT_FALSE(plan.duplicate_uuid);
  ASSERT_EQ(plan.writes.size(), 2u);
  const auto& patch = plan.writes[0];
  EXPECT_EQ(patch.kind, ServerWrite::Kind::merge_patch);
  // Only ironboot's annotations and spec.hardware: nothing an operator owns.
  EXPECT_EQ(patch.body.size(), 2u);
  EXPECT_EQ(patch.body.at("spec").as_object().size(), 1u);
  EXPECT_EQ(patch.body.at("spec").at("hardware").at("system").at("manufacturer"), "");
  for (const auto& [k, v] : patch.body.at("metadata").as_object()) EXPECT_EQ(k, "annotations");
  for (const auto& [k, v] : patch.body.at("metadata").at("annotations").as_object())
    EXPECT_EQ(std::string(k).rfind("ironboot.dev/", 0), 0u) << k;
  const auto& status = plan.writes[1].body;
  EXPECT_EQ(status.at("status").as_object().size(), 1u) << "isClean is not reset by a register";
  EXPECT_EQ(cond(status, "Discovered").at("lastTransitionTime"), "2026-01-01T00:00:00Z");
  EXPECT_EQ(cond(status, "PXEBooted").at("message"), "talos");
}

TEST(RegisterPlan, SyntheticUuidFromBootMac) {
  Store store;
  const auto plan = plan_register(report("00000000-0000-0000-0000-000000000000", "52:54:00:12:34:56", "SN1"),
                                  store.lookup(), {}, kNow);
  EXPECT_TRUE(plan.synthetic_uuid);
  EXPECT_EQ(plan.server_name, "da84d97f-47f5-5e5b-8b2c-f3a23b870a9f");
  EXPECT_EQ(plan.writes[0].name, plan.server_name);
  EXPECT_EQ(cond(plan.writes[1].body, "SyntheticUUID").at("status"), "True");
  EXPECT_NE(std::string(cond(plan.writes[1].body, "SyntheticUUID").at("message").as_string()).find("52:54:00:12:34:56"),
            std::string::npos);
}

TEST(RegisterPlan, DuplicateUuidNeverOverwritesTheFirstMachine) {
  Store store;
  const auto first = plan_register(report(kUuid, "52:54:00:00:00:01", "SN-A"), store.lookup(), {}, kNow);
  store.objects[kUuid] = first.writes[0].body;
  store.objects[kUuid]["status"] = first.writes[1].body.at("status");

  const auto second = plan_register(report(kUuid, "52:54:00:00:00:02", "SN-B"), store.lookup(), {}, kNow);
  EXPECT_TRUE(second.duplicate_uuid);
  EXPECT_NE(second.duplicate_message.find("SN-B"), std::string::npos);
  const std::string second_name = synthetic_server_name("52:54:00:00:00:02");
  EXPECT_EQ(second.server_name, second_name);
  ASSERT_EQ(second.writes.size(), 3u);
  // The first Server: a status-only write flagging it, its spec untouched.
  EXPECT_EQ(second.writes[0].kind, ServerWrite::Kind::status_patch);
  EXPECT_EQ(second.writes[0].name, kUuid);
  EXPECT_EQ(cond(second.writes[0].body, "DuplicateUUID").at("status"), "True");
  EXPECT_EQ(cond(second.writes[0].body, "Discovered").at("status"), "True") << "existing conditions kept";
  for (const auto& w : second.writes) {
    if (w.name == kUuid) {
      EXPECT_EQ(w.kind, ServerWrite::Kind::status_patch);
    }
  }
  // The second machine: its own Server under the MAC-derived name, flagged too.
  EXPECT_EQ(second.writes[1].kind, ServerWrite::Kind::create);
  EXPECT_EQ(second.writes[1].name, second_name);
  EXPECT_EQ(second.writes[1].body.at("spec").at("hardware").at("system").at("serialNumber"), "SN-B");
  EXPECT_EQ(cond(second.writes[2].body, "DuplicateUUID").at("status"), "True");

  // Later requests of each agent reach their own Server.
  store.objects[second_name] = second.writes[1].body;
  store.objects[second_name]["status"] = second.writes[2].body.at("status");
  EXPECT_EQ(server_name_for_agent(kUuid, "52:54:00:00:00:02", store.lookup()), second_name);
  EXPECT_EQ(server_name_for_agent(kUuid, "52:54:00:00:00:01", store.lookup()), kUuid);
  EXPECT_EQ(server_name_for_agent(kUuid, "52:54:00:00:00:03", store.lookup()),
            synthetic_server_name("52:54:00:00:00:03"));
  EXPECT_EQ(server_name_for_agent("00000000-0000-0000-0000-000000000000", "52:54:00:12:34:56", store.lookup()),
            "da84d97f-47f5-5e5b-8b2c-f3a23b870a9f");

  // The first machine registering again is not a duplicate.
  const auto again = plan_register(report(kUuid, "52:54:00:00:00:01", "SN-A"), store.lookup(), {}, kNow);
  EXPECT_FALSE(again.duplicate_uuid);
  EXPECT_EQ(again.server_name, kUuid);
  // Same boot MAC but another serial: still a different machine.
  const auto swapped = plan_register(report(kUuid, "52:54:00:00:00:01", "SN-C"), store.lookup(), {}, kNow);
  EXPECT_TRUE(swapped.duplicate_uuid);
}

TEST(RegisterPlan, TokenMustMatchReport) {
  const auto r = report(kUuid, "52:54:00:12:34:56", "SN1");
  EXPECT_TRUE(report_matches_token(r, claims_for(kUuid, "52:54:00:12:34:56")));
  EXPECT_TRUE(report_matches_token(r, claims_for("4C4C4544-0042-3510-8051-B7C04F4E4D32", "52:54:00:12:34:56")));
  EXPECT_FALSE(report_matches_token(r, claims_for(kUuid, "52:54:00:12:34:57")));
  EXPECT_FALSE(report_matches_token(r, claims_for("4c4c4544-0042-3510-8051-b7c04f4e4d33", "52:54:00:12:34:56")));
  EXPECT_FALSE(report_matches_token(r, claims_for("00000000-0000-0000-0000-000000000000", "52:54:00:12:34:56")));
  const auto zero = report("00000000-0000-0000-0000-000000000000", "52:54:00:12:34:56", "SN1");
  EXPECT_TRUE(report_matches_token(zero, claims_for("00000000-0000-0000-0000-000000000000", "52:54:00:12:34:56")));
  EXPECT_TRUE(report_matches_token(zero, claims_for("", "52:54:00:12:34:56")));
  EXPECT_FALSE(report_matches_token(zero, claims_for(kUuid, "52:54:00:12:34:56")));
}

TEST(FactsUpdated, NamesTheFiguresThatChanged) {
  const auto hw = [](const char* memory, int disks, const char* serial) {
    return json::object{{"system", json::object{{"serialNumber", serial}}},
                        {"memory", json::object{{"totalSize", memory}}},
                        {"storage", json::object{{"deviceCount", disks}, {"devices", json::array{}}}}};
  };
  EXPECT_EQ(describe_hardware_changes(hw("64 GB", 2, "A"), hw("128 GB", 3, "A")), "memory 64 GB -> 128 GB, disks 2 -> 3");
  EXPECT_EQ(describe_hardware_changes(hw("64 GB", 2, "A"), hw("64 GB", 2, "B")), "serial 'A' -> 'B'");
  EXPECT_EQ(describe_hardware_changes(hw("64 GB", 2, "A"), hw("64 GB", 2, "A")), "");
  auto swapped = hw("64 GB", 2, "A");
  swapped["storage"].as_object()["devices"] = json::array{json::object{{"serialNumber", "X"}}};
  EXPECT_EQ(describe_hardware_changes(hw("64 GB", 2, "A"), swapped), "storage changed");
  EXPECT_EQ(describe_hardware_changes(json::object{}, hw("64 GB", 2, "")), "memory none -> 64 GB, disks none -> 2");
}

}  // namespace
}  // namespace ironboot::discovery
