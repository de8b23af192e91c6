// The BareMetalHost controller over the in-process cluster (the embedded API serves Metal3's
// CRD) with the scripted fake BMC (bmc_fake.hpp): registration (Secret read, PXE once, power
// on, status through the subresource, Events), wrong credentials and a missing Secret (error
// status, Event, retried with backoff until fixed), the deadline, and the link to the Server
// whose NIC carries the boot MAC.
#include "discovery/bmh_controller.hpp"

#include "bmc_fake.hpp"
#include "common/base64.hpp"
#include "in_process_cluster.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

class BmhControllerTest : public testing::InProcessCluster {
 protected:
  std::shared_ptr<testing::FakeBmcFactory> factory = std::make_shared<testing::FakeBmcFactory>(io);
  BmhControllerOptions options = [] {
    BmhControllerOptions o;
    o.min_interval = 1ms;
    o.min_backoff = 50ms;
    o.max_backoff = 200ms;
    o.power_refresh = 100ms;
    o.operation_timeout = 2s;
    return o;
  }();
  std::unique_ptr<BmhController> controller;

  void SetUp() override {
    InProcessCluster::SetUp();
    auto r = call([&](auto done) {
      cluster.client().create(kube::ResourcePath{"", "v1", "namespaces", ""},
                              json::object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "metal3"}}}},
                              done);
    });
    ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  }
  void TearDown() override {
    if (controller) controller->stop();
    InProcessCluster::TearDown();
  }
  void start() {
    controller = std::make_unique<BmhController>(io, factory, options);
    controller->start(cluster);
  }

  void secret(const std::string& user, const std::string& pass) {
    json::object s{{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", json::object{{"name", "worker-0-bmc-secret"}, {"namespace", "metal3"}}},
                   {"data", json::object{{"username", base64_encode(user)}, {"password", base64_encode(pass)}}}};
    auto r = call([&](auto done) { cluster.client().create(kube::ResourcePath{"", "v1", "secrets", "metal3"}, s, done); });
    ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  }
  void host(const std::string& address = "ipmi://10.0.100.10", bool online = true) {
    const json::object h{{"apiVersion", "metal3.io/v1alpha1"},
                         {"kind", "BareMetalHost"},
                         {"metadata", json::object{{"name", "worker-0"}, {"namespace", "metal3"}}},
                         {"spec", json::object{{"online", online},
                                               {"bootMACAddress", "52:54:00:12:34:56"},
                                               {"bmc", json::object{{"address", address},
                                                                    {"credentialsName", "worker-0-bmc-secret"}}},
                                               {"rootDeviceHints", json::object{{"deviceName", "/dev/sda"}}}}}};
    auto r = call([&](auto done) { cluster.client().create(hosts(), h, done); });
    ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  }
  static kube::ResourcePath hosts() { return {"metal3.io", "v1alpha1", "baremetalhosts", "metal3"}; }

  // The cached host's status.<key> ("" / null when absent).
  json::value status(const char* key) {
    const auto h = cluster.baremetalhosts().get("metal3/worker-0");
    const auto* st = h ? objects::status_of(*h) : nullptr;
    const auto* v = st ? st->if_contains(key) : nullptr;
    return v ? *v : json::value();
  }
  std::string state() {
    const auto p = status("provisioning");
    return p.is_object() && p.as_object().contains("state") ? std::string(p.at("state").as_string()) : std::string();
  }
  testing::FakeBmc& bmc() { return factory->bmc("10.0.100.10"); }
};

