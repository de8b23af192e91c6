// The Redfish documents of the vendor profiles tests/lib/redfish_mock.py serves (shaped like
// DMTF's public mockups and the anchors' bug reports), and hostile variants of them.
#include "bmc/redfish_codec.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ironboot::bmc::redfish {
namespace {

// DMTF public-rackmount1-like ComputerSystem.
const char* kDmtfSystem = R"({
  "@odata.id": "/redfish/v1/Systems/437XR1138R2",
  "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
  "@odata.etag": "W/\"1a2b3c\"",
  "Id": "437XR1138R2",
  "PowerState": "On",
  "Boot": {
    "BootSourceOverrideEnabled": "Disabled",
    "BootSourceOverrideTarget": "None",
    "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Cd", "Usb", "Hdd", "BiosSetup", "UefiTarget"],
    "BootSourceOverrideEnabled@Redfish.AllowableValues": ["Disabled", "Once", "Continuous"],
    "BootSourceOverrideMode": "UEFI",
    "BootSourceOverrideMode@Redfish.AllowableValues": ["Legacy", "UEFI"]
  },
  "Actions": {
    "#ComputerSystem.Reset": {
      "target": "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset",
      "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn", "PushPowerButton", "PowerCycle"]
    }
  }
})";

// Supermicro X10: no BootSourceOverrideMode, no AllowableValues for Enabled.
const char* kSupermicroX10System = R"({
  "@odata.id": "/redfish/v1/Systems/1",
  "PowerState": "Off",
  "Boot": {
    "BootSourceOverrideEnabled": "Disabled",
    "BootSourceOverrideTarget": "None",
    "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Hdd", "Cd", "BiosSetup"]
  },
  "Actions": {"#ComputerSystem.Reset": {"target": "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
    "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn"]}}
})";

TEST(RedfishServiceRoot, LinksOfADmtfRoot) {
  auto root = parse_service_root(R"({"@odata.id": "/redfish/v1/", "RedfishVersion": "1.15.0",
    "Systems": {"@odata.id": "/redfish/v1/Systems"},
    "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
    "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}}})");
  ASSERT_TRUE(root) << root.error;
  EXPECT_EQ(root.value->systems_path, "/redfish/v1/Systems");
  EXPECT_EQ(root.value->sessions_path, "/redfish/v1/SessionService/Sessions");
  EXPECT_EQ(root.value->redfish_version, "1.15.0");
}

TEST(RedfishServiceRoot, OldServiceWithoutLinksSessionsUsesTheSessionService) {
  auto root = parse_service_root(R"({"@odata.id": "/redfish/v1/", "Systems": {"@odata.id": "/redfish/v1/Systems"},
    "SessionService": {"@odata.id": "/redfish/v1/SessionService"}})");
  ASSERT_TRUE(root);
  EXPECT_EQ(root.value->sessions_path, "/redfish/v1/SessionService/Sessions");
}

TEST(RedfishServiceRoot, NoSessionServiceMeansNoSessionPath) {
  auto root = parse_service_root(R"({"@odata.id": "/redfish/v1/", "Systems": {"@odata.id": "/redfish/v1/Systems"}})");
  ASSERT_TRUE(root);
  EXPECT_EQ(root.value->sessions_path, "");
}

TEST(RedfishServiceRoot, RefusesWhatIsNotARedfishRoot) {
  EXPECT_FALSE(parse_service_root("<html>login</html>"));
  EXPECT_FALSE(parse_service_root("[]"));
  EXPECT_FALSE(parse_service_root(R"({"hello": "world"})"));
  EXPECT_FALSE(parse_service_root(""));
}

TEST(RedfishServiceRoot, LinksThatAreNotPathsAreIgnored) {
  auto root = parse_service_root(R"J({"@odata.id": "/redfish/v1/", "Systems": {"@odata.id": "//evil.example/x"},
    "Links": {"Sessions": {"@odata.id": "javascript:alert(1)"}}})J");
  ASSERT_TRUE(root);
  EXPECT_EQ(root.value->systems_path, "");
  EXPECT_EQ(root.value->sessions_path, "");
}

