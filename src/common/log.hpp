// Named spdlog loggers, one per subsystem ("dhcp", "tftp", "http", "kube", ...).
// Messages use key=value fields: log->debug("dropped reason={} mac={} xid={:#010x}", ...).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace ironboot {

// Sets up the sinks once: journald when $JOURNAL_STREAM is set (running under systemd),
// otherwise stderr. Safe to call again to change the level (SIGHUP).
void init_logging(const std::string& level);

// The logger for a subsystem; created on first use with the shared sinks.
std::shared_ptr<spdlog::logger> logger(const std::string& subsystem);

}  // namespace ironboot
