#include "bmc/bmc.hpp"

#include <gtest/gtest.h>

#include <string>

namespace ironboot::bmc {
namespace {

TEST(BmcNames, PowerStatesAreStatusPowerSpellings) {
  EXPECT_EQ(std::string(to_string(PowerState::On)), "on");
  EXPECT_EQ(std::string(to_string(PowerState::Off)), "off");
  EXPECT_EQ(std::string(to_string(PowerState::Unknown)), "unknown");
}

TEST(BmcStatus, SuccessHasNoReason) {
  EXPECT_TRUE(BmcStatus::success().ok());
  EXPECT_FALSE(BmcStatus::failure("Timeout", "no answer after 3 tries").ok());
}

}  // namespace
}  // namespace ironboot::bmc
