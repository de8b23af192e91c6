#include "discovery/baremetalhost.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace ironboot::discovery {
namespace {

namespace json = boost::json;

// The course material's host, in namespace metal3.
json::object course_host(const char* hints = R"({"deviceName":"/dev/sda","minSizeGigabytes":100})") {
  return json::parse(std::string(R"({"apiVersion":"metal3.io/v1alpha1","kind":"BareMetalHost",
      "metadata":{"name":"worker-0","namespace":"metal3"},
      "spec":{"online":true,"bootMACAddress":"52:54:00:12:34:56",
              "bmc":{"address":"ipmi://10.0.100.10","credentialsName":"worker-0-bmc-secret"},
              "rootDeviceHints":)") + hints + "}}")
      .as_object();
}

// A Server as the agent's report leaves it (docs/agent-api.md units).
json::object inspected_server(const char* power = "on") {
  auto s = json::parse(R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"Server",
      "metadata":{"name":"4c4c4544-0035-4410-8057-b4c04f4a3599"},
      "spec":{"hardware":{
        "system":{"manufacturer":"Dell Inc.","productName":"PowerEdge R640","serialNumber":"5D8WXY2"},
        "compute":{"totalThreadCount":64,"processors":[{"productName":"Xeon Gold 6130","speed":2800}]},
        "memory":{"modules":[{"size":32768},{"size":32768}]},
        "storage":{"devices":[{"type":"SSD","size":240057409536,"productName":"Micron 5100","serialNumber":"S1","name":"sda","deviceName":"/dev/sda"},
                              {"type":"HDD","size":4000787030016,"productName":"ST4000NM","serialNumber":"S2","name":"sdb","wwid":"0x5000c500a1b2c3d4"}]},
        "network":{"interfaces":[{"name":"eno1","mac":"52:54:00:AA:BB:CC","addresses":["10.0.0.5/24"]},
                                 {"name":"eno2","mac":"52-54-00-12-34-56","addresses":[]}]}}},
      "status":{}})")
               .as_object();
  s["status"].as_object()["power"] = power;
  return s;
}

const json::object& provisioning(const BmhPlan& p) { return p.status.at("provisioning").as_object(); }

TEST(BareMetalHost, RegisteringPowersOnIntoPxeOnce) {
  BmhInput in{course_host(), std::nullopt, nullptr, false, std::nullopt, std::nullopt};
  auto plan = reconcile_bmh(in);
  EXPECT_TRUE(plan.power_on_pxe);
  EXPECT_EQ(provisioning(plan).at("state"), "registering");
  EXPECT_EQ(plan.status.at("operationalStatus"), "OK");
  EXPECT_EQ(plan.status.at("errorType"), "");
  EXPECT_TRUE(plan.link_server.empty());
  EXPECT_TRUE(plan.server_bmc.empty());
  EXPECT_EQ(provisioning(plan).at("rootDeviceHints"), json::parse(R"({"deviceName":"/dev/sda","minSizeGigabytes":100})"));

  // Sent once: the agent is booting, the host is inspecting and nothing is sent again.
  in.power_on_sent = true;
  plan = reconcile_bmh(in);
  EXPECT_FALSE(plan.power_on_pxe);
  EXPECT_EQ(provisioning(plan).at("state"), "inspecting");

  // After a restart of ironboot the host's status says it was sent: not powered on again.
  in.power_on_sent = false;
  in.host["status"] = json::object{{"provisioning", json::object{{"state", "inspecting"}}}};
  plan = reconcile_bmh(in);
  EXPECT_FALSE(plan.power_on_pxe);
  EXPECT_EQ(provisioning(plan).at("state"), "inspecting");
  in.host["status"] = json::object{{"provisioning", json::object{{"state", "registering"}}}};
  EXPECT_TRUE(reconcile_bmh(in).power_on_pxe);
}

TEST(BareMetalHost, AnOfflineHostIsNotPoweredOnAndStaysRegistering) {
  BmhInput in{course_host(), std::nullopt, nullptr, false, std::nullopt, false};
  in.host["spec"].as_object()["online"] = false;
  auto plan = reconcile_bmh(in);
  EXPECT_FALSE(plan.power_on_pxe);
  EXPECT_EQ(provisioning(plan).at("state"), "registering");
  EXPECT_EQ(plan.status.at("operationalStatus"), "OK");
  EXPECT_EQ(plan.status.at("poweredOn"), false);
  EXPECT_FALSE(plan.power_off);
  in.bmc_powered_on = true;
  plan = reconcile_bmh(in);
  EXPECT_TRUE(plan.power_off) << "found on: powered off, as Metal3 keeps an offline host off";
  EXPECT_FALSE(plan.power_on_pxe);
  in.host["spec"].as_object()["online"] = true;
  plan = reconcile_bmh(in);
  EXPECT_TRUE(plan.power_on_pxe) << "registered once the operator turns it online";
  EXPECT_FALSE(plan.power_off);
}

