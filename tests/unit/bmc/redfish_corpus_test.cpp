// Runs every file of the Redfish fuzz corpus through the same entry points as the fuzz target
// (tests/fuzz/bmc/redfish_codec_fuzz.cpp), checking what must hold for every input.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bmc/redfish_codec.hpp"
#include "bmc/redfish_policy.hpp"

namespace ironboot::bmc::redfish {
namespace {

std::vector<std::pair<std::string, std::string>> corpus() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : std::filesystem::directory_iterator("tests/fuzz/corpus/redfish")) {
    std::ifstream f(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    out.emplace_back(e.path().filename().string(), ss.str());
  }
  return out;
}

TEST(RedfishCorpus, EveryInputParsesOrFailsWithAReason) {
  auto files = corpus();
  ASSERT_GE(files.size(), 15u);
  std::size_t systems = 0;
  for (const auto& [name, data] : files) {
    SCOPED_TRACE(name);
    auto sys = parse_computer_system(data);
    if (!sys) {
      EXPECT_FALSE(sys.error.empty());
    } else {
      ++systems;
      for (auto action : {PowerAction::On, PowerAction::Off, PowerAction::SoftOff, PowerAction::Cycle, PowerAction::HardReset}) {
        auto plan = plan_reset(action, sys.value->reset, sys.value->power);
        EXPECT_LE(plan.steps.size(), 2u);
        EXPECT_TRUE(plan.error.empty() || plan.steps.empty());
      }
      auto boot = plan_boot_patch(sys.value->boot, BootOverride{}, false);
      for (const auto& body : boot.bodies) EXPECT_TRUE(boost::json::parse(body).as_object().contains("Boot"));
    }
    EXPECT_LE(parse_error(data).summary().size(), 400u);
    auto root = parse_service_root(data);
    if (!root) {
      EXPECT_FALSE(root.error.empty());
    }
  }
  EXPECT_GE(systems, 8u);  // the profiles' systems, the ifmatch-bare one, the wrong-types one
}

TEST(RedfishCorpus, VendorProfilesHaveTheirQuirks) {
  std::map<std::string, ComputerSystem> by_name;
  for (const auto& [name, data] : corpus())
    if (auto sys = parse_computer_system(data)) by_name[name] = *sys.value;
  ASSERT_TRUE(by_name.count("system-supermicro-x10.json"));
  EXPECT_FALSE(by_name["system-supermicro-x10.json"].boot.has_mode);
  EXPECT_TRUE(by_name["system-dell.json"].boot.has_mode);
  EXPECT_TRUE(by_name["system-dell.json"].boot.mode_allowed.empty());
  const auto& np = by_name["system-nopowercycle.json"];
  EXPECT_EQ(plan_reset(PowerAction::Cycle, np.reset, PowerState::On).steps, std::vector<std::string>{"ForceRestart"});
  EXPECT_EQ(plan_reset(PowerAction::Cycle, by_name["system-dmtf.json"].reset, PowerState::On).steps,
            std::vector<std::string>{"PowerCycle"});
  EXPECT_FALSE(by_name["system-dmtf.json"].etag.empty());
}

}  // namespace
}  // namespace ironboot::bmc::redfish
