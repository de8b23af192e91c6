// Strategic merge patch (application/strategic-merge-patch+json) for the built-in Kubernetes
// types the embedded API serves, which is what `kubectl apply`, `kubectl edit` and the Python
// client's patch_namespaced_* send for them. It is a JSON merge patch except where a field's
// patch strategy says otherwise; among the served built-in types only ObjectMeta has such
// lists: `finalizers` (a set of strings, merged) and `ownerReferences` (merged by `uid`).
// Directives: `$patch: replace|delete` on a map, `$retainKeys`, `$setElementOrder/<list>`,
// `$deleteFromPrimitiveList/<list>`. Pure; never throws.
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>

namespace ironboot::kube {

// Applies `patch` to `doc`; an error text (the patch is malformed) leaves `doc` unspecified.
std::optional<std::string> apply_strategic_merge_patch(boost::json::value& doc, const boost::json::value& patch);

}  // namespace ironboot::kube
