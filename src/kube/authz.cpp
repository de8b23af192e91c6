#include "kube/authz.hpp"

#include <boost/json.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "kube/json_ops.hpp"
#include "kube/kube_protobuf.hpp"
#include "kube/resource_type.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr const char* kAuthorizationGroup = "authorization.k8s.io";
constexpr const char* kAuthorizationApiVersion = "authorization.k8s.io/v1";
constexpr const char* kAccessReviews = "selfsubjectaccessreviews";
constexpr const char* kRulesReviews = "selfsubjectrulesreviews";

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The matchers of kube's rbac/v1 helpers: "*" is everything, else literal equality.
bool matches_literal(const std::vector<std::string>& rule_values, const std::string& requested) {
  return contains(rule_values, "*") || contains(rule_values, requested);
}

bool matches_resource(const ResourceRule& rule, const RequestInfo& r) {
  const std::string combined = r.subresource.empty() ? r.resource : r.resource + "/" + r.subresource;
  for (const auto& res : rule.resources) {
    if (res == "*" || res == combined) return true;
    // "*/status" grants that subresource of every resource.
    if (!r.subresource.empty() && res.size() == r.subresource.size() + 2 && res.rfind("*/", 0) == 0 &&
        res.compare(2, std::string::npos, r.subresource) == 0)
      return true;
  }
  return false;
}

bool matches_url(const NonResourceRule& rule, const std::string& path) {
  for (const auto& url : rule.urls) {
    if (url == "*" || url == path) return true;
    if (!url.empty() && url.back() == '*' && path.rfind(url.substr(0, url.size() - 1), 0) == 0) return true;
  }
  return false;
}

bool rule_allows(const Policy& policy, const RequestInfo& r) {
  if (!r.resource_request) {
    return std::any_of(policy.non_resource_rules.begin(), policy.non_resource_rules.end(), [&](const NonResourceRule& rule) {
      return matches_literal(rule.verbs, r.verb) && matches_url(rule, r.path);
    });
  }
  return std::any_of(policy.resource_rules.begin(), policy.resource_rules.end(), [&](const ResourceRule& rule) {
    return matches_literal(rule.verbs, r.verb) && matches_literal(rule.api_groups, r.group) && matches_resource(rule, r) &&
           (rule.resource_names.empty() || contains(rule.resource_names, r.name));
  });
}

Policy admin_policy() {
  Policy p;
  p.resource_rules.push_back({{"*"}, {"*"}, {"*"}, {}});
  p.non_resource_rules.push_back({{"*"}, {"*"}});
  return p;
}

Policy read_only_policy() {
  static const std::vector<std::string> kReadVerbs = {"get", "list", "watch"};
  Policy p;
  // One rule per (group, verbs), in the order builtin_resource_types() serves them.
  for (const ResourceType& t : builtin_resource_types()) {
    if (t.group.empty() && t.plural == "secrets") continue;
    std::vector<std::string> verbs;
    for (const auto& v : kReadVerbs)
      if (contains(t.verbs, v)) verbs.push_back(v);
    if (verbs.empty()) continue;  // e.g. the reviews: create only
    auto add = [&](const std::vector<std::string>& vs, const std::string& resource) {
      for (auto& rule : p.resource_rules) {
        if (rule.api_groups.front() == t.group && rule.verbs == vs) {
          rule.resources.push_back(resource);
          return;
        }
      }
      p.resource_rules.push_back({vs, {t.group}, {resource}, {}});
    };
    add(verbs, t.plural);
    if (t.status_subresource) add({"get"}, t.plural + "/status");
  }
  // Every principal may ask what it may do (kube's system:basic-user).
  p.resource_rules.push_back({{"create"}, {kAuthorizationGroup}, {kAccessReviews, kRulesReviews}, {}});
  // Discovery, version, OpenAPI and health (kube's system:discovery and system:public-info-viewer).
  p.non_resource_rules.push_back({{"get"},
                                  {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                                   "/readyz", "/version", "/version/"}});
  return p;
}

// Go's %q for the strings these messages carry (UTF-8 passes through; controls are escaped).
std::string go_quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// kube-apiserver's responsewriters sanitizer: nothing in an error looks like HTML.
std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

// responsewriters.forbiddenMessage.
std::string user_cannot(const Principal& p, const RequestInfo& r) {
  const std::string user = "User " + go_quote(p.user) + " cannot " + r.verb;
  if (!r.resource_request) return user + " path " + go_quote(r.path);
  const std::string resource = r.subresource.empty() ? r.resource : r.resource + "/" + r.subresource;
  const std::string head = user + " resource " + go_quote(resource) + " in API group " + go_quote(r.group);
  if (!r.namespace_name.empty()) return head + " in the namespace " + go_quote(r.namespace_name);
  return head + " at the cluster scope";
}

