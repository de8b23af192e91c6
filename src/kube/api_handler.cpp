#include "kube/api_handler.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <random>

#include "common/base64.hpp"
#include "common/time.hpp"
#include "kube/api_discovery.hpp"
#include "kube/json_ops.hpp"
#include "kube/names.hpp"
#include "kube/objects.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxListLimit = 100000;

ApiResponse json_response(unsigned status, const json::value& body) {
  return ApiResponse{status, "application/json", json::serialize(body)};
}

std::string group_resource(const ResourceType& t) { return t.plural + "." + kGroup; }

bool wants_table(const std::string& accept) { return accept.find("as=Table") != std::string::npos; }

json::object& meta_of(json::object& o) {
  auto& m = o["metadata"];
  if (!m.is_object()) m = json::object{};
  return m.as_object();
}

std::string str_field(const json::object& o, const char* key) { return std::string(objects::string_at(o, key)); }

std::string meta_str(const json::object& o, const char* key) {
  const auto* m = objects::object_at(o, "metadata");
  return m ? str_field(*m, key) : std::string();
}

bool has_finalizers(const json::object& o) {
  const auto* m = objects::object_at(o, "metadata");
  const auto* f = m ? objects::array_at(*m, "finalizers") : nullptr;
  return f && !f->empty();
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

std::string list_json(const ResourceType& type, const std::vector<StoredObject>& items, std::uint64_t rv,
                      const std::string& cont) {
  // Serialized by hand: copying 10k objects into a json::array only to print them is slow.
  std::string out = "{\"kind\":\"" + type.list_kind + "\",\"apiVersion\":\"" + kApiVersion +
                    "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(rv) + "\"";
  if (!cont.empty()) out += ",\"continue\":\"" + cont + "\"";
  out += "},\"items\":[";
  std::size_t total = out.size() + 2;
  for (const auto& o : items) total += o.json->size() + 1;
  out.reserve(total);
  bool first = true;
  for (const auto& o : items) {
    if (!first) out += ',';
    first = false;
    out += *o.json;
  }
  out += "]}";
  return out;
}

}  // namespace

std::string random_uid() {
  static std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx", static_cast<unsigned long long>(a >> 32),
                static_cast<unsigned long long>((a >> 16) & 0xffff), static_cast<unsigned long long>(a & 0xffff),
                static_cast<unsigned long long>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

ApiResponse status_error(unsigned code, const std::string& reason, const std::string& message, const ResourceType* type,
                         const std::string& name, const json::array& causes) {
  json::object details;
  if (!name.empty()) details["name"] = name;
  if (type) {
    details["group"] = kGroup;
    details["kind"] = type->plural;
  }
  if (!causes.empty()) details["causes"] = causes;
  json::object body{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}}, {"status", "Failure"},
                    {"message", message}, {"reason", reason}, {"code", code}};
  if (!details.empty()) body["details"] = std::move(details);
  return json_response(code, body);
}

ApiHandler::ApiHandler(Store& store, Clock clock, UidSource uid)
    : store_(store), clock_(std::move(clock)), uid_(std::move(uid)) {}