TEST(RedfishSystems, MembersInOrder) {
  auto members = parse_systems_collection(R"({"Members": [{"@odata.id": "/redfish/v1/Systems/1"},
    {"@odata.id": "https://10.0.0.5/redfish/v1/Systems/2"}, {"nope": 1}, 7], "Members@odata.count": 2})");
  ASSERT_TRUE(members) << members.error;
  ASSERT_EQ(members.value->size(), 2u);
  EXPECT_EQ(members.value->at(0), "/redfish/v1/Systems/1");
  EXPECT_EQ(members.value->at(1), "/redfish/v1/Systems/2");
}

TEST(RedfishSystems, EmptyCollectionIsAnError) {
  auto members = parse_systems_collection(R"({"Members": [], "Members@odata.count": 0})");
  EXPECT_FALSE(members);
  EXPECT_NE(members.error.find("no members"), std::string::npos);
}

TEST(RedfishComputerSystem, DmtfSystemCapabilities) {
  auto sys = parse_computer_system(kDmtfSystem);
  ASSERT_TRUE(sys) << sys.error;
  EXPECT_EQ(sys.value->power, PowerState::On);
  EXPECT_EQ(sys.value->etag, "W/\"1a2b3c\"");
  const auto& b = sys.value->boot;
  EXPECT_TRUE(b.present);
  EXPECT_TRUE(b.has_mode);
  EXPECT_EQ(b.mode, "UEFI");
  EXPECT_EQ(b.target_allowed.size(), 7u);
  EXPECT_EQ(b.enabled_allowed.size(), 3u);
  EXPECT_EQ(b.mode_allowed, (std::vector<std::string>{"Legacy", "UEFI"}));
  EXPECT_EQ(sys.value->reset.target, "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset");
  EXPECT_EQ(sys.value->reset.allowed.size(), 9u);
}

TEST(RedfishComputerSystem, SupermicroX10HasNoMode) {
  auto sys = parse_computer_system(kSupermicroX10System);
  ASSERT_TRUE(sys) << sys.error;
  EXPECT_EQ(sys.value->power, PowerState::Off);
  EXPECT_FALSE(sys.value->boot.has_mode);
  EXPECT_TRUE(sys.value->boot.enabled_allowed.empty());
  EXPECT_EQ(sys.value->etag, "");
}

TEST(RedfishComputerSystem, DellReadOnlyModeStillParsesAsPresent) {
  // iDRAC lists the Mode without AllowableValues; its read-only-ness shows only in the 400.
  auto sys = parse_computer_system(R"({"PowerState": "On", "Boot": {"BootSourceOverrideMode": "UEFI",
    "BootSourceOverrideTarget": "None", "BootSourceOverrideEnabled": "Disabled"},
    "Actions": {"#ComputerSystem.Reset": {"target": "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset"}}})");
  ASSERT_TRUE(sys);
  EXPECT_TRUE(sys.value->boot.has_mode);
  EXPECT_TRUE(sys.value->boot.mode_allowed.empty());
  EXPECT_TRUE(sys.value->reset.allowed.empty());
}

TEST(RedfishComputerSystem, PowerStateSpellings) {
  EXPECT_EQ(power_state_of("On"), PowerState::On);
  EXPECT_EQ(power_state_of("PoweringOn"), PowerState::On);
  EXPECT_EQ(power_state_of("Off"), PowerState::Off);
  EXPECT_EQ(power_state_of("PoweringOff"), PowerState::Off);
  EXPECT_EQ(power_state_of("Paused"), PowerState::Unknown);
  EXPECT_EQ(power_state_of("on"), PowerState::Unknown);  // enum values are case-sensitive
  EXPECT_EQ(power_state_of(""), PowerState::Unknown);
}

