// RFC 3339 timestamps as Kubernetes writes them (seconds, "Z").
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace ironboot::kube {

std::string format_rfc3339(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text);

}  // namespace ironboot::kube