TEST_F(BmhControllerTest, RegistersTheHostPxeOncePowerOnAndReportsIt) {
  secret("admin", "password");
  host();
  start();
  ASSERT_TRUE(run_until([&] { return state() == "inspecting" && status("poweredOn") == true; })) << status("errorMessage");
  ASSERT_GE(bmc().calls.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(bmc().calls.begin(), bmc().calls.begin() + 4),
            (std::vector<std::string>{"status", "boot pxe once uefi", "power on", "status"}));
  EXPECT_EQ(bmc().credentials, (bmc::BmcCredentials{"admin", "password"}));
  EXPECT_EQ(bmc().endpoint.port, 623);
  EXPECT_EQ(status("operationalStatus"), "OK");
  EXPECT_EQ(status("errorType"), "");
  EXPECT_EQ(status("errorCount"), 0);
  EXPECT_TRUE(status("lastUpdated").is_string());
  EXPECT_EQ(status("provisioning").at("rootDeviceHints"), json::parse(R"({"deviceName":"/dev/sda"})"));
  ASSERT_TRUE(run_until([&] { return has_event("worker-0", "PowerOn") && has_event("worker-0", "StateChanged"); }));
  EXPECT_EQ(events_for("worker-0", "PowerOn")[0].at("metadata").at("namespace"), "metal3");
  EXPECT_EQ(events_for("worker-0", "StateChanged")[0].at("message"), "registering -> inspecting");

  // Later: the controller keeps poweredOn current from the BMC, and powers nothing on again.
  bmc().power = bmc::PowerState::Off;
  ASSERT_TRUE(run_until([&] { return status("poweredOn") == false; }));
  EXPECT_EQ(bmc().count("power on"), 1u);
  EXPECT_EQ(bmc().max_in_flight, 1);
}

TEST_F(BmhControllerTest, AnOfflineHostIsOnlyReadUntilItIsTurnedOnline) {
  secret("admin", "password");
  host("ipmi://10.0.100.10", false);
  start();
  ASSERT_TRUE(run_until([&] { return bmc().count("status") >= 2; })) << ::testing::PrintToString(bmc().calls);
  EXPECT_EQ(state(), "registering");
  EXPECT_EQ(status("poweredOn"), false);
  EXPECT_EQ(status("operationalStatus"), "OK");
  EXPECT_EQ(bmc().count("power on"), 0u);
  EXPECT_EQ(bmc().count("boot pxe once uefi"), 0u);

  auto r = call([&](auto done) {
    cluster.client().patch(hosts(), "worker-0", kube::PatchType::Merge, json::parse(R"({"spec":{"online":true}})"), done);
  });
  ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  ASSERT_TRUE(run_until([&] { return state() == "inspecting" && status("poweredOn") == true; }));
  EXPECT_EQ(bmc().count("boot pxe once uefi"), 1u);
  EXPECT_EQ(bmc().count("power on"), 1u);
}

TEST_F(BmhControllerTest, AnOfflineHostFoundOnIsPoweredOffOnce) {
  bmc().power = bmc::PowerState::On;
  secret("admin", "password");
  host("ipmi://10.0.100.10", false);
  start();
  ASSERT_TRUE(run_until([&] { return bmc().count("power off") == 1 && status("poweredOn") == false; }))
      << ::testing::PrintToString(bmc().calls);
  EXPECT_EQ(state(), "registering");
  ASSERT_TRUE(run_until([&] { return has_event("worker-0", "PowerOff"); }));
  // Found on again: powered off again, once per refresh (100 ms here), never in a loop.
  bmc().power = bmc::PowerState::On;
  run_for(350ms);
  EXPECT_GE(bmc().count("power off"), 2u);
  EXPECT_LE(bmc().count("power off"), 5u) << ::testing::PrintToString(bmc().calls);
  EXPECT_EQ(bmc().count("power on"), 0u);
}