ApiResponse json_reply(unsigned code, const json::value& body) {
  return ApiResponse{code, "application/json", json::serialize(body)};
}

ApiResponse failure(unsigned code, const std::string& reason, const std::string& message, json::object details = {},
                    bool always_details = false) {
  json::object body{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}}, {"status", "Failure"},
                    {"message", message}, {"reason", reason}};
  if (always_details || !details.empty()) body["details"] = std::move(details);
  body["code"] = code;
  return json_reply(code, body);
}

ApiResponse bad_request(const std::string& message) { return failure(400, "BadRequest", message); }

const char* json_kind_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string: return "string";
    case json::kind::bool_: return "bool";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
    case json::kind::null: return "null";
    default: return "number";
  }
}

const std::vector<const char*> kResourceAttributeNames = {"namespace", "verb", "group", "version", "resource", "subresource", "name"};

// The body as the review kind: an object whose apiVersion and kind, when present, name it.
// Sets `error` to the 400 kube-apiserver's create handler answers otherwise.
std::optional<json::object> decode_review(std::string_view body, std::string_view content_type, const std::string& kind,
                                          std::optional<ApiResponse>& error) {
  std::string why;
  std::optional<json::value> parsed;
  if (is_kube_protobuf(content_type)) {
    // kubectl's typed client (`kubectl auth can-i`) sends protobuf; a typeMeta left empty
    // names the kind the URL does.
    ProtobufError failure = ProtobufError::malformed;
    if (auto obj = decode_kube_protobuf(body, &why, kAuthorizationApiVersion, kind, &failure)) {
      parsed = json::value(std::move(*obj));
    } else if (failure == ProtobufError::unsupported_kind) {
      error = bad_request("the object provided is unrecognized (must be of type " + kind + ")");
      return std::nullopt;
    }
  } else {
    parsed = parse_json(body, &why);
  }
  if (!parsed || !parsed->is_object()) {
    error = bad_request("couldn't get version/kind; json parse error: " +
                        (parsed ? std::string("cannot unmarshal ") + json_kind_name(*parsed) + " into Go value of type struct" : why));
    return std::nullopt;
  }
  json::object obj = std::move(parsed->as_object());
  if (const auto* av = obj.if_contains("apiVersion"); av && !(av->is_string() && av->as_string() == kAuthorizationApiVersion)) {
    error = bad_request("the API version in the data (" + (av->is_string() ? std::string(av->as_string()) : std::string()) +
                        ") does not match the expected API version (" + kAuthorizationApiVersion + ")");
    return std::nullopt;
  }
  if (const auto* k = obj.if_contains("kind"); k && !(k->is_string() && k->as_string() == kind)) {
    error = bad_request("the object provided is unrecognized (must be of type " + kind + ")");
    return std::nullopt;
  }
  return obj;
}

// A Go-style type error for one field of the spec, as kube's JSON decoder words it.
ApiResponse field_type_error(const std::string& kind, const std::string& go_struct, const std::string& field,
                             const json::value& got, const char* want) {
  return bad_request(kind + " in version \"v1\" cannot be handled as a " + kind + ": json: cannot unmarshal " +
                     json_kind_name(got) + " into Go struct field " + go_struct + "." + field + " of type " + want);
}

// Reads the string members `names` of spec.<member>; a missing or null member is "".
std::optional<std::vector<std::string>> read_strings(const json::object& attrs, const std::vector<const char*>& names,
                                                     const std::string& kind, const std::string& go_struct,
                                                     const std::string& path, std::optional<ApiResponse>& error) {
  std::vector<std::string> out;
  for (const char* name : names) {
    const json::value* v = attrs.if_contains(name);
    if (!v || v->is_null()) {
      out.emplace_back();
    } else if (v->is_string()) {
      out.emplace_back(v->as_string());
    } else {
      error = field_type_error(kind, go_struct, path + "." + name, *v, "string");
      return std::nullopt;
    }
  }
  return out;
}

json::object review_metadata(const json::object& obj) {
  json::object meta;
  if (const auto* m = obj.if_contains("metadata"); m && m->is_object()) meta = m->as_object();
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = nullptr;
  return meta;
}

