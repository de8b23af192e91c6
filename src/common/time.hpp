// RFC 3339 timestamps in UTC, as Kubernetes writes them: "2026-12-01T21:03:54Z" for Time
// fields, "2026-12-01T21:03:54.123456Z" for MicroTime fields (Events, Leases).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot {

std::string format_rfc3339(std::chrono::system_clock::time_point t);
std::string format_rfc3339_micros(std::chrono::system_clock::time_point t);
// Accepts fractional seconds and "Z" or a numeric offset; nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace ironboot