TEST(BareMetalHost, BmcOrCredentialFailureIsARegistrationError) {
  BmhInput in{course_host(), std::nullopt, nullptr, true, std::string("AuthFailed: RAKP 2: unauthorized name"), std::nullopt};
  auto plan = reconcile_bmh(in);
  EXPECT_FALSE(plan.power_on_pxe);
  EXPECT_EQ(provisioning(plan).at("state"), "registering");
  EXPECT_EQ(plan.status.at("operationalStatus"), "error");
  EXPECT_EQ(plan.status.at("errorType"), "registration error");
  EXPECT_EQ(plan.status.at("errorMessage"), "BMC: AuthFailed: RAKP 2: unauthorized name");

  BmhInput no_secret{course_host(), std::string("secret metal3/worker-0-bmc-secret not found"), nullptr, false, std::nullopt, std::nullopt};
  plan = reconcile_bmh(no_secret);
  EXPECT_FALSE(plan.power_on_pxe) << "no power-on without credentials";
  EXPECT_EQ(plan.status.at("errorMessage"), "credentials: secret metal3/worker-0-bmc-secret not found");

  // Once linked, a BMC failure is a power management error and the host keeps its facts.
  const auto server = inspected_server();
  BmhInput linked{course_host(), std::nullopt, &server, true, std::string("Timeout: no answer"), std::nullopt};
  plan = reconcile_bmh(linked);
  EXPECT_EQ(plan.status.at("errorType"), "power management error");
  EXPECT_EQ(provisioning(plan).at("state"), "registering");
  EXPECT_TRUE(plan.status.contains("hardware"));
}

TEST(BareMetalHost, MatchedServerIsLinkedMirroredAndAvailable) {
  const auto server = inspected_server("on");
  ASSERT_TRUE(server_has_mac(server, "52:54:00:12:34:56"));
  BmhInput in{course_host(), std::nullopt, &server, true, std::nullopt, std::nullopt};
  auto plan = reconcile_bmh(in);
  EXPECT_FALSE(plan.power_on_pxe);
  EXPECT_EQ(plan.link_server, "4c4c4544-0035-4410-8057-b4c04f4a3599");
  EXPECT_EQ(provisioning(plan).at("state"), "available");
  EXPECT_EQ(provisioning(plan).at("ID"), "4c4c4544-0035-4410-8057-b4c04f4a3599");
  EXPECT_EQ(provisioning(plan).at("installTarget"), "/dev/sda");
  EXPECT_EQ(plan.status.at("poweredOn"), true);
  EXPECT_EQ(plan.status.at("operationalStatus"), "OK");
  // The Server gets the host's BMC, its credentials from the host's Secret.
  EXPECT_EQ(json::value(plan.server_bmc), json::parse(R"({"endpoint":"ipmi://10.0.100.10",
      "userFrom":{"secretKeyRef":{"namespace":"metal3","name":"worker-0-bmc-secret","key":"username"}},
      "passFrom":{"secretKeyRef":{"namespace":"metal3","name":"worker-0-bmc-secret","key":"password"}}})"));

  const auto& hw = plan.status.at("hardware").as_object();
  EXPECT_EQ(hw.at("systemVendor"), json::parse(R"({"manufacturer":"Dell Inc.","productName":"PowerEdge R640","serialNumber":"5D8WXY2"})"));
  EXPECT_EQ(hw.at("ramMebibytes"), 65536);
  EXPECT_EQ(hw.at("cpu"), json::parse(R"({"count":64,"model":"Xeon Gold 6130","clockMegahertz":2800.0})"));
  const auto& nics = hw.at("nics").as_array();
  ASSERT_EQ(nics.size(), 2u);
  EXPECT_EQ(nics[0], json::parse(R"({"name":"eno1","mac":"52:54:00:AA:BB:CC","pxe":false,"ip":"10.0.0.5"})"));
  EXPECT_EQ(nics[1].at("pxe"), true) << "the boot MAC, spelled differently";
  const auto& storage = hw.at("storage").as_array();
  ASSERT_EQ(storage.size(), 2u);
  EXPECT_EQ(storage[1], json::parse(R"({"name":"/dev/sdb","model":"ST4000NM","serialNumber":"S2",
      "wwn":"0x5000c500a1b2c3d4","sizeBytes":4000787030016,"rotational":true})"));

  // Powered off per the Server's status.power.
  const auto off = inspected_server("off");
  in.server = &off;
  EXPECT_EQ(reconcile_bmh(in).status.at("poweredOn"), false);
}

