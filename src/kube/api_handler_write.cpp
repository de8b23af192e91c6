// The API handler's writes: create, update (PUT), patch, delete, the namespace lifecycle
// and event retention.
#include <boost/json.hpp>

#include <algorithm>

#include "common/time.hpp"
#include "kube/api_core_types.hpp"
#include "kube/api_handler.hpp"
#include "kube/api_handler_util.hpp"
#include "kube/json_ops.hpp"
#include "kube/kube_protobuf.hpp"
#include "kube/names.hpp"
#include "kube/strategic_merge.hpp"

namespace ironboot::kube {

namespace json = boost::json;
using namespace handler_detail;

namespace {

// kube-apiserver decodes a built-in type's body into the type the URL names: a body without
// apiVersion and kind (the Python client sends them so) is that type. Custom resources are
// decoded as unstructured objects and must name them.
void default_type_meta(const ResourceType& type, json::object& obj) {
  if (!type.builtin) return;
  if (str_field(obj, "apiVersion").empty() && str_field(obj, "kind").empty()) {
    obj["apiVersion"] = type.api_version();
    obj["kind"] = type.kind;
  }
}

constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";

bool has_finalizers(const json::object& o) {
  const auto* m = o.if_contains("metadata");
  if (!m || !m->is_object()) return false;
  const auto* f = m->as_object().if_contains("finalizers");
  return f && f->is_array() && !f->as_array().empty();
}

// Everything but metadata and status: a change here bumps metadata.generation.
bool spec_changed(const json::object& a, const json::object& b) {
  auto strip = [](json::object o) {
    o.erase("metadata");
    o.erase("status");
    return o;
  };
  return strip(a) != strip(b);
}

bool is_namespaces(const ResourceType& t) { return t.group.empty() && t.plural == "namespaces"; }

// Parses a request body as JSON (or YAML for apply), or for a create or update (`type` given)
// as protobuf, kubectl's typed clients' encoding; an error response otherwise.
std::optional<json::value> parse_body(const ApiRequest& req, ApiResponse& error, const ResourceType* type = nullptr) {
  if (is_kube_protobuf(req.content_type)) {
    if (!type) {
      // Not a patch type: kube-apiserver's patch handler lists what it takes.
      error = status_error(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
      return std::nullopt;
    }
    std::string err;
    ProtobufError why = ProtobufError::malformed;
    auto obj = decode_kube_protobuf(req.body, &err, type->api_version(), type->kind, &why);
    if (obj) return json::value(std::move(*obj));
    error = why == ProtobufError::unsupported_kind ? status_error(415, "UnsupportedMediaType", err)
                                                   : status_error(400, "BadRequest", "the request body is not valid: " + err);
    return std::nullopt;
  }
  std::string err;
  std::optional<json::value> v;
  if (req.content_type.find("yaml") != std::string::npos) v = yaml_to_json(req.body, &err);
  else v = parse_json(req.body, &err);
  if (!v) error = status_error(400, "BadRequest", "the request body is not valid: " + err);
  return v;
}

// 422 Invalid from field problems, as kube-apiserver's NewInvalid words it.
ApiResponse invalid(const ResourceType& type, const std::string& name, const std::vector<FieldProblem>& problems) {
  json::array causes;
  std::string msg = qualified_kind(type) + " \"" + name + "\" is invalid: ";
  if (problems.size() > 1) msg += "[";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    msg += (i ? ", " : "") + problems[i].message;
    // kubectl prints causes as "field: message".
    std::string cause = problems[i].message;
    if (cause.rfind(problems[i].field + ": ", 0) == 0) cause.erase(0, problems[i].field.size() + 2);
    causes.push_back(json::object{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", problems[i].field}});
  }
  if (problems.size() > 1) msg += "]";
  return status_error(422, "Invalid", msg, &type, name, causes);
}

// Schema validation and pruning: 400 for unknown fields under fieldValidation=Strict; the
// schema's problems are returned for the caller to report (after admission checks).
std::optional<ApiResponse> check_schema(const ResourceType& type, json::object& obj, const std::string& name, bool strict,
                                        std::vector<FieldProblem>& problems) {
  ValidationReport report = validate_and_prune(type, obj);
  if (strict && !report.unknown_fields.empty()) {
    std::string msg = type.kind + " in version \"" + type.version + "\" cannot be handled as a " + type.kind +
                      ": strict decoding error: ";
    for (std::size_t i = 0; i < report.unknown_fields.size(); ++i)
      msg += (i ? ", " : "") + std::string("unknown field \"") + report.unknown_fields[i] + "\"";
    return status_error(400, "BadRequest", msg, &type, name);
  }
  problems = std::move(report.problems);
  return std::nullopt;
}

ApiResponse namespace_mismatch() {
  return status_error(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
}

// Fills metadata.namespace from the URL; false when the body names another namespace.
bool settle_namespace(const ResourceType& type, json::object& obj, const std::string& ns) {
  auto& m = meta_of(obj);
  if (!type.namespaced) {
    m.erase("namespace");
    return true;
  }
  const std::string given = meta_str(obj, "namespace");
  if (!given.empty() && given != ns) return false;
  m["namespace"] = ns;
  return true;
}

json::object namespace_object(const std::string& name, const std::string& uid, const std::string& created) {
  return json::object{{"apiVersion", "v1"},
                      {"kind", "Namespace"},
                      {"metadata", json::object{{"name", name}, {"uid", uid}, {"creationTimestamp", created},
                                                {"labels", json::object{{kNamespaceNameLabel, name}}}}},
                      {"spec", json::object{{"finalizers", json::array{"kubernetes"}}}},
                      {"status", json::object{{"phase", "Active"}}}};
}

}  // namespace

bool ApiHandler::ensure_initial_namespaces() {
  bool wrote = false;
  for (const auto& name : initial_namespaces()) {
    if (store_.contains("namespaces", name)) continue;
    store_.put("namespaces", namespace_object(name, uid_(), format_rfc3339(clock_())));
    wrote = true;
  }
  return wrote;
}

std::optional<ApiResponse> ApiHandler::check_namespace_accepts(const Call& c) const {
  if (!c.type.namespaced) return std::nullopt;
  const ObjectPtr ns = store_.get("namespaces", c.ns());  // small: parsed per namespaced write
  if (!ns) {
    const ResourceType* nt = find_resource_type("", "v1", "namespaces");
    return status_error(404, "NotFound", "namespaces \"" + c.ns() + "\" not found", nt, c.ns());
  }
  const auto* st = ns->if_contains("status");
  const bool terminating = !meta_str(*ns, "deletionTimestamp").empty() ||
                           (st && st->is_object() && str_field(st->as_object(), "phase") == "Terminating");
  if (!terminating) return std::nullopt;
  const std::string why = "unable to create new content in namespace " + c.ns() + " because it is being terminated";
  json::array causes{json::object{{"reason", "NamespaceTerminating"}, {"message", "namespace " + c.ns() + " is being terminated"},
                                  {"field", "metadata.namespace"}}};
  return status_error(403, "Forbidden", c.type.group_resource() + " \"" + c.name() + "\" is forbidden: " + why, &c.type,
                      c.name(), causes);
}

ApiResult ApiHandler::create(const Call& c, std::optional<json::object> body_override) {
  const ResourceType& type = c.type;
  if (auto e = check_write_options(c, "CreateOptions")) return *e;
  ApiResponse error;
  json::object obj;
  if (body_override) {
    obj = std::move(*body_override);
  } else {
    auto body = parse_body(c.req, error, &type);
    if (!body) return reply(error);
    if (!body->is_object()) return reply(status_error(400, "BadRequest", "the request body must be an object"));
    obj = std::move(body->as_object());
  }
  default_type_meta(type, obj);
  if (str_field(obj, "apiVersion") != type.api_version() || str_field(obj, "kind") != type.kind) {
    return reply(status_error(400, "BadRequest", "the API version in the data (" + str_field(obj, "apiVersion") + ", kind " +
                                                     str_field(obj, "kind") + ") does not match the expected " +
                                                     type.api_version() + " " + type.kind));
  }
  if (!settle_namespace(type, obj, c.ns())) return reply(namespace_mismatch());
  auto& meta = meta_of(obj);
  std::string name = meta_str(obj, "name");
  if (name.empty() && !meta_str(obj, "generateName").empty()) {
    name = meta_str(obj, "generateName") + uid_().substr(0, 5);
    meta["name"] = name;
  }
  std::vector<FieldProblem> problems;
  if (auto e = check_schema(type, obj, name, strict_fields(c), problems)) return reply(*e);
  RequestInfo info = c.info;
  info.name = name;
  const Call with_name{c.req, info, c.type};
  if (auto e = check_namespace_accepts(with_name)) return reply(*e);
  // A namespace's name is a DNS label, checked with the type's other rules.
  if (!is_namespaces(type) && !valid_dns_subdomain(name)) {
    const std::string cause = name.empty() ? std::string("Required value: name or generateName is required")
                                           : "Invalid value: \"" + name + "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    const std::string msg = qualified_kind(type) + " \"" + name + "\" is invalid: metadata.name: " + cause;
    json::array causes{json::object{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", "metadata.name"}}};
    return reply(status_error(422, "Invalid", msg, &type, name, causes));
  }
  if (!problems.empty()) return reply(invalid(type, name, problems));
  normalize_write(type, obj);
  obj = to_stored(type, std::move(obj));
  if (auto semantic = validate_semantics(type, obj, nullptr); !semantic.empty()) return reply(invalid(type, name, semantic));
  const std::string key = store_key(c.ns(), name);
  if (store_.contains(type.plural, key)) {
    return reply(status_error(409, "AlreadyExists", type.group_resource() + " \"" + name + "\" already exists", &type, name));
  }
  // Before `m` is taken: erasing a member moves another into its slot.
  if (type.status_subresource) obj.erase("status");
  auto& m = meta_of(obj);
  m.erase("resourceVersion");
  m.erase("deletionTimestamp");
  m.erase("deletionGracePeriodSeconds");
  m.erase("managedFields");
  m["uid"] = uid_();
  m["creationTimestamp"] = format_rfc3339(clock_());
  if (!type.builtin) m["generation"] = 1;
  else m.erase("generation");
  if (is_namespaces(type)) {
    // As kube-apiserver: the name label, the kubernetes finalizer, phase Active.
    auto& labels = m["labels"];
    if (!labels.is_object()) labels = json::object{};
    labels.as_object()[kNamespaceNameLabel] = name;
    auto& spec = obj["spec"];
    if (!spec.is_object()) spec = json::object{};
    if (!spec.as_object().contains("finalizers")) spec.as_object()["finalizers"] = json::array{"kubernetes"};
    obj["status"] = json::object{{"phase", "Active"}};
  }
  if (dry_run(c)) {
    // meta_of again: the inserts above may have moved obj's members.
    meta_of(obj)["resourceVersion"] = std::to_string(store_.resource_version());
    return reply(json_response(201, to_served(type, obj)));
  }
  StoredPtr stored = store_.put(type.plural, std::move(obj));
  if (type.plural == "events") cap_events();
  return reply(ApiResponse{201, "application/json", served_json(type, *stored)}, true);
}

ApiResult ApiHandler::write(const Call& c) {
  const ResourceType& type = c.type;
  const bool put = c.req.method == "PUT";
  if (auto e = check_write_options(c, put ? "UpdateOptions" : "PatchOptions")) return *e;
  const std::string& ct = c.req.content_type;
  const bool apply = ct.find("application/apply-patch") == 0;
  const std::string& name = c.name();
  const StoredPtr current = store_.find(type.plural, c.key());
  // The tree of the current version, for patches and the update rules.
  const ObjectPtr old = current ? std::make_shared<const json::object>(current->parse()) : nullptr;
  ApiResponse error;
  json::object next;
  bool check_rv = false;
  if (put) {
    auto body = parse_body(c.req, error, &type);
    if (!body) return reply(error);
    if (!body->is_object()) return reply(status_error(400, "BadRequest", "the request body must be an object"));
    next = std::move(body->as_object());
    default_type_meta(type, next);
    if (str_field(next, "apiVersion") != type.api_version() || str_field(next, "kind") != type.kind)
      return reply(status_error(400, "BadRequest", "the API version or kind in the data does not match " +
                                                       type.api_version() + " " + type.kind));
    if (meta_str(next, "name") != name)
      return reply(status_error(400, "BadRequest", "the name of the object (" + meta_str(next, "name") +
                                                       ") does not match the name on the URL (" + name + ")"));
    if (type.namespaced && !meta_str(next, "namespace").empty() && meta_str(next, "namespace") != c.ns())
      return reply(namespace_mismatch());
    if (!old) {
      // Events may be created by an update (their strategy's AllowCreateOnUpdate).
      if (type.plural == "events" && !c.status()) return create(c, std::move(next));
      return not_found(type, name);
    }
    if (meta_str(next, "resourceVersion").empty()) {
      return reply(status_error(422, "Invalid", qualified_kind(type) + " \"" + name +
                                                    "\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                                &type, name));
    }
    check_rv = true;
  } else {
    const bool strategic = ct.find("application/strategic-merge-patch+json") == 0;
    // Custom resources have no patch strategies: kube-apiserver refuses strategic merge for them.
    if (strategic && !type.builtin) {
      return reply(status_error(415, "UnsupportedMediaType",
                                "the body of the request was in an unknown format - accepted media types include: "
                                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"));
    }
    auto patch = parse_body(c.req, error);
    if (!patch) return reply(error);
    if (!old) {
      if (apply && !c.status()) {
        if (!patch->is_object()) return reply(status_error(400, "BadRequest", "the apply body must be an object"));
        return create(c, patch->as_object());
      }
      return not_found(type, name);
    }
    json::value doc = to_served(type, *old);
    if (ct.find("application/json-patch+json") == 0) {
      if (auto err = apply_json_patch(doc, *patch)) {
        return reply(status_error(422, "Invalid", "the server rejected our request due to an error in our request: " + *err, &type, name));
      }
    } else if (strategic) {
      if (!patch->is_object()) return reply(status_error(400, "BadRequest", "a strategic merge patch must be an object"));
      check_rv = !meta_str(patch->as_object(), "resourceVersion").empty();
      if (auto err = apply_strategic_merge_patch(doc, *patch)) {
        return reply(status_error(422, "Invalid", "the server rejected our request due to an error in our request: " + *err, &type, name));
      }
    } else if (ct.find("application/merge-patch+json") == 0 || apply) {
      if (!patch->is_object()) return reply(status_error(400, "BadRequest", "a merge patch must be an object"));
      // A patch that names a resourceVersion is a precondition, like an update.
      check_rv = !meta_str(patch->as_object(), "resourceVersion").empty();
      doc = merge_patch(doc, *patch);
    } else {
      return reply(status_error(415, "UnsupportedMediaType", "unsupported patch type " + ct));
    }
    if (!doc.is_object()) return reply(status_error(422, "Invalid", "the patched document is not an object", &type, name));
    next = std::move(doc.as_object());
  }
  if (check_rv && meta_str(next, "resourceVersion") != meta_str(*old, "resourceVersion")) {
    return reply(status_error(409, "Conflict",
                              "Operation cannot be fulfilled on " + type.group_resource() + " \"" + name +
                                  "\": the object has been modified; please apply your changes to the latest version and try again",
                              &type, name));
  }
  if (str_field(next, "apiVersion").empty()) next["apiVersion"] = type.api_version();
  if (str_field(next, "kind").empty()) next["kind"] = type.kind;
  if (meta_str(next, "name") != name) {
    return reply(status_error(400, "BadRequest", "metadata.name cannot be changed (" + name + ")"));
  }
  if (!settle_namespace(type, next, c.ns())) return reply(namespace_mismatch());
  std::vector<FieldProblem> problems;
  if (auto e = check_schema(type, next, name, strict_fields(c), problems)) return reply(*e);
  if (!problems.empty()) return reply(invalid(type, name, problems));
  normalize_write(type, next);
  next = to_stored(type, std::move(next));
  if (!c.status()) {
    if (auto semantic = validate_semantics(type, next, old.get()); !semantic.empty()) return reply(invalid(type, name, semantic));
  }
  return store_update(c, std::move(next), *current, *old, dry_run(c));
}

ApiResult ApiHandler::store_update(const Call& c, json::object next, const StoredObject& current, const json::object& old_tree,
                                   bool dry) {
  const ResourceType& type = c.type;
  const json::object* old = &old_tree;
  json::object result;
  if (c.status()) {
    // Only .status changes through the status subresource.
    result = *old;
    if (auto* s = next.if_contains("status")) result["status"] = *s;
    else result.erase("status");
  } else {
    result = std::move(next);
    if (type.status_subresource) {
      if (const auto* s = old->if_contains("status")) result["status"] = *s;
      else result.erase("status");
    }
    auto& m = meta_of(result);
    const auto& om = old->at("metadata").as_object();
    for (const char* keep : {"uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"}) {
      if (const auto* v = om.if_contains(keep)) m[keep] = *v;
      else m.erase(keep);
    }
    m.erase("managedFields");
    if (!type.builtin && spec_changed(*old, result)) m["generation"] = om.at("generation").to_number<std::int64_t>() + 1;
    if (is_namespaces(type)) {
      auto& labels = m["labels"];
      if (!labels.is_object()) labels = json::object{};
      labels.as_object()[kNamespaceNameLabel] = c.name();
    }
  }
  meta_of(result)["resourceVersion"] = meta_str(*old, "resourceVersion");
  if (result == *old) return reply(ApiResponse{200, "application/json", served_json(type, current)});
  if (dry) return reply(json_response(200, to_served(type, result)));
  // The last finalizer removed from an object being deleted: it goes away now.
  if (!meta_str(result, "deletionTimestamp").empty() && !has_finalizers(result)) {
    store_.put(type.plural, std::move(result));
    StoredPtr gone = store_.erase(type.plural, c.key());
    return reply(ApiResponse{200, "application/json", served_json(type, *gone)}, true);
  }
  StoredPtr stored = store_.put(type.plural, std::move(result));
  return reply(ApiResponse{200, "application/json", served_json(type, *stored)}, true);
}

ApiResult ApiHandler::remove(const Call& c) {
  const ResourceType& type = c.type;
  if (auto e = check_write_options(c, "DeleteOptions")) return *e;
  const std::string policy = c.q("propagationPolicy");
  if (!policy.empty() && policy != "Orphan" && policy != "Background" && policy != "Foreground")
    return invalid_options("DeleteOptions", "propagationPolicy",
                           "propagationPolicy: Unsupported value: \"" + policy +
                               "\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"");
  QueryReader qr{c, {}};
  qr.integer("gracePeriodSeconds");
  qr.boolean("orphanDependents");
  if (!qr.error.empty()) return reply(status_error(400, "BadRequest", qr.error));
  const StoredPtr current = store_.find(type.plural, c.key());
  if (!current) return not_found(type, c.name());
  if (is_namespaces(type)) return remove_namespace(c, *current);
  const json::object old = current->parse();
  if (has_finalizers(old)) {
    if (!meta_str(old, "deletionTimestamp").empty()) return reply(ApiResponse{200, "application/json", served_json(type, *current)});
    json::object next = old;
    meta_of(next)["deletionTimestamp"] = format_rfc3339(clock_());
    meta_of(next)["deletionGracePeriodSeconds"] = 0;
    if (dry_run(c)) return reply(json_response(200, to_served(type, next)));
    StoredPtr stored = store_.put(type.plural, std::move(next));
    return reply(ApiResponse{200, "application/json", served_json(type, *stored)}, true);
  }
  json::object details{{"name", c.name()}, {"kind", type.plural}, {"uid", meta_str(old, "uid")}};
  if (!type.group.empty()) details["group"] = type.group;
  json::object body{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}}, {"status", "Success"},
                    {"details", std::move(details)}};
  if (dry_run(c)) return reply(json_response(200, body));
  store_.erase(type.plural, c.key());
  return reply(json_response(200, body), true);
}

ApiResult ApiHandler::remove_namespace(const Call& c, const StoredObject& current) {
  const ResourceType& type = c.type;
  const std::string& name = c.name();
  if (immortal_namespace(name))
    return reply(status_error(403, "Forbidden", "namespaces \"" + name + "\" is forbidden: this namespace may not be deleted",
                              &type, name));
  json::object next = current.parse();
  if (!meta_str(next, "deletionTimestamp").empty()) {
    return reply(status_error(409, "Conflict",
                              "Operation cannot be fulfilled on namespaces \"" + name +
                                  "\": The system is ensuring all content is removed from this namespace.  Upon "
                                  "completion, this namespace will automatically be purged by the system.",
                              &type, name));
  }
  meta_of(next)["deletionTimestamp"] = format_rfc3339(clock_());
  meta_of(next)["deletionGracePeriodSeconds"] = 0;
  next["status"] = json::object{{"phase", "Terminating"}};
  if (dry_run(c)) return reply(json_response(200, next));
  const bool finalizers = has_finalizers(next);
  StoredPtr terminating = store_.put(type.plural, std::move(next));
  // Everything in it goes now (kube's namespace controller does this in the background; here
  // it is done before the answer), then the namespace itself unless finalizers hold it.
  const std::string prefix = name + "/";
  std::vector<std::string> plurals;
  for (const auto& t : builtin_resource_types())
    if (t.namespaced && std::find(plurals.begin(), plurals.end(), t.plural) == plurals.end()) plurals.push_back(t.plural);
  for (const auto& plural : plurals) {
    std::vector<std::string> keys;
    const auto& all = store_.objects(plural);
    for (auto it = all.lower_bound(std::string_view(prefix)); it != all.end() && (*it)->key().starts_with(prefix); ++it)
      keys.emplace_back((*it)->key());
    for (const auto& k : keys) store_.erase(plural, k);
  }
  if (finalizers) return reply(ApiResponse{200, "application/json", std::string(terminating->json())}, true);
  StoredPtr gone = store_.erase(type.plural, name);
  return reply(ApiResponse{200, "application/json", std::string(gone->json())}, true);
}

bool ApiHandler::cap_events() {
  const auto& all = store_.objects("events");
  if (event_limits_.max_events == 0 || all.size() <= event_limits_.max_events) return false;
  // Over the bound: drop the oldest, down to 1% below it so that this scan is not repeated
  // on every following create.
  const std::size_t keep = event_limits_.max_events - event_limits_.max_events / 100;
  std::vector<std::pair<std::chrono::system_clock::time_point, std::string>> aged;
  aged.reserve(all.size());
  for (const auto& stored : all)
    aged.emplace_back(stored->last_seen().value_or(std::chrono::system_clock::time_point{}), stored->key());
  const std::size_t drop = all.size() - keep;
  std::nth_element(aged.begin(), aged.begin() + static_cast<std::ptrdiff_t>(drop - 1), aged.end());
  std::sort(aged.begin(), aged.begin() + static_cast<std::ptrdiff_t>(drop));
  for (std::size_t i = 0; i < drop; ++i) store_.erase("events", aged[i].second);
  return true;
}

std::size_t ApiHandler::expire_events() {
  const auto cutoff = clock_() - event_limits_.ttl;
  std::vector<std::string> expired;
  for (const auto& stored : store_.objects("events")) {
    const auto seen = stored->last_seen();
    if (!seen || *seen < cutoff) expired.emplace_back(stored->key());
  }
  for (const auto& key : expired) store_.erase("events", key);
  return expired.size();
}

}  // namespace ironboot::kube
