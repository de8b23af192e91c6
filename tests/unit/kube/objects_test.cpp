#include "kube/objects.hpp"

#include <gtest/gtest.h>

#include "common/time.hpp"

namespace ironboot {
namespace {

TEST(Conditions, TransitionTimeChangesOnlyWithStatus) {
  objects::Condition c{"Clean", true, "Wiped", "fast"};
  auto list = objects::with_condition(nullptr, c, "T1");
  c.message = "full";
  list = objects::with_condition(&list, c, "T2");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("lastTransitionTime"), "T1");
  EXPECT_EQ(list[0].at("message"), "full");
  c.status = false;
  list = objects::with_condition(&list, c, "T3");
  EXPECT_EQ(list[0].at("lastTransitionTime"), "T3");
  EXPECT_EQ(list[0].at("status"), "False");
  list = objects::with_condition(&list, objects::Condition{"Other", true, "R", ""}, "T4");
  EXPECT_EQ(list.size(), 2u);
  EXPECT_EQ(objects::without_condition(&list, "Clean").size(), 1u);
  EXPECT_EQ(format_rfc3339(std::chrono::system_clock::time_point{std::chrono::seconds{1795491532}}),
            "2026-11-24T03:38:52Z");
}

}  // namespace
}  // namespace ironboot