TEST_F(BmhControllerTest, WrongCredentialsAreAnErrorRetriedUntilTheBmcTakesThem) {
  secret("admin", "wrong");
  bmc().fail = bmc::BmcStatus::failure("AuthFailed", "RAKP 2: unauthorized name");
  host();
  start();
  ASSERT_TRUE(run_until([&] { return status("operationalStatus") == "error"; }));
  EXPECT_EQ(status("errorType"), "registration error");
  EXPECT_EQ(status("errorMessage"), "BMC: AuthFailed: RAKP 2: unauthorized name");
  EXPECT_EQ(state(), "registering");
  EXPECT_EQ(status("poweredOn"), false);
  ASSERT_TRUE(run_until([&] { return has_event("worker-0", "BMCError"); }));
  EXPECT_EQ(events_for("worker-0", "BMCError")[0].at("type"), "Warning");
  // Retried with backoff (50, 100, 200 ms ...), the Secret read again each time.
  ASSERT_TRUE(run_until([&] { return bmc().count("status") >= 3; }));
  EXPECT_EQ(bmc().count("power on"), 0u);
  EXPECT_EQ(events_for("worker-0", "BMCError").size(), 1u) << "the same error is not an Event per retry";

  bmc().fail.reset();
  ASSERT_TRUE(run_until([&] { return status("operationalStatus") == "OK" && state() == "inspecting"; }));
  EXPECT_EQ(status("poweredOn"), true);
  EXPECT_EQ(status("errorMessage"), "");
  EXPECT_EQ(bmc().count("power on"), 1u);
}

TEST_F(BmhControllerTest, MissingSecretIsACredentialsErrorUntilItExists) {
  host();
  start();
  ASSERT_TRUE(run_until([&] { return status("operationalStatus") == "error"; }));
  EXPECT_EQ(status("errorMessage"), "credentials: Secret metal3/worker-0-bmc-secret not found");
  ASSERT_TRUE(run_until([&] { return has_event("worker-0", "CredentialsError"); }));
  EXPECT_TRUE(bmc().calls.empty());
  secret("admin", "password");
  ASSERT_TRUE(run_until([&] { return state() == "inspecting" && status("operationalStatus") == "OK"; }));
  EXPECT_EQ(bmc().credentials, (bmc::BmcCredentials{"admin", "password"}));
}

TEST_F(BmhControllerTest, InvalidAddressIsAnErrorWithoutBmcTraffic) {
  secret("admin", "password");
  host("ftp://10.0.100.10");
  start();
  ASSERT_TRUE(run_until([&] { return status("operationalStatus") == "error"; }));
  EXPECT_EQ(std::string(status("errorMessage").as_string()).rfind("BMC: InvalidSpec: spec.bmc.address: unknown scheme", 0), 0u)
      << status("errorMessage");
  run_for(200ms);
  EXPECT_EQ(factory->made, 0);
}

TEST_F(BmhControllerTest, ABmcThatNeverAnswersTimesOut) {
  options.operation_timeout = 100ms;
  bmc().delay = 10s;
  secret("admin", "password");
  host();
  start();
  ASSERT_TRUE(run_until([&] { return status("operationalStatus") == "error"; }));
  EXPECT_EQ(std::string(status("errorMessage").as_string()).rfind("BMC: Timeout: ", 0), 0u) << status("errorMessage");
  EXPECT_GE(bmc().count("close"), 1u) << "the session given up is closed";
}