TEST(BareMetalHost, ServerWithoutFactsYetIsInspecting) {
  auto server = inspected_server();
  server["spec"].as_object().erase("hardware");
  EXPECT_FALSE(server_has_mac(server, "52:54:00:12:34:56"));
  BmhInput in{course_host(), std::nullopt, &server, true, std::nullopt, std::nullopt};
  auto plan = reconcile_bmh(in);
  EXPECT_EQ(provisioning(plan).at("state"), "inspecting");
  EXPECT_FALSE(plan.status.contains("hardware"));
  EXPECT_FALSE(plan.link_server.empty());
}

TEST(BareMetalHost, MacMatchingIgnoresSpellingAndRejectsGarbage) {
  const auto server = inspected_server();
  EXPECT_TRUE(server_has_mac(server, "52-54-00-aa-bb-cc"));
  EXPECT_FALSE(server_has_mac(server, "52:54:00:aa:bb:cd"));
  EXPECT_FALSE(server_has_mac(server, ""));
  EXPECT_FALSE(server_has_mac(server, "52:54:00"));
  EXPECT_EQ(server_mac_keys(server), (std::vector<std::string>{"525400aabbcc", "525400123456"}));
  EXPECT_EQ(mac_key("52-54-00-AB-cd-EF"), "525400abcdef");
}

TEST(BareMetalHost, RootDeviceHintsSelectTheInstallTarget) {
  const auto server = inspected_server();
  const auto& hardware = server.at("spec").at("hardware").as_object();
  auto target = [&](const char* hints) { return select_install_target(json::parse(hints).as_object(), hardware); };
  EXPECT_EQ(target("{}"), "/dev/sda");
  EXPECT_EQ(target(R"({"minSizeGigabytes":1000})"), "/dev/sdb");
  EXPECT_EQ(target(R"({"serialNumber":"S2"})"), "/dev/sdb");
  EXPECT_EQ(target(R"({"wwn":"0x5000c500a1b2c3d4"})"), "/dev/sdb");
  EXPECT_EQ(target(R"({"deviceName":"/dev/sdb"})"), "/dev/sdb");
  EXPECT_EQ(target(R"({"rotational":false})"), "/dev/sda");
  EXPECT_EQ(target(R"({"model":"Micron"})"), "/dev/sda");
  EXPECT_EQ(target(R"({"deviceName":"/dev/sda","minSizeGigabytes":1000})"), std::nullopt) << "every hint, one disk";
  EXPECT_EQ(target(R"({"hctl":"0:0:0:0"})"), std::nullopt) << "an uncheckable hint matches nothing";
  EXPECT_EQ(target(R"({"minSizeGigabytes":"big"})"), std::nullopt);

  // No disk matching is an inspection error on an otherwise healthy host.
  BmhInput in{course_host(R"({"serialNumber":"nope"})"), std::nullopt, &server, true, std::nullopt, std::nullopt};
  auto plan = reconcile_bmh(in);
  EXPECT_EQ(plan.status.at("errorType"), "inspection error");
  EXPECT_EQ(provisioning(plan).at("installTarget"), "");
  EXPECT_EQ(provisioning(plan).at("state"), "inspecting");
}

TEST(BareMetalHost, PoweredOnFromTheBmcUntilAServerIsLinked) {
  BmhInput in{course_host(), std::nullopt, nullptr, true, std::nullopt, true};
  EXPECT_EQ(reconcile_bmh(in).status.at("poweredOn"), true);
  in.bmc_powered_on = false;
  EXPECT_EQ(reconcile_bmh(in).status.at("poweredOn"), false);
  // Linked: the Server's status.power wins over the controller's own reading.
  const auto server = inspected_server("off");
  in.server = &server;
  in.bmc_powered_on = true;
  EXPECT_EQ(reconcile_bmh(in).status.at("poweredOn"), false);
}