TEST(RedfishComputerSystem, MalformedInputs) {
  EXPECT_FALSE(parse_computer_system("{"));
  EXPECT_FALSE(parse_computer_system("null"));
  EXPECT_FALSE(parse_computer_system(R"({"Id": "1"})"));  // nothing to control
  // Wrong types are ignored, not trusted.
  auto sys = parse_computer_system(R"({"PowerState": 1, "Boot": {"BootSourceOverrideTarget": ["Pxe"],
    "BootSourceOverrideTarget@Redfish.AllowableValues": "Pxe"}, "Actions": {"#ComputerSystem.Reset": {"target": 5}}})");
  ASSERT_TRUE(sys);
  EXPECT_EQ(sys.value->power_state, "");
  EXPECT_EQ(sys.value->boot.target, "");
  EXPECT_TRUE(sys.value->boot.target_allowed.empty());
  EXPECT_EQ(sys.value->reset.target, "");
  // Control characters (header injection through a path) are dropped.
  auto evil = parse_computer_system(R"({"PowerState": "On", "Actions": {"#ComputerSystem.Reset":
    {"target": "/redfish/v1/x\r\nX-Evil: 1"}}})");
  ASSERT_TRUE(evil);
  EXPECT_EQ(evil.value->reset.target, "");
}

TEST(RedfishComputerSystem, BoundsSizeAndDepth) {
  std::string huge = R"({"PowerState": "On", "pad": ")" + std::string(kMaxDocumentBytes, 'x') + "\"}";
  auto big = parse_computer_system(huge);
  EXPECT_FALSE(big);
  EXPECT_NE(big.error.find("too large"), std::string::npos);
  std::string deep = R"({"PowerState": "On", "x": )" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_FALSE(parse_computer_system(deep));
  std::string many = R"({"PowerState": "On", "Boot": {"BootSourceOverrideTarget@Redfish.AllowableValues": [)";
  for (int i = 0; i < 1000; ++i) many += (i ? ",\"v" : "\"v") + std::to_string(i) + "\"";
  many += "]}}";
  auto sys = parse_computer_system(many);
  ASSERT_TRUE(sys);
  EXPECT_EQ(sys.value->boot.target_allowed.size(), kMaxListItems);
}

TEST(RedfishError, DellReadOnlyModeNamesTheProperty) {
  // iDRAC 13th generation's answer to a PATCH carrying BootSourceOverrideMode.
  auto e = parse_error(R"({"error": {"@Message.ExtendedInfo": [
    {"Message": "Unable to modify the attribute because the attribute is read-only and depends on other attributes.",
     "MessageId": "IDRAC.1.6.SYS410", "RelatedProperties": ["#/Boot/BootSourceOverrideMode"], "Severity": "Warning"}],
    "code": "Base.1.2.GeneralError", "message": "A general error has occurred. See ExtendedInfo for more information"}})");
  EXPECT_EQ(e.code, "Base.1.2.GeneralError");
  ASSERT_EQ(e.extended.size(), 1u);
  EXPECT_EQ(e.extended[0].message_id, "IDRAC.1.6.SYS410");
  EXPECT_TRUE(e.concerns("BootSourceOverrideMode"));
  EXPECT_FALSE(e.concerns("BootSourceOverrideTarget"));
  EXPECT_NE(e.summary().find("IDRAC.1.6.SYS410"), std::string::npos);
  EXPECT_NE(e.summary().find("#/Boot/BootSourceOverrideMode"), std::string::npos);
}

TEST(RedfishError, NonJsonBodyBecomesABoundedMessage) {
  auto e = parse_error("<html>\n<body>502 Bad Gateway</body></html>");
  EXPECT_EQ(e.message.find('\n'), std::string::npos);
  EXPECT_NE(e.message.find("502"), std::string::npos);
  EXPECT_LE(parse_error(std::string(5000, 'z')).message.size(), 200u);
}

