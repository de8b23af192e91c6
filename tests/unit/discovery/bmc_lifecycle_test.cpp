// The lifecycle's pure policy: status.state from a Server, its status patches, the deprovision
// triggers and the power steps the BMC controller executes; and the in-band BMC fields of the
// register report.
#include "discovery/lifecycle.hpp"
#include "discovery/reports.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;
constexpr const char* kNow = "2026-12-02T03:00:00Z";

json::object server(const char* text) { return json::parse(text).as_object(); }

TEST(ServerState, FromTheServer) {
  EXPECT_EQ(server_state(server(R"({"spec":{"accepted":false,"bmc":{"endpoint":"h"}}})"), "", "").state,
            ServerState::Registering);
  EXPECT_EQ(server_state(server(R"({"spec":{"accepted":false,"hardware":{"system":{}}}})"), "", "").state,
            ServerState::Inspecting);
  EXPECT_EQ(server_state(server(R"({"spec":{"accepted":true,"hardware":{"system":{}}}})"), "", "").state,
            ServerState::Deprovisioning);
  const auto clean = server(R"({"spec":{"accepted":true,"hardware":{"system":{}}},"status":{"isClean":true}})");
  EXPECT_EQ(server_state(clean, "", ""), (ServerStateView{ServerState::Available, ""}));
  EXPECT_EQ(server_state(clean, "talos", ""), (ServerStateView{ServerState::Provisioning, "booting environment talos"}));
  const auto booted = server(R"({"spec":{"accepted":true,"hardware":{"system":{}}},"status":{"isClean":true,
    "conditions":[{"type":"PXEBooted","status":"True","message":"talos"}]}})");
  EXPECT_EQ(server_state(booted, "talos", ""), (ServerStateView{ServerState::Provisioned, "booted environment talos"}));
  EXPECT_EQ(server_state(booted, "", "").state, ServerState::Provisioned) << "booted, now boots from disk";
  EXPECT_EQ(server_state(booted, "flatcar", "").state, ServerState::Provisioning) << "a new Environment";
  EXPECT_EQ(server_state(booted, "talos", "bad bmc"), (ServerStateView{ServerState::Error, "bad bmc"}));
}

TEST(ServerState, StatusPatchRecordsStateOnce) {
  auto s = server(R"({"spec":{"accepted":true,"hardware":{"system":{}}},"status":{"isClean":true,
    "conditions":[{"type":"PXEBooted","status":"True","message":"talos"}]}})");
  const auto view = server_state(s, "talos", "");
  auto patch = status_for_state(s, view, kNow);
  ASSERT_TRUE(patch);
  const auto& st = patch->at("status").as_object();
  EXPECT_EQ(st.at("state"), "Provisioned");
  EXPECT_EQ(st.at("inUse"), true);
  EXPECT_TRUE(st.at("errorMessage").is_null());
  s["status"].as_object()["state"] = "Provisioned";
  s["status"].as_object()["inUse"] = true;
  s["status"].as_object()["conditions"] = st.at("conditions");
  EXPECT_EQ(status_for_state(s, view, kNow), std::nullopt) << "already recorded";

  auto err = status_for_state(s, ServerStateView{ServerState::Error, "BMC gone"}, kNow);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->at("status").at("state"), "Error");
  EXPECT_EQ(err->at("status").at("errorMessage"), "BMC gone");
}

TEST(Deprovision, Triggers) {
  const auto before = server(R"({"spec":{"accepted":true,"environmentRef":{"name":"talos"}},"status":{"isClean":true,
    "conditions":[{"type":"PXEBooted","status":"True","message":"talos"}]}})");
  auto after = before;
  EXPECT_EQ(deprovision_trigger(&before, after), "");
  after["spec"].as_object().erase("environmentRef");
  EXPECT_EQ(deprovision_trigger(&before, after), "spec.environmentRef talos removed");
  EXPECT_EQ(deprovision_trigger(nullptr, after), "") << "no before: nothing removed";
  auto annotated = before;
  annotated["metadata"] = json::object{{"annotations", json::object{{"ironboot.dev/deprovision", ""}}}};
  EXPECT_EQ(deprovision_trigger(nullptr, annotated), "annotation ironboot.dev/deprovision");
  annotated["spec"].as_object()["accepted"] = false;
  EXPECT_EQ(deprovision_trigger(nullptr, annotated), "") << "not accepted: nothing to deprovision";

  const auto patch = status_for_deprovision(before, "annotation", kNow);
  EXPECT_EQ(patch.at("status").at("isClean"), false);
  EXPECT_EQ(patch.at("status").at("inUse"), false);
}