ApiResponse access_review(const Principal& principal, std::string_view body, std::string_view content_type) {
  const std::string kind = "SelfSubjectAccessReview";
  std::optional<ApiResponse> error;
  auto obj = decode_review(body, content_type, kind, error);
  if (!obj) return *error;
  json::object spec;
  if (const auto* s = obj->if_contains("spec"); s && !s->is_null()) {
    if (!s->is_object()) return field_type_error(kind, kind, "spec", *s, "v1.SelfSubjectAccessReviewSpec");
    spec = s->as_object();
  }
  const json::value* ra = spec.if_contains("resourceAttributes");
  const json::value* nra = spec.if_contains("nonResourceAttributes");
  if (ra && ra->is_null()) ra = nullptr;
  if (nra && nra->is_null()) nra = nullptr;
  if (ra && !ra->is_object()) return field_type_error(kind, "SelfSubjectAccessReviewSpec", "spec.resourceAttributes", *ra, "v1.ResourceAttributes");
  if (nra && !nra->is_object())
    return field_type_error(kind, "SelfSubjectAccessReviewSpec", "spec.nonResourceAttributes", *nra, "v1.NonResourceAttributes");

  RequestInfo asked;
  json::object echoed_spec;
  std::string nra_go;  // the nonResourceAttributes as Go's %#v prints them, for the 422
  if (ra) {
    const auto& names = kResourceAttributeNames;
    auto v = read_strings(ra->as_object(), names, kind, "ResourceAttributes", "spec.resourceAttributes", error);
    if (!v) return *error;
    asked.resource_request = true;
    asked.namespace_name = (*v)[0];
    asked.verb = (*v)[1];
    asked.group = (*v)[2];
    asked.version = (*v)[3];
    asked.resource = (*v)[4];
    asked.subresource = (*v)[5];
    asked.name = (*v)[6];
    json::object attrs;
    for (std::size_t i = 0; i < names.size(); ++i)
      if (!(*v)[i].empty()) attrs[names[i]] = (*v)[i];
    echoed_spec["resourceAttributes"] = std::move(attrs);
  }
  if (nra) {
    auto v = read_strings(nra->as_object(), {"path", "verb"}, kind, "NonResourceAttributes", "spec.nonResourceAttributes", error);
    if (!v) return *error;
    nra_go = "authorization.NonResourceAttributes{Path:" + go_quote((*v)[0]) + ", Verb:" + go_quote((*v)[1]) + "}";
    if (!ra) {
      asked.resource_request = false;
      asked.path = (*v)[0];
      asked.verb = (*v)[1];
    }
    json::object attrs;
    if (!(*v)[0].empty()) attrs["path"] = (*v)[0];
    if (!(*v)[1].empty()) attrs["verb"] = (*v)[1];
    echoed_spec["nonResourceAttributes"] = std::move(attrs);
  }
  // pkg/apis/authorization/validation: exactly one of the two.
  if ((ra != nullptr) == (nra != nullptr)) {
    const bool both = ra && nra;
    const std::string field = both ? "spec.nonResourceAttributes" : "spec.resourceAttributes";
    const std::string body_text = std::string("Invalid value: ") + (both ? nra_go : "\"null\"") + ": " +
                                  (both ? "cannot be specified in combination with resourceAttributes"
                                        : "exactly one of nonResourceAttributes or resourceAttributes must be specified");
    json::object details{{"group", kAuthorizationGroup},
                         {"kind", kind},
                         {"causes", json::array{json::object{{"reason", "FieldValueInvalid"}, {"message", body_text}, {"field", field}}}}};
    return failure(422, "Invalid", kind + "." + kAuthorizationGroup + " \"\" is invalid: " + field + ": " + body_text,
                   std::move(details));
  }

  const Decision d = authorize(principal, asked);
  json::object status{{"allowed", d.allowed}};
  if (!d.allowed) status["denied"] = true;  // this policy is the only authorizer: a no is final
  if (!d.reason.empty()) status["reason"] = d.reason;
  json::object out{{"kind", kind},
                   {"apiVersion", kAuthorizationApiVersion},
                   {"metadata", review_metadata(*obj)},
                   {"spec", std::move(echoed_spec)},
                   {"status", std::move(status)}};
  return json_reply(201, out);
}

json::array strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