ApiResult ApiHandler::handle(const ApiRequest& req) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) return {status_error(400, "BadRequest", "malformed request target"), std::nullopt, false};
  const std::string path(parsed->path());
  std::map<std::string, std::string> query;
  for (const auto& p : parsed->params()) query[std::string(p.key)] = std::string(p.value);

  if (auto discovery = discovery_response(req.method, path, req.accept)) return {*discovery, std::nullopt, false};

  const std::string prefix = std::string("/apis/") + kApiVersion + "/";
  if (path.rfind(prefix, 0) != 0) {
    return {status_error(404, "NotFound", "the server could not find the requested resource"), std::nullopt, false};
  }
  std::vector<std::string> parts;
  std::string rest = path.substr(prefix.size());
  std::size_t pos = 0;
  while (pos <= rest.size()) {
    auto slash = rest.find('/', pos);
    parts.push_back(rest.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  if (!parts.empty() && parts.back().empty()) parts.pop_back();
  const ResourceType* type = parts.empty() ? nullptr : find_resource_type(parts[0]);
  if (!type || parts.size() > 3 || (parts.size() == 3 && parts[2] != "status")) {
    return {status_error(404, "NotFound", "the server could not find the requested resource"), std::nullopt, false};
  }
  return handle_resource(req, *type, parts.size() > 1 ? parts[1] : std::string(), parts.size() == 3, query);
}

ApiResult ApiHandler::handle_resource(const ApiRequest& req, const ResourceType& type, const std::string& name,
                                      bool status, const std::map<std::string, std::string>& query) {
  const std::string& m = req.method;
  if (name.empty()) {
    if (m == "GET") return list(req, type, query);
    if (m == "POST") return create(req, type, query);
    return {status_error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource",
                         &type),
            std::nullopt, false};
  }
  if (m == "GET") return get(req, type, name);
  if (m == "PUT" || m == "PATCH") return write(req, type, name, status, query);
  if (m == "DELETE" && !status) return remove(type, name);
  return {status_error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", &type),
          std::nullopt, false};
}

ApiResult ApiHandler::list(const ApiRequest& req, const ResourceType& type, const std::map<std::string, std::string>& query) {
  auto q = [&](const char* k) {
    auto it = query.find(k);
    return it == query.end() ? std::string() : it->second;
  };
  std::string err;
  auto labels = parse_label_selector(q("labelSelector"), &err);
  if (!labels) return {status_error(400, "BadRequest", "unable to parse requirement: " + err), std::nullopt, false};
  auto fields = parse_field_selector(q("fieldSelector"), &err);
  if (!fields) return {status_error(400, "BadRequest", err), std::nullopt, false};
  const bool table = wants_table(req.accept);

  if (q("watch") == "true" || q("watch") == "1") {
    WatchPlan plan;
    plan.type = &type;
    plan.table = table;
    plan.labels = *labels;
    plan.fields = *fields;
    plan.bookmarks = q("allowWatchBookmarks") == "true";
    if (!q("timeoutSeconds").empty()) {
      try {
        plan.timeout = std::chrono::seconds(std::stoul(q("timeoutSeconds")));
      } catch (...) {
        return {status_error(400, "BadRequest", "invalid timeoutSeconds"), std::nullopt, false};
      }
    }
    const std::string rv = q("resourceVersion");
    if (rv.empty() || rv == "0") {
      plan.send_initial = true;
      plan.since = store_.resource_version();
    } else {
      try {
        plan.since = std::stoull(rv);
      } catch (...) {
        return {status_error(400, "BadRequest", "invalid resourceVersion " + rv), std::nullopt, false};
      }
      if (plan.since < store_.history_floor()) {
        return {status_error(410, "Expired", "too old resource version: " + rv + " (" +
                                                 std::to_string(store_.history_floor()) + ")"),
                std::nullopt, false};
      }
    }
    ApiResult r;
    r.watch = std::move(plan);
    r.response.content_type = "application/json";
    return r;
  }

  std::size_t limit = 0;
  if (!q("limit").empty()) {
    try {
      limit = std::min<std::size_t>(std::stoul(q("limit")), kMaxListLimit);
    } catch (...) {
      return {status_error(400, "BadRequest", "invalid limit"), std::nullopt, false};
    }
  }
  std::string start_after;
  if (!q("continue").empty()) {
    auto decoded = base64url_decode(q("continue"));
    std::optional<json::value> token = decoded ? parse_json(*decoded) : std::nullopt;
    if (!token || !token->is_object() || !token->as_object().contains("start") ||
        !token->at("start").is_string() || !token->as_object().contains("rv") || !token->at("rv").is_number()) {
      return {status_error(400, "BadRequest", "invalid continue token"), std::nullopt, false};
    }
    if (token->at("rv").to_number<std::uint64_t>() < store_.history_floor()) {
      return {status_error(410, "Expired",
                           "The provided continue parameter is too old to display a consistent list result. "
                           "You can start a new list without the continue parameter."),
              std::nullopt, false};
    }
    start_after = std::string(token->at("start").as_string());
  }
  const auto& all = store_.objects(type.plural);
  std::vector<StoredObject> items;
  std::string cont;
  auto it = start_after.empty() ? all.begin() : all.upper_bound(start_after);
  for (; it != all.end(); ++it) {
    if (!fields->matches(it->first)) continue;
    if (!labels->matches(objects::labels_of(*it->second.object))) continue;
    if (limit && items.size() == limit) {
      cont = base64url_encode(json::serialize(json::object{{"rv", store_.resource_version()}, {"start", meta_str(*items.back().object, "name")}}));
      break;
    }
    items.push_back(it->second);
  }
  const std::uint64_t rv = store_.resource_version();
  if (table) {
    std::vector<ObjectPtr> objects;
    objects.reserve(items.size());
    for (const auto& i : items) objects.push_back(i.object);
    json::object t = render_table(type, objects, clock_());
    json::object meta{{"resourceVersion", std::to_string(rv)}};
    if (!cont.empty()) meta["continue"] = cont;
    t["metadata"] = std::move(meta);
    return {json_response(200, t), std::nullopt, false};
  }
  return {ApiResponse{200, "application/json", list_json(type, items, rv, cont)}, std::nullopt, false};
}

