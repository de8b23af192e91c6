// The BMC controller over the in-process cluster with a scripted fake BMC (bmc_fake.hpp):
// power refresh and BMCReachable, credentials from Secrets, spec.online, reboot.metal3.io,
// the lifecycle's power steps (Registering, accept, deprovision, Available), pacing, and the
// in-band BMC auto-setup.
#include "discovery/bmc_controller.hpp"

#include "bmc_fake.hpp"
#include "common/base64.hpp"
#include "fakes.hpp"
#include "in_process_cluster.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using bmc::PowerState;

const json::object kHardware{{"system", json::object{{"manufacturer", "QEMU"}}}};

json::object bmc_with_secret(const std::string& host, const std::string& secret = "s1-bmc") {
  auto ref = [&](const char* key) {
    return json::object{{"secretKeyRef", json::object{{"name", secret}, {"key", key}}}};
  };
  return json::object{{"endpoint", host}, {"userFrom", ref("username")}, {"passFrom", ref("password")}};
}

class BmcControllerTest : public testing::InProcessCluster {
 protected:
  testing::FakeClock clock{1795491532};
  std::shared_ptr<testing::FakeBmcFactory> factory = std::make_shared<testing::FakeBmcFactory>(io);
  BmcControllerOptions options = [] {
    BmcControllerOptions o;
    o.power_refresh = 100ms;
    o.min_interval = 5ms;
    o.agent_grace = 200ms;
    return o;
  }();
  std::unique_ptr<BmcController> controller;

  void start() {
    controller = std::make_unique<BmcController>(io, factory, options, clock);
    controller->start(cluster);
  }
  void SetUp() override {
    ASSERT_TRUE(handler.ensure_initial_namespaces());  // ironboot-system, for the Secrets
    InProcessCluster::SetUp();
  }
  void TearDown() override {
    if (controller) controller->stop();
    InProcessCluster::TearDown();
  }

