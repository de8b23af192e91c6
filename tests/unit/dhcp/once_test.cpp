#include <gtest/gtest.h>

#include "dhcp/server.hpp"

namespace ironboot::dhcp {
namespace {

TEST(OncePerKey, FirstSightingOnlyAndBounded) {
  OncePerKey once(3);
  EXPECT_TRUE(once.first(0x525400000001));
  EXPECT_FALSE(once.first(0x525400000001));
  EXPECT_TRUE(once.first(2));
  EXPECT_TRUE(once.first(3));
  EXPECT_FALSE(once.first(3));
  // Full: forgets everything rather than growing.
  EXPECT_TRUE(once.first(4));
  EXPECT_TRUE(once.first(0x525400000001));
  once.reset();
  EXPECT_TRUE(once.first(4));
}

}  // namespace
}  // namespace ironboot::dhcp