ApiResponse rules_review(const Principal& principal, std::string_view body, std::string_view content_type) {
  const std::string kind = "SelfSubjectRulesReview";
  std::optional<ApiResponse> error;
  auto obj = decode_review(body, content_type, kind, error);
  if (!obj) return *error;
  std::string ns;
  if (const auto* s = obj->if_contains("spec"); s && !s->is_null()) {
    if (!s->is_object()) return field_type_error(kind, kind, "spec", *s, "v1.SelfSubjectRulesReviewSpec");
    auto v = read_strings(s->as_object(), {"namespace"}, kind, "SelfSubjectRulesReviewSpec", "spec", error);
    if (!v) return *error;
    ns = (*v)[0];
  }
  // pkg/registry/authorization/selfsubjectrulesreview: the rules are per namespace.
  if (ns.empty()) return bad_request("no namespace on request");

  const Policy& policy = policy_for(principal.role);
  json::array resource_rules, non_resource_rules;
  for (const auto& r : policy.resource_rules) {
    json::object rule{{"verbs", strings(r.verbs)}, {"apiGroups", strings(r.api_groups)}, {"resources", strings(r.resources)}};
    if (!r.resource_names.empty()) rule["resourceNames"] = strings(r.resource_names);
    resource_rules.push_back(std::move(rule));
  }
  for (const auto& r : policy.non_resource_rules)
    non_resource_rules.push_back(json::object{{"verbs", strings(r.verbs)}, {"nonResourceURLs", strings(r.urls)}});
  json::object out{{"kind", kind},
                   {"apiVersion", kAuthorizationApiVersion},
                   {"metadata", review_metadata(*obj)},
                   {"spec", json::object{{"namespace", ns}}},
                   {"status", json::object{{"resourceRules", std::move(resource_rules)},
                                           {"nonResourceRules", std::move(non_resource_rules)},
                                           {"incomplete", false}}}};
  return json_reply(201, out);
}

}  // namespace

const Principal& admin_principal() {
  static const Principal p{Role::admin, "ironboot:admin", {"system:masters", "system:authenticated"}};
  return p;
}

const Principal& read_only_principal() {
  static const Principal p{Role::read_only, "ironboot:read-only", {"system:authenticated"}};
  return p;
}

const Policy& policy_for(Role role) {
  static const Policy admin = admin_policy();
  static const Policy read_only = read_only_policy();
  return role == Role::admin ? admin : read_only;
}

Decision authorize(const Principal& principal, const RequestInfo& request) {
  const bool allowed = rule_allows(policy_for(principal.role), request);
  if (principal.role == Role::admin) return {allowed, allowed ? "ironboot: the admin token may do everything" : ""};
  if (allowed) return {true, "ironboot: the read-only token may get, list and watch every resource except secrets"};
  if (request.resource_request && request.group.empty() && request.resource == "secrets")
    return {false, "ironboot: the read-only token may not access secrets"};
  return {false, "ironboot: the read-only token may only get, list and watch"};
}

std::string forbidden_message(const Principal& principal, const RequestInfo& request) {
  // apierrors.NewForbidden around the sanitized forbiddenMessage.
  const std::string why = sanitize(user_cannot(principal, request));
  if (!request.resource_request) return "forbidden: " + why;
  const std::string gr = request.group.empty() ? request.resource : request.resource + "." + request.group;
  if (request.name.empty()) return gr + " is forbidden: " + why;
  return gr + " " + go_quote(request.name) + " is forbidden: " + why;
}

ApiResponse forbidden_response(const Principal& principal, const RequestInfo& request) {
  json::object details;
  if (request.resource_request) {
    if (!request.name.empty()) details["name"] = request.name;
    if (!request.group.empty()) details["group"] = request.group;
    if (!request.resource.empty()) details["kind"] = request.resource;
  }
  return failure(403, "Forbidden", forbidden_message(principal, request), std::move(details), true);
}

bool is_self_subject_review(const RequestInfo& r) {
  return r.resource_request && r.verb == "create" && r.group == kAuthorizationGroup && r.version == "v1" &&
         r.namespace_name.empty() && r.name.empty() && r.subresource.empty() &&
         (r.resource == kAccessReviews || r.resource == kRulesReviews);
}

ApiResponse handle_self_subject_review(const Principal& principal, const RequestInfo& request, std::string_view body,
                                      std::string_view content_type) {
  return request.resource == kAccessReviews ? access_review(principal, body, content_type)
                                            : rules_review(principal, body, content_type);
}

Gate gate_request(const Principal& principal, const ApiRequest& request) {
  Gate g;
  std::string error;
  g.request = parse_request_info(request.method, request.target, &error);
  if (!g.request) {
    // The handler answers what it cannot route; only the admin reaches it without a reading.
    if (principal.role != Role::admin)
      g.response = error == "malformed request target" ? bad_request(error) : failure(404, "NotFound", error);
    return g;
  }
  if (!authorize(principal, *g.request).allowed) {
    g.forbidden = true;
    g.response = forbidden_response(principal, *g.request);
    return g;
  }
  if (is_self_subject_review(*g.request)) g.response = handle_self_subject_review(principal, *g.request, request.body, request.content_type);
  return g;
}

}  // namespace ironboot::kube