  void secret(const std::string& name, const std::string& user, const std::string& pass) {
    json::object s{{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", json::object{{"name", name}, {"namespace", "ironboot-system"}}},
                   {"data", json::object{{"username", base64_encode(user)}, {"password", base64_encode(pass)}}}};
    auto r = call([&](auto done) { cluster.client().create(secrets(), s, done); });
    ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  }
  static kube::ResourcePath secrets() { return {"", "v1", "secrets", "ironboot-system"}; }

  // The cached Server's status.<key> as a string ("" when absent).
  std::string status_of(const std::string& name, const char* key) {
    const auto* s = in(cluster.servers(), name);
    const auto* st = s ? objects::status_of(*s) : nullptr;
    return st ? std::string(objects::string_at(*st, key)) : std::string();
  }
  const json::object* cond(const std::string& name, const char* type) {
    const auto* s = in(cluster.servers(), name);
    return s ? objects::find_condition(*s, type) : nullptr;
  }
  bool reachable(const std::string& name, const char* status) {
    const auto* c = cond(name, "BMCReachable");
    return c && objects::string_at(*c, "status") == status;
  }
  bool annotated(const std::string& name, const char* key) {
    const auto* s = in(cluster.servers(), name);
    const auto* a = s ? objects::annotations_of(*s) : nullptr;
    return a && a->contains(key);
  }
  void annotate(const std::string& name, const char* key) {
    merge("servers", name, json::object{{"metadata", json::object{{"annotations", json::object{{key, ""}}}}}});
  }
  void status(const std::string& name, json::object st) {
    auto r = call([&](auto done) {
      cluster.client().patch("servers", name, kube::PatchType::Merge, json::object{{"status", std::move(st)}}, done, true);
    });
    ASSERT_TRUE(r.ok()) << r.message;
  }
};

TEST_F(BmcControllerTest, RefreshSetsPowerAndReachableWithSecretCredentials) {
  secret("s1-bmc", "admin", "hunter2");
  auto& fake = factory->bmc("10.0.0.1");
  fake.power = PowerState::On;
  create("servers", "Server", "s1", json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", bmc_with_secret("10.0.0.1")}});
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s1", "power") == "on" && reachable("s1", "True"); }));
  EXPECT_EQ(fake.credentials, (bmc::BmcCredentials{"admin", "hunter2"}));
  EXPECT_EQ(std::string(objects::string_at(*cond("s1", "BMCReachable"), "message")), "ipmi://10.0.0.1:623: power on");
  EXPECT_EQ(status_of("s1", "state"), "Inspecting");

  // Refreshed on the period: the power changes behind ironboot's back and status follows.
  fake.power = PowerState::Off;
  ASSERT_TRUE(run_until([&] { return status_of("s1", "power") == "off"; }, 2s));
  EXPECT_GE(fake.count("status"), 2u);
  EXPECT_EQ(fake.count("power on") + fake.count("power off"), 0u) << "spec.online unset: power left alone";
}

TEST_F(BmcControllerTest, UnreachableBmcIsFalseWithTheErrorAndPowerUnknown) {
  auto& fake = factory->bmc("10.0.0.2");
  fake.fail = bmc::BmcStatus::failure("Timeout", "no answer from 10.0.0.2:623 after 4 tries");
  create("servers", "Server", "s2",
         json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", json::object{{"endpoint", "10.0.0.2"}}}});
  start();
  ASSERT_TRUE(run_until([&] { return reachable("s2", "False"); }));
  const auto* c = cond("s2", "BMCReachable");
  EXPECT_EQ(objects::string_at(*c, "reason"), "Timeout");
  EXPECT_EQ(objects::string_at(*c, "message"), "no answer from 10.0.0.2:623 after 4 tries");
  EXPECT_EQ(status_of("s2", "power"), "unknown");
  ASSERT_TRUE(run_until([&] { return has_event("s2", "BMCError"); }));

  fake.fail.reset();  // back: True again on the next refresh
  EXPECT_TRUE(run_until([&] { return reachable("s2", "True") && status_of("s2", "power") == "off"; }, 2s));
}

TEST_F(BmcControllerTest, MissingSecretSaysWhich) {
  secret("s1-bmc", "admin", "pw");
  auto spec = bmc_with_secret("10.0.0.3");
  spec["passFrom"] = json::object{{"secretKeyRef", json::object{{"name", "nope"}, {"key", "password"}}}};
  create("servers", "Server", "s3", json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", spec}});
  start();
  ASSERT_TRUE(run_until([&] { return reachable("s3", "False"); }));
  EXPECT_EQ(objects::string_at(*cond("s3", "BMCReachable"), "message"),
            "Secret ironboot-system/nope not found (spec.bmc.passFrom)");
  EXPECT_EQ(status_of("s3", "power"), "unknown");
  EXPECT_EQ(factory->made, 0) << "no client without credentials";
}

TEST_F(BmcControllerTest, PlainTextPasswordWorksWithAWarning) {
  create("servers", "Server", "s4",
         json::object{{"accepted", false},
                      {"hardware", kHardware},
                      {"bmc", json::object{{"endpoint", "ipmi://10.0.0.4:6230"}, {"user", "admin"}, {"pass", "clear"}}}});
  start();
  ASSERT_TRUE(run_until([&] { return reachable("s4", "True") && has_event("s4", "PlainTextPassword"); }));
  EXPECT_EQ(factory->bmc("10.0.0.4").credentials, (bmc::BmcCredentials{"admin", "clear"}));
  EXPECT_EQ(factory->bmc("10.0.0.4").endpoint.port, 6230);
  EXPECT_NE(std::string(objects::string_at(*cond("s4", "BMCReachable"), "message")).find("clear text"),
            std::string::npos);
  EXPECT_EQ(events_for("s4", "PlainTextPassword").at(0).at("type"), "Warning");
}

TEST_F(BmcControllerTest, InvalidSpecBmcIsErrorNamingTheField) {
  create("servers", "Server", "s5",
         json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", json::object{{"endpoint", "ftp://h"}}}});
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s5", "state") == "Error"; }));
  EXPECT_NE(status_of("s5", "errorMessage").find("spec.bmc.endpoint: unknown scheme 'ftp'"), std::string::npos);
  EXPECT_TRUE(reachable("s5", "False"));
  EXPECT_EQ(factory->made, 0);
}

TEST_F(BmcControllerTest, OnlineIsEnforcedAndRechecked) {
  auto& fake = factory->bmc("10.0.0.6");
  create("servers", "Server", "s6",
         json::object{{"accepted", false}, {"hardware", kHardware}, {"online", true},
                      {"bmc", json::object{{"endpoint", "10.0.0.6"}}}});
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s6", "power") == "on"; }));
  EXPECT_EQ(fake.count("power on"), 1u);
  ASSERT_TRUE(run_until([&] { return has_event("s6", "PowerOn"); }));

  fake.power = PowerState::Off;  // someone pressed the button: the next refresh powers it on again
  ASSERT_TRUE(run_until([&] { return fake.count("power on") == 2 && fake.power == PowerState::On; }, 2s));

  merge("servers", "s6", json::object{{"spec", json::object{{"online", false}}}});
  ASSERT_TRUE(run_until([&] { return status_of("s6", "power") == "off"; }));
  EXPECT_EQ(fake.count("power off"), 1u);
  run_for(300ms);
  EXPECT_EQ(fake.count("power off"), 1u) << "stays off: nothing more to do";
  EXPECT_EQ(fake.count("power on"), 2u);
}

TEST_F(BmcControllerTest, RebootAnnotationRebootsOnceAndIsRemoved) {
  auto& fake = factory->bmc("10.0.0.7");
  fake.power = PowerState::On;
  create("servers", "Server", "s7",
         json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", json::object{{"endpoint", "10.0.0.7"}}}});
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s7", "power") == "on"; }));
  annotate("s7", "reboot.metal3.io");
  ASSERT_TRUE(run_until([&] { return fake.count("power cycle") == 1 && !annotated("s7", "reboot.metal3.io"); }));
  run_for(400ms);  // a few refreshes later
  EXPECT_EQ(fake.count("power cycle"), 1u);
  EXPECT_EQ(fake.reboots, 1);
  EXPECT_TRUE(has_event("s7", "Reboot"));
}

TEST_F(BmcControllerTest, RegisteringServerIsPxeBootedAndPoweredOn) {
  secret("s1-bmc", "admin", "pw");
  auto& fake = factory->bmc("10.0.0.8");
  create("servers", "Server", "s8", json::object{{"accepted", true}, {"bmc", bmc_with_secret("10.0.0.8")}});
  start();
  ASSERT_TRUE(run_until([&] { return fake.power == PowerState::On && has_event("s8", "PowerOn"); }));
  const auto boot = std::find(fake.calls.begin(), fake.calls.end(), "boot pxe once uefi");
  const auto on = std::find(fake.calls.begin(), fake.calls.end(), "power on");
  ASSERT_NE(boot, fake.calls.end());
  EXPECT_LT(boot, on) << "next boot PXE is set before the power-on";
  EXPECT_EQ(status_of("s8", "state"), "Registering");
  run_for(300ms);
  EXPECT_EQ(fake.count("power on"), 1u) << "once";
  EXPECT_EQ(fake.count("boot pxe once uefi"), 1u);
}

TEST_F(BmcControllerTest, AcceptingARunningServerCyclesItIntoPxeWhenNoAgentWipes) {
  auto& fake = factory->bmc("10.0.0.9");
  fake.power = PowerState::On;
  create("servers", "Server", "s9",
         json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", json::object{{"endpoint", "10.0.0.9"}}}},
         json::object{{"isClean", false}});
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s9", "state") == "Inspecting" && status_of("s9", "power") == "on"; }));
  merge("servers", "s9", json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return status_of("s9", "state") == "Deprovisioning"; }));
  EXPECT_EQ(fake.count("power cycle"), 0u) << "the agent gets the grace time to pick the wipe up";
  ASSERT_TRUE(run_until([&] { return fake.count("power cycle") == 1; }, 2s));
  EXPECT_EQ(fake.count("boot pxe once uefi"), 1u);
  EXPECT_TRUE(run_until([&] { return has_event("s9", "Reboot"); }));

  // The agent comes up and wipes: no more cycles.
  status("s9", json::object{{"conditions", json::array{json::object{{"type", "Wiping"}, {"status", "True"},
                                                                    {"reason", "WipeRequested"}}}}});
  run_for(500ms);
  EXPECT_EQ(fake.count("power cycle"), 1u);
}

TEST_F(BmcControllerTest, DeprovisionCyclesIntoPxeWipesAndPowersOffWhenAvailable) {
  auto& fake = factory->bmc("10.0.0.10");
  fake.power = PowerState::On;
  const json::object booted{
      {"isClean", true},
      {"conditions", json::array{json::object{{"type", "PXEBooted"}, {"status", "True"}, {"reason", "EnvironmentServed"},
                                              {"message", "talos"}}}}};
  create("servers", "Server", "s10",
         json::object{{"accepted", true}, {"hardware", kHardware}, {"environmentRef", json::object{{"name", "talos"}}},
                      {"bmc", json::object{{"endpoint", "10.0.0.10"}}}},
         booted);
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s10", "state") == "Provisioned"; }));
  EXPECT_EQ(in(cluster.servers(), "s10")->at("status").at("inUse"), true) << "inUse once the Environment booted";

  // The operator removes the environmentRef: PXE once + cycle, not clean, not in use.
  merge("servers", "s10", json::object{{"spec", json::object{{"environmentRef", nullptr}}}});
  ASSERT_TRUE(run_until([&] { return status_of("s10", "state") == "Deprovisioning" && fake.count("power cycle") == 1; }));
  EXPECT_EQ(in(cluster.servers(), "s10")->at("status").at("inUse"), false);
  EXPECT_EQ(in(cluster.servers(), "s10")->at("status").at("isClean"), false);
  EXPECT_EQ(fake.count("boot pxe once uefi"), 1u);
  EXPECT_TRUE(has_event("s10", "Deprovisioning"));

  // The agent wipes (what POST wiped writes): Available, then powered off.
  status("s10", json::object{{"isClean", true},
                             {"conditions", json::array{json::object{{"type", "PXEBooted"}, {"status", "False"},
                                                                     {"reason", "Wiped"}}}}});
  ASSERT_TRUE(run_until([&] { return status_of("s10", "state") == "Available" && fake.power == PowerState::Off; }));
  EXPECT_EQ(fake.count("power off"), 1u);
  EXPECT_TRUE(run_until([&] { return has_event("s10", "PowerOff"); }));
}

TEST_F(BmcControllerTest, DeprovisionAnnotationIsRemovedAfterOneCycle) {
  auto& fake = factory->bmc("10.0.0.11");
  fake.power = PowerState::On;
  create("servers", "Server", "s11",
         json::object{{"accepted", true}, {"hardware", kHardware}, {"bmc", json::object{{"endpoint", "10.0.0.11"}}}},
         json::object{{"isClean", true}});
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s11", "state") == "Available"; }));
  annotate("s11", "ironboot.dev/deprovision");
  ASSERT_TRUE(run_until([&] { return !annotated("s11", "ironboot.dev/deprovision") && fake.count("power cycle") == 1; }));
  EXPECT_EQ(status_of("s11", "state"), "Deprovisioning");
  run_for(100ms);  // under the grace time: no second cycle
  EXPECT_EQ(fake.count("power cycle"), 1u);
  EXPECT_EQ(events_for("s11", "Deprovisioning").size(), 1u);
}

TEST_F(BmcControllerTest, WithoutABmcAPersonIsAskedToReboot) {
  create("servers", "Server", "s12", json::object{{"accepted", false}, {"hardware", kHardware}});
  start();
  ASSERT_TRUE(run_until([&] { return status_of("s12", "state") == "Inspecting"; }));
  merge("servers", "s12", json::object{{"spec", json::object{{"accepted", true}}}});
  ASSERT_TRUE(run_until([&] { return has_event("s12", "RebootRequired"); }, 2s));
  EXPECT_EQ(status_of("s12", "state"), "Deprovisioning");
  EXPECT_EQ(factory->made, 0);
}

TEST_F(BmcControllerTest, ConcurrencyCapAndPerBmcIntervalHold) {
  options.max_concurrent = 2;
  options.min_interval = 150ms;
  options.power_refresh = 50ms;
  for (int i = 0; i < 5; ++i) {
    const std::string host = "10.0.1." + std::to_string(i);
    factory->bmc(host).delay = 30ms;
    create("servers", "Server", "c" + std::to_string(i),
           json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", json::object{{"endpoint", host}}}});
  }
  start();
  run_for(1500ms);
  EXPECT_LE(factory->max_in_flight, 2);
  EXPECT_EQ(factory->max_in_flight, 2) << "the cap is used";
  for (const auto& [host, fake] : factory->bmcs) {
    ASSERT_GE(fake->starts.size(), 3u) << host;
    // The scheduler spaces dispatches by 150 ms; the fake stamps each start when its posted
    // handler runs, which may be a few microseconds later for one than for the next.
    for (std::size_t i = 1; i < fake->starts.size(); ++i)
      EXPECT_GE(fake->starts[i] - fake->starts[i - 1], 149ms) << host << " operation " << i;
  }
}

TEST_F(BmcControllerTest, InbandAutoSetupStoresTheSecretAndFillsSpecBmc) {
  options.auto_setup = true;
  create("servers", "Server", "s13", json::object{{"accepted", false}, {"hardware", kHardware}});
  start();
  RegisterReport report;
  report.bmc = InbandBmc{1, "static", "10.0.2.13", "255.255.255.0", "10.0.2.1", "aa:bb:cc:00:00:13", 623};
  auto answer = controller->on_register("s13", report);
  EXPECT_EQ(answer, (json::object{{"bmcSetup", true}}));
  ASSERT_TRUE(run_until([&] {
    const auto* s = in(cluster.servers(), "s13");
    const auto* st = s ? objects::status_of(*s) : nullptr;
    return st && st->contains("bmc");
  }));
  EXPECT_EQ(in(cluster.servers(), "s13")->at("status").at("bmc").at("address"), "10.0.2.13");

  report.bmc_credentials = InbandBmcCredentials{"ironboot", "r4nd0m"};
  EXPECT_EQ(controller->on_register("s13", report), json::object{});
  ASSERT_TRUE(run_until([&] { return reachable("s13", "True"); }));
  const auto* spec = objects::spec_of(*in(cluster.servers(), "s13"));
  EXPECT_EQ(spec->at("bmc").at("endpoint"), "10.0.2.13");
  EXPECT_EQ(spec->at("bmc").at("passFrom").at("secretKeyRef").at("name"), "s13-bmc");
  EXPECT_EQ(factory->bmc("10.0.2.13").credentials, (bmc::BmcCredentials{"ironboot", "r4nd0m"}));
  auto r = call([&](auto done) { cluster.client().get(secrets(), "s13-bmc", done); });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(base64_decode(r.object()->at("data").at("password").as_string()), "r4nd0m");
  EXPECT_TRUE(has_event("s13", "BMCCredentialsStored"));
  EXPECT_EQ(controller->on_register("s13", report), json::object{}) << "spec.bmc set: no more setup";
}

TEST_F(BmcControllerTest, InbandSetupNeverOverridesTheOperatorsBmc) {
  options.auto_setup = true;
  create("servers", "Server", "s14",
         json::object{{"accepted", false}, {"hardware", kHardware}, {"bmc", json::object{{"endpoint", "10.9.9.9"}}}});
  start();
  RegisterReport report;
  report.bmc = InbandBmc{1, "dhcp", "10.0.2.14", "", "", "", 623};
  report.bmc_credentials = InbandBmcCredentials{"ironboot", "pw"};
  EXPECT_EQ(controller->on_register("s14", report), json::object{});
  run_for(200ms);
  EXPECT_EQ(objects::spec_of(*in(cluster.servers(), "s14"))->at("bmc").at("endpoint"), "10.9.9.9");
  auto r = call([&](auto done) { cluster.client().get(secrets(), "s14-bmc", done); });
  EXPECT_TRUE(r.not_found());

  options.auto_setup = false;  // (a new controller) without auto_setup nothing is asked
  BmcController plain(io, factory, options, clock);
  plain.start(cluster);
  report.bmc_credentials.reset();
  EXPECT_EQ(plain.on_register("s13-none", report), json::object{});
  plain.stop();
}

}  // namespace
}  // namespace ironboot::discovery
