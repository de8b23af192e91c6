// Who a request to the embedded API comes from and what it may do: the two principals (the
// admin token and the read-only token), their policy as RBAC-style rules, the decision for one
// request, kube-apiserver's 403 Status, and the authorization.k8s.io/v1 self-subject access and
// rules reviews answered from the same rules. Pure; never throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/api_handler.hpp"  // ApiRequest, ApiResponse
#include "kube/request_info.hpp"

namespace ironboot::kube {

enum class Role { admin, read_only };

struct Principal {
  Role role = Role::admin;
  std::string user;                 // "ironboot:admin", "ironboot:read-only"
  std::vector<std::string> groups;  // "system:masters", "system:authenticated"
};

const Principal& admin_principal();
const Principal& read_only_principal();

// An rbac.authorization.k8s.io PolicyRule. "*" matches everything in its list; a resource
// entry is "plural" or "plural/subresource".
struct ResourceRule {
  std::vector<std::string> verbs;
  std::vector<std::string> api_groups;
  std::vector<std::string> resources;
  std::vector<std::string> resource_names;  // empty: every name
};

// A non-resource URL rule: "/version" exactly, "/apis/*" as a prefix, "*" for every path.
struct NonResourceRule {
  std::vector<std::string> verbs;
  std::vector<std::string> urls;
};

struct Policy {
  std::vector<ResourceRule> resource_rules;
  std::vector<NonResourceRule> non_resource_rules;
};

// admin: "*" on everything. read-only: get/list/watch on every served resource (and status
// subresource) of builtin_resource_types() except core secrets, create on the two self-subject
// reviews, get on the discovery, version, OpenAPI and health paths.
const Policy& policy_for(Role role);

struct Decision {
  bool allowed = false;
  std::string reason;  // why, for a review's status.reason
};

// RBAC matching of one request's attributes against the principal's rules. Attribute values
// are literal ("*" in a request only matches a rule's "*"), as kube-apiserver's RBAC does.
Decision authorize(const Principal& principal, const RequestInfo& request);

// kube-apiserver's forbidden text, e.g. `secrets "bmc-1" is forbidden: User "ironboot:read-only"
// cannot get resource "secrets" in API group "" in the namespace "ironboot-system"`.
std::string forbidden_message(const Principal& principal, const RequestInfo& request);
// The 403 Status (reason Forbidden, details name/group/kind) carrying forbidden_message.
ApiResponse forbidden_response(const Principal& principal, const RequestInfo& request);

// POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews or .../selfsubjectrulesreviews.
bool is_self_subject_review(const RequestInfo& request);
// The review's answer (always JSON): 201 with the object and its status, or a 400/422 Status
// for a bad body. The body is JSON, or protobuf when content_type says
// application/vnd.kubernetes.protobuf (kubectl's typed client sends that).
ApiResponse handle_self_subject_review(const Principal& principal, const RequestInfo& request, std::string_view body,
                                       std::string_view content_type = "application/json");

// What the shells do before the handler: decide the request for `principal`. A response when
// it is settled here (403, a review, an unparsable target for a non-admin), nullopt when the
// ApiHandler should answer it.
struct Gate {
  std::optional<ApiResponse> response;
  bool forbidden = false;
  std::optional<RequestInfo> request;  // the parsed request, when the target parsed
};
Gate gate_request(const Principal& principal, const ApiRequest& request);

}  // namespace ironboot::kube