TEST(BareMetalHost, LinkedServerLifecycleIsMetal3sState) {
  auto host = course_host();
  auto state_for = [&](const char* server_state, const char* previous = "") {
    auto server = inspected_server();
    server["status"].as_object()["state"] = server_state;
    server["status"].as_object()["errorMessage"] = "agent never came up";
    host["status"] = json::object{{"provisioning", json::object{{"state", previous}}}};
    BmhInput in{host, std::nullopt, &server, true, std::nullopt, std::nullopt};
    const auto plan = reconcile_bmh(in);
    return std::string(provisioning(plan).at("state").as_string()) + "/" +
           std::string(plan.status.at("errorType").as_string());
  };
  EXPECT_EQ(state_for("Inspecting"), "inspecting/");
  EXPECT_EQ(state_for("Deprovisioning", "inspecting"), "preparing/") << "accepted: cleaning on the way to available";
  EXPECT_EQ(state_for("Available", "preparing"), "available/");
  EXPECT_EQ(state_for("Provisioning", "available"), "provisioning/");
  EXPECT_EQ(state_for("Provisioned", "provisioning"), "provisioned/");
  EXPECT_EQ(state_for("Deprovisioning", "provisioned"), "deprovisioning/");
  EXPECT_EQ(state_for("Deprovisioning", "deprovisioning"), "deprovisioning/");
  EXPECT_EQ(state_for("Error", "preparing"), "preparing/provisioning error");
  EXPECT_EQ(state_for(""), "available/") << "a Server no lifecycle controller looked at yet";
}

TEST(BareMetalHost, LinkPatchAcceptsAndAnnotatesTheServerOnce) {
  const auto host = course_host();
  auto server = inspected_server();
  BmhInput in{host, std::nullopt, &server, true, std::nullopt, std::nullopt};
  auto plan = reconcile_bmh(in);
  auto patch = server_link_patch(host, server, plan);
  EXPECT_EQ(patch.at("spec").at("accepted"), true);
  EXPECT_EQ(patch.at("spec").at("online"), true);
  EXPECT_EQ(patch.at("spec").at("bmc"), json::value(plan.server_bmc));
  EXPECT_EQ(patch.at("metadata").at("annotations"),
            json::parse(R"({"ironboot.dev/baremetalhost":"metal3/worker-0","ironboot.dev/install-disk":"/dev/sda"})"));

  // Applied: nothing more to write.
  json::value applied = server;
  auto& spec = applied.as_object()["spec"].as_object();
  for (const auto& [k, v] : patch.at("spec").as_object()) spec[k] = v;
  applied.as_object()["metadata"].as_object()["annotations"] = patch.at("metadata").at("annotations");
  in.server = &applied.as_object();
  plan = reconcile_bmh(in);
  EXPECT_TRUE(server_link_patch(host, applied.as_object(), plan).empty());

  // An operator's own spec.bmc (no link annotation) is left alone; the rest is still written.
  auto own = inspected_server();
  own["spec"].as_object()["bmc"] = json::object{{"endpoint", "10.9.9.9"}};
  in.server = &own;
  plan = reconcile_bmh(in);
  patch = server_link_patch(host, own, plan);
  EXPECT_FALSE(patch.at("spec").as_object().contains("bmc"));
  EXPECT_EQ(patch.at("spec").at("accepted"), true);

  // Nothing linked, nothing to patch.
  in.server = nullptr;
  EXPECT_TRUE(server_link_patch(host, server, reconcile_bmh(in)).empty());
}

TEST(BareMetalHost, UnlinkRemovesOnlyTheHostsAnnotations) {
  auto server = inspected_server();
  server["metadata"].as_object()["annotations"] = json::object{
      {kBmhAnnotation, "metal3/worker-0"}, {kInstallDiskAnnotation, "/dev/sda"}, {"team", "infra"}};
  EXPECT_EQ(json::value(server_unlink_patch("metal3/worker-0", server)),
            json::parse(R"({"metadata":{"annotations":{"ironboot.dev/baremetalhost":null,"ironboot.dev/install-disk":null}}})"));
  EXPECT_TRUE(server_unlink_patch("metal3/worker-1", server).empty()) << "another host's Server";
  server["metadata"].as_object()["annotations"].as_object().erase(kInstallDiskAnnotation);
  EXPECT_EQ(json::value(server_unlink_patch("metal3/worker-0", server)),
            json::parse(R"({"metadata":{"annotations":{"ironboot.dev/baremetalhost":null}}})"));
  server["metadata"].as_object().erase("annotations");
  EXPECT_TRUE(server_unlink_patch("metal3/worker-0", server).empty());
}

}  // namespace
}  // namespace ironboot::discovery
