// Kubernetes object names.
#pragma once

#include <string_view>

namespace ironboot::kube {

// A DNS-1123 subdomain, what metadata.name must be for our resources: at most 253 characters
// of [a-z0-9.-], each dot-separated label starting and ending with [a-z0-9]. Such a name is
// also safe as one path component (never "", "." or "..", no "/").
bool valid_dns_subdomain(std::string_view name);

}  // namespace ironboot::kube