TEST(LifecyclePowerStep, Steps) {
  using S = ServerState;
  auto step = [](std::optional<S> previous, S state, std::optional<bool> online = std::nullopt, bool overdue = false,
                 bool started = false, bool power_off = true) {
    return lifecycle_power_step(PowerStepInputs{previous, {state, ""}, online, power_off, overdue, started});
  };
  EXPECT_EQ(step(std::nullopt, S::Registering), PowerStep::pxe_power_on);
  EXPECT_EQ(step(S::Registering, S::Registering), PowerStep::none) << "once";
  EXPECT_EQ(step(std::nullopt, S::Registering, false), PowerStep::none) << "spec.online false never powers on";
  EXPECT_EQ(step(S::Inspecting, S::Deprovisioning), PowerStep::none) << "the agent may be running: wait";
  EXPECT_EQ(step(S::Deprovisioning, S::Deprovisioning, std::nullopt, true), PowerStep::pxe_power_on);
  EXPECT_EQ(step(S::Provisioned, S::Deprovisioning, std::nullopt, false, true), PowerStep::pxe_power_on);
  EXPECT_EQ(step(S::Deprovisioning, S::Available), PowerStep::power_off);
  EXPECT_EQ(step(S::Deprovisioning, S::Available, true), PowerStep::none) << "spec.online true keeps it on";
  EXPECT_EQ(step(S::Deprovisioning, S::Available, std::nullopt, false, false, false), PowerStep::none);
  EXPECT_EQ(step(std::nullopt, S::Available), PowerStep::none) << "first sight (a restart) changes nothing";
  EXPECT_EQ(step(S::Available, S::Available), PowerStep::none);
}

TEST(RegisterReportBmc, InbandFields) {
  const std::string base = R"("bootMac":"52:54:00:12:34:56","hardware":{})";
  auto parsed = parse_register("{" + base + R"(,"bmc":{"channel":1,"ipSource":"static","address":"10.0.0.5",
    "netmask":"255.255.255.0","gateway":"10.0.0.1","mac":"aa:bb:cc:dd:ee:ff","port":623},
    "bmcCredentials":{"username":"ironboot","password":"pw"}})");
  ASSERT_TRUE(std::holds_alternative<RegisterReport>(parsed)) << std::get<RequestError>(parsed).message;
  const auto& r = std::get<RegisterReport>(parsed);
  ASSERT_TRUE(r.bmc && r.bmc_credentials);
  EXPECT_EQ(r.bmc->address, "10.0.0.5");
  EXPECT_EQ(r.bmc->channel, 1);
  EXPECT_EQ(r.bmc->ip_source, "static");
  EXPECT_EQ(r.bmc_credentials->password, "pw");

  auto none = parse_register("{" + base + "}");
  ASSERT_TRUE(std::holds_alternative<RegisterReport>(none));
  EXPECT_FALSE(std::get<RegisterReport>(none).bmc) << "machines without a BMC report none";

  auto error = [&](const std::string& extra) {
    auto p = parse_register("{" + base + "," + extra + "}");
    return std::holds_alternative<RequestError>(p) ? std::get<RequestError>(p).message : std::string("parsed");
  };
  EXPECT_EQ(error(R"("bmc":[])"), "bmc: must be an object");
  EXPECT_EQ(error(R"("bmc":{"ipSource":"magic"})"), "bmc.ipSource: must be static, dhcp, bios, other or unspecified");
  EXPECT_EQ(error(R"("bmc":{"port":0})"), "bmc.port: must be 1..65535");
  EXPECT_EQ(error(R"("bmc":{"address":7})"), "bmc.address: must be a string");
  EXPECT_EQ(error(R"("bmcCredentials":{"username":"u"})"), "bmcCredentials.password: required");
  EXPECT_EQ(error(R"("bmcCredentials":{"username":"","password":"p"})"), "bmcCredentials.username: must not be empty");
}

}  // namespace
}  // namespace ironboot::discovery