TEST_F(BmhControllerTest, LinksTheServerWithTheBootMacAndMirrorsItsLifecycle) {
  secret("admin", "password");
  host();
  start();
  ASSERT_TRUE(run_until([&] { return state() == "inspecting"; }));
  const std::string uuid = "4c4c4544-0035-4410-8057-b4c04f4a3599";
  create("servers", "Server", uuid,
         json::parse(R"({"accepted":false,"hardware":{
             "storage":{"devices":[{"type":"SSD","size":240057409536,"name":"sda","deviceName":"/dev/sda"}]},
             "network":{"interfaces":[{"name":"eno1","mac":"52:54:00:12:34:56"}]}}})").as_object(),
         json::object{{"power", "on"}, {"state", "Deprovisioning"}});
  ASSERT_TRUE(run_until([&] { return state() == "preparing"; })) << state();
  EXPECT_EQ(status("provisioning").at("ID"), json::value(uuid));
  EXPECT_EQ(status("provisioning").at("installTarget"), "/dev/sda");
  EXPECT_EQ(status("hardware").at("nics").at(0).at("pxe"), true);
  ASSERT_TRUE(run_until([&] {
    const auto* s = in(cluster.servers(), uuid);
    return s && objects::spec_bool(*s, "accepted");
  }));
  const auto* s = in(cluster.servers(), uuid);
  EXPECT_EQ(s->at("spec").at("online"), true);
  EXPECT_EQ(s->at("spec").at("bmc").at("endpoint"), "ipmi://10.0.100.10");
  EXPECT_EQ(s->at("spec").at("bmc").at("passFrom").at("secretKeyRef").at("namespace"), "metal3");
  EXPECT_EQ(s->at("metadata").at("annotations").at("ironboot.dev/baremetalhost"), "metal3/worker-0");
  EXPECT_EQ(s->at("metadata").at("annotations").at("ironboot.dev/install-disk"), "/dev/sda");
  ASSERT_TRUE(run_until([&] { return has_event("worker-0", "Linked"); }));

  // The Server's lifecycle goes on: the host follows it.
  auto r = call([&](auto done) {
    cluster.client().patch("servers", uuid, kube::PatchType::Merge,
                           json::object{{"status", json::object{{"state", "Available"}, {"power", "off"}}}}, done, true);
  });
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(run_until([&] { return state() == "available" && status("poweredOn") == false; }));
  EXPECT_EQ(bmc().count("power on"), 1u) << "the linked Server's BMC controller drives the power from here";
}

TEST_F(BmhControllerTest, DeletingTheHostRemovesItsAnnotationsFromTheLinkedServerOnly) {
  const std::string uuid = "4c4c4544-0035-4410-8057-b4c04f4a3599";
  create("servers", "Server", uuid,
         json::parse(R"({"accepted":false,"hardware":{
             "storage":{"devices":[{"type":"SSD","size":240057409536,"name":"sda","deviceName":"/dev/sda"}]},
             "network":{"interfaces":[{"name":"eno1","mac":"52:54:00:12:34:56"}]}}})").as_object(),
         json::object{{"power", "on"}, {"state", "Available"}});
  auto r = call([&](auto done) {
    cluster.client().patch("servers", uuid, kube::PatchType::Merge,
                           json::parse(R"({"metadata":{"annotations":{"team":"infra"}}})"), done);
  });
  ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  secret("admin", "password");
  host();
  start();
  auto annotations = [&]() -> json::object {
    const auto* s = in(cluster.servers(), uuid);
    const auto* a = s ? objects::annotations_of(*s) : nullptr;
    return a ? *a : json::object{};
  };
  ASSERT_TRUE(run_until([&] { return annotations().contains(kInstallDiskAnnotation); }));
  const json::value spec_before = in(cluster.servers(), uuid)->at("spec");

  r = call([&](auto done) { cluster.client().remove(hosts(), "worker-0", done); });
  ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  ASSERT_TRUE(run_until([&] { return !annotations().contains(kBmhAnnotation); })) << json::serialize(annotations());
  EXPECT_EQ(annotations(), (json::object{{"team", "infra"}}));
  EXPECT_EQ(in(cluster.servers(), uuid)->at("spec"), spec_before) << "accepted, online and spec.bmc stay";
}