ApiResult ApiHandler::get(const ApiRequest& req, const ResourceType& type, const std::string& name) {
  auto [obj, text] = store_.find(type.plural, name);
  if (!obj) return {status_error(404, "NotFound", group_resource(type) + " \"" + name + "\" not found", &type, name), std::nullopt, false};
  if (wants_table(req.accept)) {
    json::object t = render_table(type, {obj}, clock_());
    t["metadata"] = json::object{{"resourceVersion", meta_str(*obj, "resourceVersion")}};
    return {json_response(200, t), std::nullopt, false};
  }
  return {ApiResponse{200, "application/json", *text}, std::nullopt, false};
}

namespace {

// Parses a request body as JSON (or YAML for apply); an error response otherwise.
std::optional<json::value> parse_body(const ApiRequest& req, ApiResponse& error) {
  std::string err;
  std::optional<json::value> v;
  if (req.content_type.find("yaml") != std::string::npos) v = yaml_to_json(req.body, &err);
  else v = parse_json(req.body, &err);
  if (!v) error = status_error(400, "BadRequest", "the request body is not valid: " + err);
  return v;
}

// Validates against the CRD schema and prunes unknown fields; an error response otherwise.
std::optional<ApiResponse> validate(const ResourceType& type, json::object& obj, const std::string& name, bool strict) {
  ValidationReport report = validate_and_prune(type, obj);
  if (strict && !report.unknown_fields.empty()) {
    std::string msg = type.kind + " in version \"" + kVersion + "\" cannot be handled as a " + type.kind +
                      ": strict decoding error: ";
    for (std::size_t i = 0; i < report.unknown_fields.size(); ++i)
      msg += (i ? ", " : "") + std::string("unknown field \"") + report.unknown_fields[i] + "\"";
    return status_error(400, "BadRequest", msg, &type, name);
  }
  if (!report.problems.empty()) {
    json::array causes;
    std::string msg = type.kind + "." + kGroup + " \"" + name + "\" is invalid: ";
    if (report.problems.size() > 1) msg += "[";
    for (std::size_t i = 0; i < report.problems.size(); ++i) {
      msg += (i ? ", " : "") + report.problems[i].message;
      // kubectl prints causes as "field: message".
      std::string cause = report.problems[i].message;
      if (cause.rfind(report.problems[i].field + ": ", 0) == 0) cause.erase(0, report.problems[i].field.size() + 2);
      causes.push_back(json::object{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", report.problems[i].field}});
    }
    if (report.problems.size() > 1) msg += "]";
    return status_error(422, "Invalid", msg, &type, name, causes);
  }
  return std::nullopt;
}

bool query_true(const std::map<std::string, std::string>& q, const char* key, const char* value) {
  auto it = q.find(key);
  return it != q.end() && it->second == value;
}

}  // namespace

ApiResult ApiHandler::create(const ApiRequest& req, const ResourceType& type, const std::map<std::string, std::string>& query,
                             std::optional<json::object> body_override) {
  ApiResponse error;
  json::object obj;
  if (body_override) {
    obj = std::move(*body_override);
  } else {
    auto body = parse_body(req, error);
    if (!body) return {error, std::nullopt, false};
    if (!body->is_object()) return {status_error(400, "BadRequest", "the request body must be an object"), std::nullopt, false};
    obj = std::move(body->as_object());
  }
  if (str_field(obj, "apiVersion") != kApiVersion || str_field(obj, "kind") != type.kind) {
    return {status_error(400, "BadRequest", "the API version in the data (" + str_field(obj, "apiVersion") + ", kind " +
                                                str_field(obj, "kind") + ") does not match the expected " + kApiVersion +
                                                " " + type.kind),
            std::nullopt, false};
  }
  auto& meta = meta_of(obj);
  std::string name = meta_str(obj, "name");
  if (name.empty() && !meta_str(obj, "generateName").empty()) {
    name = meta_str(obj, "generateName") + uid_().substr(0, 5);
    meta["name"] = name;
  }
  if (!valid_dns_subdomain(name)) {
    const std::string cause = name.empty() ? std::string("Required value: name or generateName is required")
                                           : "Invalid value: \"" + name + "\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
    const std::string msg = type.kind + "." + kGroup + " \"" + name + "\" is invalid: metadata.name: " + cause;
    json::array causes{json::object{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", "metadata.name"}}};
    return {status_error(422, "Invalid", msg, &type, name, causes), std::nullopt, false};
  }
  if (auto e = validate(type, obj, name, query_true(query, "fieldValidation", "Strict"))) return {*e, std::nullopt, false};
  if (store_.get(type.plural, name)) {
    return {status_error(409, "AlreadyExists", group_resource(type) + " \"" + name + "\" already exists", &type, name),
            std::nullopt, false};
  }
  auto& m = meta_of(obj);
  m.erase("resourceVersion");
  m.erase("deletionTimestamp");
  m.erase("managedFields");
  m.erase("namespace");
  m["uid"] = uid_();
  m["creationTimestamp"] = format_rfc3339(clock_());
  m["generation"] = 1;
  if (type.status_subresource) obj.erase("status");
  if (query_true(query, "dryRun", "All")) {
    m["resourceVersion"] = std::to_string(store_.resource_version());
    return {json_response(201, obj), std::nullopt, false};
  }
  StoredObject stored = store_.put(type.plural, std::move(obj));
  return {ApiResponse{201, "application/json", *stored.json}, std::nullopt, true};
}

ApiResult ApiHandler::write(const ApiRequest& req, const ResourceType& type, const std::string& name, bool status,
                            const std::map<std::string, std::string>& query) {
  const std::string ct = req.content_type;
  const bool apply = ct.find("application/apply-patch") == 0;
  const StoredObject current = store_.find(type.plural, name);
  const ObjectPtr& old = current.object;
  ApiResponse error;
  json::object next;
  bool check_rv = false;
  if (req.method == "PUT") {
    auto body = parse_body(req, error);
    if (!body) return {error, std::nullopt, false};
    if (!body->is_object()) return {status_error(400, "BadRequest", "the request body must be an object"), std::nullopt, false};
    next = std::move(body->as_object());
    if (str_field(next, "apiVersion") != kApiVersion || str_field(next, "kind") != type.kind)
      return {status_error(400, "BadRequest", "the API version or kind in the data does not match " + std::string(kApiVersion) + " " + type.kind), std::nullopt, false};
    if (meta_str(next, "name") != name)
      return {status_error(400, "BadRequest", "the name of the object (" + meta_str(next, "name") +
                                                  ") does not match the name on the URL (" + name + ")"),
              std::nullopt, false};
    if (!old) return {status_error(404, "NotFound", group_resource(type) + " \"" + name + "\" not found", &type, name), std::nullopt, false};
    if (meta_str(next, "resourceVersion").empty()) {
      return {status_error(422, "Invalid", type.kind + "." + kGroup + " \"" + name +
                                               "\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                           &type, name),
              std::nullopt, false};
    }
    check_rv = true;
  } else {
    if (ct.find("strategic-merge-patch") != std::string::npos) {
      return {status_error(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types include: "
                           "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"),
              std::nullopt, false};
    }
    auto patch = parse_body(req, error);
    if (!patch) return {error, std::nullopt, false};
    if (!old) {
      if (apply && !status) {
        if (!patch->is_object()) return {status_error(400, "BadRequest", "the apply body must be an object"), std::nullopt, false};
        return create(req, type, query, patch->as_object());
      }
      return {status_error(404, "NotFound", group_resource(type) + " \"" + name + "\" not found", &type, name), std::nullopt, false};
    }
    json::value doc = *old;
    if (ct.find("application/json-patch+json") == 0) {
      if (auto err = apply_json_patch(doc, *patch)) {
        return {status_error(422, "Invalid", "the server rejected our request due to an error in our request: " + *err, &type, name),
                std::nullopt, false};
      }
    } else if (ct.find("application/merge-patch+json") == 0 || apply) {
      if (!patch->is_object()) return {status_error(400, "BadRequest", "a merge patch must be an object"), std::nullopt, false};
      // A patch that names a resourceVersion is a precondition, like an update.
      check_rv = !meta_str(patch->as_object(), "resourceVersion").empty();
      doc = merge_patch(doc, *patch);
    } else {
      return {status_error(415, "UnsupportedMediaType", "unsupported patch type " + ct), std::nullopt, false};
    }
    if (!doc.is_object()) return {status_error(422, "Invalid", "the patched document is not an object", &type, name), std::nullopt, false};
    next = std::move(doc.as_object());
  }
  if (check_rv && meta_str(next, "resourceVersion") != meta_str(*old, "resourceVersion")) {
    return {status_error(409, "Conflict",
                         "Operation cannot be fulfilled on " + group_resource(type) + " \"" + name +
                             "\": the object has been modified; please apply your changes to the latest version and try again",
                         &type, name),
            std::nullopt, false};
  }
  if (str_field(next, "apiVersion").empty()) next["apiVersion"] = kApiVersion;
  if (str_field(next, "kind").empty()) next["kind"] = type.kind;
  if (meta_str(next, "name") != name) {
    return {status_error(400, "BadRequest", "metadata.name cannot be changed (" + name + ")"), std::nullopt, false};
  }
  if (auto e = validate(type, next, name, query_true(query, "fieldValidation", "Strict"))) return {*e, std::nullopt, false};
  return store_update(type, name, status, std::move(next), current, query_true(query, "dryRun", "All"));
}

ApiResult ApiHandler::store_update(const ResourceType& type, const std::string& name, bool status, json::object next,
                                   const StoredObject& current, bool dry_run) {
  const ObjectPtr& old = current.object;
  json::object result;
  if (status) {
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
    for (const char* keep : {"uid", "creationTimestamp", "generation", "deletionTimestamp"}) {
      if (const auto* v = om.if_contains(keep)) m[keep] = *v;
      else m.erase(keep);
    }
    m.erase("managedFields");
    m.erase("namespace");
    if (spec_changed(*old, result)) m["generation"] = om.at("generation").to_number<std::int64_t>() + 1;
  }
  meta_of(result)["resourceVersion"] = meta_str(*old, "resourceVersion");
  if (result == *old) return {ApiResponse{200, "application/json", *current.json}, std::nullopt, false};
  if (dry_run) return {json_response(200, result), std::nullopt, false};
  // The last finalizer removed from an object being deleted: it goes away now.
  if (!meta_str(result, "deletionTimestamp").empty() && !has_finalizers(result)) {
    store_.put(type.plural, std::move(result));
    StoredObject gone = store_.erase(type.plural, name);
    return {ApiResponse{200, "application/json", *gone.json}, std::nullopt, true};
  }
  StoredObject stored = store_.put(type.plural, std::move(result));
  return {ApiResponse{200, "application/json", *stored.json}, std::nullopt, true};
}

ApiResult ApiHandler::remove(const ResourceType& type, const std::string& name) {
  auto [old, old_json] = store_.find(type.plural, name);
  if (!old) return {status_error(404, "NotFound", group_resource(type) + " \"" + name + "\" not found", &type, name), std::nullopt, false};
  if (has_finalizers(*old)) {
    if (!meta_str(*old, "deletionTimestamp").empty()) return {ApiResponse{200, "application/json", *old_json}, std::nullopt, false};
    json::object next = *old;
    meta_of(next)["deletionTimestamp"] = format_rfc3339(clock_());
    meta_of(next)["deletionGracePeriodSeconds"] = 0;
    StoredObject stored = store_.put(type.plural, std::move(next));
    return {ApiResponse{200, "application/json", *stored.json}, std::nullopt, true};
  }
  ObjectPtr gone = store_.erase(type.plural, name).object;
  json::object body{{"kind", "Status"},
                    {"apiVersion", "v1"},
                    {"metadata", json::object{}},
                    {"status", "Success"},
                    {"details", json::object{{"name", name}, {"group", kGroup}, {"kind", type.plural}, {"uid", meta_str(*gone, "uid")}}}};
  return {json_response(200, body), std::nullopt, true};
}

std::string ApiHandler::encode_object(const WatchPlan& plan, const char* event, const StoredObject& stored) const {
  std::string out = std::string("{\"type\":\"") + event + "\",\"object\":";
  if (plan.table) {
    json::object t = render_table(*plan.type, {stored.object}, clock_());
    t["metadata"] = json::object{{"resourceVersion", meta_str(*stored.object, "resourceVersion")}};
    out += json::serialize(t);
  } else {
    out.reserve(out.size() + stored.json->size() + 2);
    out += *stored.json;
  }
  out += "}\n";
  return out;
}

std::vector<std::string> ApiHandler::initial_events(const WatchPlan& plan) const {
  std::vector<std::string> out;
  if (plan.send_initial) {
    for (const auto& [name, stored] : store_.objects(plan.type->plural)) {
      if (!plan.fields.matches(name) || !plan.labels.matches(objects::labels_of(*stored.object))) continue;
      out.push_back(encode_object(plan, "ADDED", stored));
    }
    return out;
  }
  std::vector<Change> changes;
  store_.changes_since(plan.since, changes);
  for (const auto& c : changes) {
    std::string e = encode_change(plan, c);
    if (!e.empty()) out.push_back(std::move(e));
  }
  return out;
}

std::string ApiHandler::encode_change(const WatchPlan& plan, const Change& change) const {
  if (change.resource != plan.type->plural || !plan.fields.matches(change.name)) return {};
  auto visible = [&](const ObjectPtr& o) {
    return o && plan.labels.matches(objects::labels_of(*o));
  };
  const bool was = visible(change.previous);
  const bool is = change.type != ChangeType::Deleted && visible(change.object);
  const StoredObject now{change.object, change.json};
  if (change.type == ChangeType::Deleted) return was ? encode_object(plan, "DELETED", now) : std::string();
  if (was && is) return encode_object(plan, "MODIFIED", now);
  if (is) return encode_object(plan, "ADDED", now);
  if (was) return encode_object(plan, "DELETED", now);
  return {};
}

std::string ApiHandler::encode_bookmark(const WatchPlan& plan) const {
  json::object obj{{"kind", plan.type->kind},
                   {"apiVersion", kApiVersion},
                   {"metadata", json::object{{"resourceVersion", std::to_string(store_.resource_version())}}}};
  return "{\"type\":\"BOOKMARK\",\"object\":" + json::serialize(obj) + "}\n";
}

}  // namespace ironboot::kube
