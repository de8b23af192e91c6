// The ResetType table, the Boot PATCH bodies and the If-Match spellings of
// bmc/redfish_policy.hpp.
#include "bmc/redfish_policy.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace ironboot::bmc::redfish {
namespace {

using Steps = std::vector<std::string>;

ResetCapabilities reset_with(Steps allowed) { return {"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", std::move(allowed)}; }

const Steps kDmtfAll = {"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn", "PushPowerButton", "PowerCycle"};
// DMTF public-rackmount1: no PowerCycle.
const Steps kNoPowerCycle = {"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn", "PushPowerButton"};

TEST(RedfishResetPlan, StandardChoices) {
  auto all = reset_with(kDmtfAll);
  EXPECT_EQ(plan_reset(PowerAction::On, all, PowerState::Off).steps, Steps{"On"});
  EXPECT_EQ(plan_reset(PowerAction::Off, all, PowerState::On).steps, Steps{"ForceOff"});
  EXPECT_EQ(plan_reset(PowerAction::SoftOff, all, PowerState::On).steps, Steps{"GracefulShutdown"});
  EXPECT_EQ(plan_reset(PowerAction::Cycle, all, PowerState::On).steps, Steps{"PowerCycle"});
  EXPECT_EQ(plan_reset(PowerAction::HardReset, all, PowerState::On).steps, Steps{"ForceRestart"});
}

TEST(RedfishResetPlan, AlreadyThereIsNothingToDo) {
  auto all = reset_with(kDmtfAll);
  EXPECT_TRUE(plan_reset(PowerAction::On, all, PowerState::On).nothing_to_do());
  EXPECT_TRUE(plan_reset(PowerAction::Off, all, PowerState::Off).nothing_to_do());
  EXPECT_TRUE(plan_reset(PowerAction::SoftOff, all, PowerState::Off).nothing_to_do());
  // Unknown state: act.
  EXPECT_EQ(plan_reset(PowerAction::On, all, PowerState::Unknown).steps, Steps{"On"});
}

TEST(RedfishResetPlan, CycleWithoutPowerCycle) {
  auto rack = reset_with(kNoPowerCycle);
  EXPECT_EQ(plan_reset(PowerAction::Cycle, rack, PowerState::On).steps, Steps{"ForceRestart"});
  EXPECT_EQ(plan_reset(PowerAction::Cycle, rack, PowerState::Off).steps, Steps{"On"});
  auto bare = reset_with({"On", "ForceOff"});
  EXPECT_EQ(plan_reset(PowerAction::Cycle, bare, PowerState::On).steps, (Steps{"ForceOff", "On"}));
  EXPECT_EQ(plan_reset(PowerAction::Cycle, bare, PowerState::Unknown).steps, (Steps{"ForceOff", "On"}));
  // Even an off system with PowerCycle allowed is powered on, not "cycled".
  EXPECT_EQ(plan_reset(PowerAction::Cycle, reset_with(kDmtfAll), PowerState::Off).steps, Steps{"On"});
}

TEST(RedfishResetPlan, HardResetFallsBackToPowerCycle) {
  EXPECT_EQ(plan_reset(PowerAction::HardReset, reset_with({"On", "ForceOff", "PowerCycle"}), PowerState::On).steps,
            Steps{"PowerCycle"});
  auto none = plan_reset(PowerAction::HardReset, reset_with({"On", "ForceOff"}), PowerState::On);
  EXPECT_TRUE(none.steps.empty());
  EXPECT_NE(none.error.find("hard-reset"), std::string::npos);
}

TEST(RedfishResetPlan, OnFallsBackToForceOn) {
  EXPECT_EQ(plan_reset(PowerAction::On, reset_with({"ForceOn", "ForceOff"}), PowerState::Off).steps, Steps{"ForceOn"});
}

TEST(RedfishResetPlan, UnlistedMeansEveryStandardValue) {
  auto unlisted = reset_with({});
  EXPECT_EQ(plan_reset(PowerAction::Cycle, unlisted, PowerState::On).steps, Steps{"PowerCycle"});
  EXPECT_EQ(plan_reset(PowerAction::SoftOff, unlisted, PowerState::On).steps, Steps{"GracefulShutdown"});
}

TEST(RedfishResetPlan, NoResetActionOrNoAllowedValue) {
  EXPECT_FALSE(plan_reset(PowerAction::On, ResetCapabilities{}, PowerState::Off).error.empty());
  EXPECT_FALSE(plan_reset(PowerAction::SoftOff, reset_with({"On", "ForceOff"}), PowerState::On).error.empty());
  EXPECT_FALSE(plan_reset(PowerAction::Off, reset_with({"On", "GracefulShutdown"}), PowerState::On).error.empty());
}

boost::json::object boot_of(const std::string& body) { return boost::json::parse(body).as_object().at("Boot").as_object(); }

BootCapabilities dmtf_boot() {
  BootCapabilities b;
  b.present = true;
  b.target = "None";
  b.enabled = "Disabled";
  b.has_mode = true;
  b.mode = "UEFI";
  b.target_allowed = {"None", "Pxe", "Cd", "Usb", "Hdd", "BiosSetup"};
  b.enabled_allowed = {"Disabled", "Once", "Continuous"};
  b.mode_allowed = {"Legacy", "UEFI"};
  return b;
}

TEST(RedfishBootPlan, FullObjectThenTargetAndEnabledOnly) {
  auto plan = plan_boot_patch(dmtf_boot(), BootOverride{BootDevice::Pxe, BootMode::Uefi, false}, false);
  ASSERT_TRUE(plan.error.empty()) << plan.error;
  ASSERT_EQ(plan.bodies.size(), 2u);
  auto full = boot_of(plan.bodies[0]);
  EXPECT_EQ(full.at("BootSourceOverrideTarget"), "Pxe");
  EXPECT_EQ(full.at("BootSourceOverrideEnabled"), "Once");
  EXPECT_EQ(full.at("BootSourceOverrideMode"), "UEFI");
  auto minimal = boot_of(plan.bodies[1]);
  EXPECT_EQ(minimal.size(), 2u);
  EXPECT_FALSE(minimal.contains("BootSourceOverrideMode"));
}

TEST(RedfishBootPlan, DiskContinuousLegacy) {
  auto plan = plan_boot_patch(dmtf_boot(), BootOverride{BootDevice::Disk, BootMode::Legacy, true}, false);
  ASSERT_EQ(plan.bodies.size(), 2u);
  auto full = boot_of(plan.bodies[0]);
  EXPECT_EQ(full.at("BootSourceOverrideTarget"), "Hdd");
  EXPECT_EQ(full.at("BootSourceOverrideEnabled"), "Continuous");
  EXPECT_EQ(full.at("BootSourceOverrideMode"), "Legacy");
}

TEST(RedfishBootPlan, NoModePropertyMeansNoMode) {
  auto b = dmtf_boot();
  b.has_mode = false;
  b.mode.clear();
  b.mode_allowed.clear();
  auto plan = plan_boot_patch(b, BootOverride{}, false);
  ASSERT_EQ(plan.bodies.size(), 1u);
  EXPECT_FALSE(boot_of(plan.bodies[0]).contains("BootSourceOverrideMode"));
}

TEST(RedfishBootPlan, ModeKnownReadOnlyIsOmitted) {
  auto plan = plan_boot_patch(dmtf_boot(), BootOverride{}, true);
  ASSERT_EQ(plan.bodies.size(), 1u);
  EXPECT_FALSE(boot_of(plan.bodies[0]).contains("BootSourceOverrideMode"));
}

TEST(RedfishBootPlan, ModeNotAllowed) {
  auto b = dmtf_boot();
  b.mode_allowed = {"UEFI"};
  EXPECT_EQ(plan_boot_patch(b, BootOverride{BootDevice::Pxe, BootMode::Uefi, false}, false).bodies.size(), 2u);
  // Asked for a mode the firmware cannot switch to.
  auto other = plan_boot_patch(b, BootOverride{BootDevice::Pxe, BootMode::Legacy, false}, false);
  EXPECT_TRUE(other.bodies.empty());
  EXPECT_NE(other.error.find("Legacy"), std::string::npos);
  // Already in the mode asked for, which it does not list as writable: nothing to write.
  b.mode = "Legacy";
  auto same = plan_boot_patch(b, BootOverride{BootDevice::Pxe, BootMode::Legacy, false}, false);
  ASSERT_EQ(same.bodies.size(), 1u);
  EXPECT_FALSE(boot_of(same.bodies[0]).contains("BootSourceOverrideMode"));
}

TEST(RedfishBootPlan, TargetOrEnabledNotAllowed) {
  auto b = dmtf_boot();
  b.target_allowed = {"None", "Hdd"};
  EXPECT_NE(plan_boot_patch(b, BootOverride{}, false).error.find("Pxe"), std::string::npos);
  b = dmtf_boot();
  b.enabled_allowed = {"Disabled", "Once"};
  EXPECT_NE(plan_boot_patch(b, BootOverride{BootDevice::Pxe, BootMode::Uefi, true}, false).error.find("Continuous"),
            std::string::npos);
  EXPECT_TRUE(plan_boot_patch(b, BootOverride{}, false).error.empty());
}

TEST(RedfishBootPlan, UnlistedAllowableValuesAllowEverything) {
  BootCapabilities b;
  b.present = true;
  b.has_mode = true;
  b.mode = "Legacy";
  auto plan = plan_boot_patch(b, BootOverride{}, false);
  ASSERT_EQ(plan.bodies.size(), 2u);
  EXPECT_EQ(boot_of(plan.bodies[0]).at("BootSourceOverrideMode"), "UEFI");
}

TEST(RedfishBootPlan, NoBootObject) {
  EXPECT_FALSE(plan_boot_patch(BootCapabilities{}, BootOverride{}, false).error.empty());
}

TEST(RedfishIfMatch, VariantsOfAWeakTag) {
  EXPECT_EQ(if_match_variants("W/\"abc\""), (std::vector<std::string>{"W/\"abc\"", "\"abc\"", "abc"}));
}

TEST(RedfishIfMatch, VariantsOfStrongAndBareTags) {
  EXPECT_EQ(if_match_variants("\"abc\""), (std::vector<std::string>{"\"abc\"", "abc"}));
  EXPECT_EQ(if_match_variants("abc"), (std::vector<std::string>{"abc", "\"abc\""}));
  EXPECT_EQ(if_match_variants("*"), (std::vector<std::string>{"*"}));  // "any", not a tag named *
  EXPECT_TRUE(if_match_variants("").empty());
}

}  // namespace
}  // namespace ironboot::bmc::redfish