TEST_F(BmhControllerTest, AtStartAServerNamingADeletedHostIsUnlinked) {
  // Deleted while ironboot was down: one Server names a host that no longer exists, one names
  // worker-0 (which does).
  create("servers", "Server", "00000000-0000-0000-0000-000000000001",
         json::parse(R"({"accepted":true,"hardware":{"network":{"interfaces":[{"mac":"52:54:00:00:00:01"}]}}})").as_object());
  create("servers", "Server", "00000000-0000-0000-0000-000000000002",
         json::parse(R"({"accepted":true,"hardware":{"network":{"interfaces":[{"mac":"52:54:00:12:34:56"}]}}})").as_object());
  auto annotate = [&](const char* server, const char* host) {
    auto r = call([&](auto done) {
      cluster.client().patch("servers", server, kube::PatchType::Merge,
                             json::object{{"metadata", {{"annotations", {{kBmhAnnotation, host}, {kInstallDiskAnnotation, "/dev/sda"}}}}}},
                             done);
    });
    ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  };
  annotate("00000000-0000-0000-0000-000000000001", "metal3/gone");
  annotate("00000000-0000-0000-0000-000000000002", "metal3/worker-0");
  secret("admin", "password");
  host();
  ASSERT_TRUE(run_until([&] { return cluster.servers().size() == 2; }));
  start();
  auto annotations = [&](const char* name) {
    const auto* s = in(cluster.servers(), name);
    const auto* a = s ? objects::annotations_of(*s) : nullptr;
    return a ? *a : json::object{};
  };
  ASSERT_TRUE(run_until([&] { return annotations("00000000-0000-0000-0000-000000000001").empty(); }))
      << json::serialize(annotations("00000000-0000-0000-0000-000000000001"));
  run_for(100ms);
  EXPECT_EQ(annotations("00000000-0000-0000-0000-000000000002").at(kBmhAnnotation), "metal3/worker-0");
}

TEST_F(BmhControllerTest, AServerKnownBeforeTheHostIsLinkedWithoutPoweringAnythingOn) {
  const std::string uuid = "4c4c4544-0035-4410-8057-b4c04f4a3599";
  // Two Servers; the second carries the boot MAC, spelled differently.
  create("servers", "Server", "00000000-0000-0000-0000-000000000001",
         json::parse(R"({"accepted":false,"hardware":{"network":{"interfaces":[{"mac":"52:54:00:00:00:01"}]}}})").as_object());
  create("servers", "Server", uuid,
         json::parse(R"({"accepted":false,"hardware":{"network":{"interfaces":[{"mac":"52-54-00-12-34-56"}]}}})").as_object(),
         json::object{{"power", "off"}});
  ASSERT_TRUE(run_until([&] { return cluster.servers().size() == 2; }));
  secret("admin", "password");
  start();
  host();
  ASSERT_TRUE(run_until([&] { return status("provisioning").is_object() && status("provisioning").as_object().contains("ID"); }));
  EXPECT_EQ(status("provisioning").at("ID"), json::value(uuid));
  EXPECT_EQ(status("poweredOn"), false);
  run_for(100ms);
  EXPECT_TRUE(bmc().calls.empty()) << "a linked host's power is its Server's BMC controller's";
}

TEST_F(BmhControllerTest, ADeletedHostEndsItsSequenceWithoutPoweringOn) {
  bmc().delay = 100ms;
  secret("admin", "password");
  host();
  start();
  ASSERT_TRUE(run_until([&] { return !bmc().calls.empty(); }));
  auto r = call([&](auto done) { cluster.client().remove(hosts(), "worker-0", done); });
  ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  run_for(500ms);
  EXPECT_EQ(bmc().count("power on"), 0u) << ::testing::PrintToString(bmc().calls);
  EXPECT_GE(bmc().count("close"), 1u);
  EXPECT_EQ(controller->scheduler().in_flight(), 0u);
}

TEST_F(BmhControllerTest, AfterARestartAnInspectingHostIsOnlyReadNotPoweredOnAgain) {
  secret("admin", "password");
  host();
  auto r = call([&](auto done) {
    cluster.client().patch(hosts(), "worker-0", kube::PatchType::Merge,
                           json::parse(R"({"status":{"operationalStatus":"OK","poweredOn":false,
                               "provisioning":{"state":"inspecting"}}})"), done, true);
  });
  ASSERT_TRUE(r.ok()) << r.status << " " << r.message;
  bmc().power = bmc::PowerState::On;
  start();
  ASSERT_TRUE(run_until([&] { return status("poweredOn") == true; })) << status("poweredOn");
  EXPECT_EQ(state(), "inspecting");
  EXPECT_EQ(bmc().count("power on"), 0u);
  EXPECT_EQ(bmc().count("power cycle"), 0u);
  EXPECT_EQ(bmc().count("boot pxe once uefi"), 0u);
}

}  // namespace
}  // namespace ironboot::discovery
