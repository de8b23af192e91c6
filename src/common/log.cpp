#include "common/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>

#include <cstdlib>
#include <mutex>
#include <vector>

namespace ironboot {
namespace {

struct LogState {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::level::level_enum level = spdlog::level::info;
};

LogState& state() {
  static LogState s;
  return s;
}

void ensure_sinks(LogState& s) {
  if (!s.sinks.empty()) return;
  if (std::getenv("JOURNAL_STREAM") != nullptr) {
    // journald adds its own timestamp and priority; keep the message plain.
    auto sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("ironboot");
    sink->set_pattern("%n: %v");
    s.sinks.push_back(sink);
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %v");
    s.sinks.push_back(sink);
  }
}

}  // namespace

void init_logging(const std::string& level) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  ensure_sinks(s);
  s.level = spdlog::level::from_str(level);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(s.level); });
}

std::shared_ptr<spdlog::logger> logger(const std::string& subsystem) {
  if (auto existing = spdlog::get(subsystem)) return existing;
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (auto existing = spdlog::get(subsystem)) return existing;
  ensure_sinks(s);
  auto l = std::make_shared<spdlog::logger>(subsystem, s.sinks.begin(), s.sinks.end());
  l->set_level(s.level);
  l->flush_on(spdlog::level::warn);
  spdlog::register_logger(l);
  return l;
}

}  // namespace ironboot
