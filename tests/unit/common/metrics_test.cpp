#include "common/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ironboot {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, CountersWithAndWithoutLabels) {
  MetricsRegistry r;
  r.counter("ironboot_x_total", "Things.").inc();
  r.counter("ironboot_x_total", "Things.").inc(2);
  r.counter("ironboot_y_total", "Ys.", {{"reason", "bad \"q\""}}).inc();
  const std::string text = r.render();
  EXPECT_THAT(text, HasSubstr("# HELP ironboot_x_total Things.\n# TYPE ironboot_x_total counter\nironboot_x_total 3\n"));
  EXPECT_THAT(text, HasSubstr("ironboot_y_total{reason=\"bad \\\"q\\\"\"} 1\n"));
}

TEST(Metrics, HistogramIsCumulative) {
  MetricsRegistry r;
  auto& h = r.histogram("lat_seconds", "Latency.", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = r.render();
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{le=\"0.10000000000000001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_count 3\n"));
}

TEST(Metrics, OneTypePerName) {
  MetricsRegistry r;
  r.counter("a", "A.");
  EXPECT_THROW(r.gauge("a", "A."), std::logic_error);
}

}  // namespace
}  // namespace ironboot