TEST(RedfishError, SummaryIsBounded) {
  std::string body = R"({"error": {"code": "c", "message": "m", "@Message.ExtendedInfo": [)";
  for (int i = 0; i < 200; ++i) body += std::string(i ? "," : "") + R"({"MessageId": "Base.1.0.X", "Message": ")" + std::string(100, 'y') + "\"}";
  body += "]}}";
  EXPECT_LE(parse_error(body).summary().size(), 400u);
}

TEST(RedfishTask, StatesAndMessages) {
  auto t = parse_task(R"({"@odata.type": "#Task.v1_4_3.Task", "TaskState": "Exception",
    "Messages": [{"MessageId": "Base.1.8.InternalError", "Message": "The request failed due to an internal service error."}]})");
  ASSERT_TRUE(t) << t.error;
  EXPECT_TRUE(t.value->failed());
  EXPECT_TRUE(t.value->done());
  ASSERT_EQ(t.value->messages.size(), 1u);
  auto running = parse_task(R"({"TaskState": "Running"})");
  ASSERT_TRUE(running);
  EXPECT_FALSE(running.value->done());
  EXPECT_FALSE(parse_task(R"({"@Message.ExtendedInfo": []})"));  // a plain success body is no task
}

TEST(RedfishSession, TokenAndLocation) {
  auto s = parse_session_created("abc123", "https://10.0.0.5/redfish/v1/SessionService/Sessions/7", "");
  ASSERT_TRUE(s) << s.error;
  EXPECT_EQ(s.value->token, "abc123");
  EXPECT_EQ(s.value->path, "/redfish/v1/SessionService/Sessions/7");
}

TEST(RedfishSession, BodyIdWhenTheLocationIsMissing) {
  auto s = parse_session_created("t", "", R"({"@odata.id": "/redfish/v1/SessionService/Sessions/3", "UserName": "admin"})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s.value->path, "/redfish/v1/SessionService/Sessions/3");
}

TEST(RedfishSession, RefusesAnswersWithoutTokenOrLogoutPath) {
  EXPECT_FALSE(parse_session_created("", "/redfish/v1/SessionService/Sessions/1", ""));
  EXPECT_FALSE(parse_session_created("tok en", "/redfish/v1/SessionService/Sessions/1", ""));
  EXPECT_FALSE(parse_session_created("tok", "", "{}"));
}

TEST(RedfishSession, SessionLimitAnswers) {
  EXPECT_TRUE(is_session_limit(503, {}));
  RedfishError supermicro;
  supermicro.extended.push_back({"Base.1.4.SessionLimitExceeded", "The session establishment failed", {}});
  EXPECT_TRUE(is_session_limit(400, supermicro));
  auto text = parse_error(R"({"error": {"code": "Base.1.0.GeneralError",
    "message": "Failed to create session: the maximum number of user sessions is reached"}})");
  EXPECT_TRUE(is_session_limit(400, text));
  EXPECT_FALSE(is_session_limit(401, parse_error(R"({"error": {"code": "Base.1.0.NoValidSession"}})")));
}

TEST(RedfishUri, PathsOnly) {
  EXPECT_EQ(uri_path("/redfish/v1/Systems/1?$expand=.#x"), "/redfish/v1/Systems/1");
  EXPECT_EQ(uri_path("HTTPS://bmc:8443/redfish/v1/"), "/redfish/v1/");
  EXPECT_EQ(uri_path("ftp://bmc/redfish/v1/"), "");
  EXPECT_EQ(uri_path("//other/redfish"), "");
  EXPECT_EQ(uri_path("redfish/v1"), "");
  EXPECT_EQ(uri_path("/redfish/v1/Systems/a b"), "");  // would break the request line
  EXPECT_EQ(uri_path("/redfish/v1/Systems/\xc3\xa9"), "");
  EXPECT_EQ(uri_path("/redfish/v1/Systems/%C3%A9"), "/redfish/v1/Systems/%C3%A9");
  EXPECT_EQ(uri_path(""), "");
}

}  // namespace
}  // namespace ironboot::bmc::redfish
