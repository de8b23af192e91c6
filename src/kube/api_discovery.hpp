// Discovery documents of the embedded API: /version, /api, /apis (aggregated v2 and legacy),
// the group and version documents, /openapi/v3 and health endpoints. Pure.
#pragma once

#include <optional>
#include <string>

#include "kube/api_handler.hpp"

namespace ironboot::kube {

// The response for a discovery path, or nullopt when `path` is not one.
std::optional<ApiResponse> discovery_response(const std::string& method, const std::string& path, const std::string& accept);

}  // namespace ironboot::kube
