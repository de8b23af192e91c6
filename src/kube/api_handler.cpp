// Routing, reads (get, list, watch) and the shared helpers of the API handler; writes are in
// api_handler_write.cpp.
#include "kube/api_handler.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <random>

#include "common/base64.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "kube/api_core_types.hpp"
#include "kube/api_discovery.hpp"
#include "kube/api_handler_util.hpp"
#include "kube/json_ops.hpp"

namespace ironboot::kube {

namespace json = boost::json;
using namespace handler_detail;

namespace {

constexpr std::size_t kMaxListLimit = 100000;
// A watch's timeoutSeconds beyond this is cut to it (the client re-watches); unset: 30 min.
constexpr std::chrono::seconds kMaxWatchTimeout{3600};
constexpr std::chrono::seconds kDefaultWatchTimeout{1800};

bool wants_table(const std::string& accept) { return accept.find("as=Table") != std::string::npos; }

// The type whose objects a resource's store map holds (the core/v1 one for events).
const ResourceType* storage_type(const std::string& plural) {
  if (plural == "events") return find_resource_type("", "v1", "events");
  for (const auto& t : builtin_resource_types())
    if (t.plural == plural) return &t;
  return nullptr;
}

// A stored object's value for a field label, from its key and index.
std::string indexed_field(const ResourceType& type, std::string_view key, const StoredObject& stored,
                          const std::string& label) {
  if (label == "metadata.namespace") return std::string(namespace_of_key(key));
  if (label == "metadata.name") {
    const auto ns = namespace_of_key(key);
    return std::string(ns.empty() ? key : key.substr(ns.size() + 1));
  }
  const auto& labels = field_labels(type);
  // The index holds the labels after metadata.name and metadata.namespace, in this order.
  for (std::size_t i = 2; i < labels.size(); ++i)
    if (labels[i] == label) return std::string(stored.field(i - 2));
  return {};
}

// The tree of a stored object in the shape `type` serves.
json::object served_object(const ResourceType& type, const StoredObject& stored) {
  json::object tree = stored.parse();
  return stored_as_core_event(type) ? to_served(type, tree) : tree;
}

ObjectPtr served_tree(const ResourceType& type, const StoredObject& stored) {
  return std::make_shared<const json::object>(served_object(type, stored));
}

std::string list_json(const ResourceType& type, const std::vector<std::string_view>& items, std::uint64_t rv,
                      const std::string& cont) {
  // Serialized by hand: copying 10k objects into a json::array only to print them is slow.
  std::string out = "{\"kind\":\"" + type.list_kind + "\",\"apiVersion\":\"" + type.api_version() +
                    "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(rv) + "\"";
  if (!cont.empty()) out += ",\"continue\":\"" + cont + "\"";
  out += "},\"items\":[";
  std::size_t total = out.size() + 2;
  for (const auto o : items) total += o.size() + 1;
  out.reserve(total);
  bool first = true;
  for (const auto o : items) {
    if (!first) out += ',';
    first = false;
    out += o;
  }
  out += "]}";
  return out;
}

bool has_verb(const ResourceType& t, const char* verb) {
  return std::find(t.verbs.begin(), t.verbs.end(), verb) != t.verbs.end();
}

}  // namespace

namespace handler_detail {

ApiResult invalid_options(const char* kind, const std::string& field, const std::string& message) {
  const std::string cause = message.rfind(field + ": ", 0) == 0 ? message.substr(field.size() + 2) : message;
  json::object details{{"group", "meta.k8s.io"}, {"kind", kind},
                       {"causes", json::array{json::object{{"reason", "FieldValueInvalid"}, {"message", cause}, {"field", field}}}}};
  json::object body{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}}, {"status", "Failure"},
                    {"message", std::string(kind) + ".meta.k8s.io \"\" is invalid: " + message}, {"reason", "Invalid"},
                    {"details", std::move(details)}, {"code", 422}};
  return reply(json_response(422, body));
}

std::optional<bool> QueryReader::boolean(const char* key) {
  if (!call.has(key)) return std::nullopt;
  const std::string v = call.q(key);
  auto b = parse_go_bool(v);
  if (!b && error.empty()) error = std::string("invalid ") + key + ": " + v;
  return b;
}

std::optional<std::int64_t> QueryReader::integer(const char* key) {
  if (!call.has(key)) return std::nullopt;
  const std::string v = call.q(key);
  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
    if (error.empty()) error = std::string("invalid ") + key + ": " + v;
    return std::nullopt;
  }
  return n;
}

std::optional<ApiResult> check_write_options(const ApiHandler::Call& call, const char* kind) {
  if (call.has("dryRun") && call.q("dryRun") != "All")
    return invalid_options(kind, "dryRun", "dryRun: Unsupported value: " + json::serialize(json::value(call.q("dryRun"))) +
                                               ": supported values: \"All\"");
  if (std::string(kind) != "DeleteOptions") {
    const std::string fv = call.q("fieldValidation");
    if (!fv.empty() && fv != "Ignore" && fv != "Warn" && fv != "Strict")
      return reply(status_error(400, "BadRequest", "invalid fieldValidation directive: " + fv +
                                                       " (supported values: \"Ignore\", \"Warn\", \"Strict\")"));
  }
  QueryReader r{call, {}};
  r.boolean("pretty");
  r.boolean("force");
  if (!r.error.empty()) return reply(status_error(400, "BadRequest", r.error));
  return std::nullopt;
}

bool dry_run(const ApiHandler::Call& call) { return call.q("dryRun") == "All"; }
bool strict_fields(const ApiHandler::Call& call) { return call.q("fieldValidation") == "Strict"; }

}  // namespace handler_detail

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
    if (!type->group.empty()) details["group"] = type->group;
    details["kind"] = type->plural;
  }
  if (!causes.empty()) details["causes"] = causes;
  json::object body{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object{}}, {"status", "Failure"},
                    {"message", message}, {"reason", reason}, {"code", code}};
  if (!details.empty()) body["details"] = std::move(details);
  return json_response(code, body);
}

ApiHandler::ApiHandler(Store& store, Clock clock, UidSource uid)
    : store_(store), clock_(std::move(clock)), uid_(std::move(uid)) {
  store_.set_indexer([](const std::string& resource, const json::object& object, ObjectIndex& index) {
    const ResourceType* type = storage_type(resource);
    if (!type) return;
    const auto& labels = field_labels(*type);
    for (std::size_t i = 2; i < labels.size(); ++i) {
      index.fields += field_value(*type, object, labels[i]);
      index.fields += '\0';
    }
    if (resource == "events") index.last_seen = event_last_seen(object);
  });
}

ApiResult ApiHandler::handle(const ApiRequest& req) {
  std::string error;
  auto info = parse_request_info(req.method, req.target, &error);
  if (!info) {
    if (error == "malformed request target") return reply(status_error(400, "BadRequest", error));
    return no_route();
  }
  if (auto discovery = discovery_response(req.method, info->path, req.accept)) return reply(*discovery);
  if (!info->resource_request) return no_route();
  const ResourceType* type = find_resource_type(info->group, info->version, info->resource);
  if (!type) return no_route();
  // Scope: a namespaced type is reached under namespaces/{ns}/, except for lists and
  // watches across all namespaces; a cluster-scoped one never is.
  const bool collection_read = info->name.empty() && (req.method == "GET" || req.method == "HEAD");
  if (type->namespaced ? info->namespace_name.empty() && !collection_read : !info->namespace_name.empty())
    return no_route();
  if (!info->subresource.empty() && !(info->subresource == "status" && type->status_subresource)) return no_route();
  // Types without storage (the authorization reviews) are answered elsewhere, not here.
  if (!has_verb(*type, "get")) return no_route();
  const Call call{req, *info, *type};
  const std::string& m = req.method;
  auto not_allowed = [&] {
    return reply(status_error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", type));
  };
  if (info->name.empty()) {
    if (m == "GET") return list(call);
    if (m == "POST" && info->subresource.empty()) return create(call);
    return not_allowed();
  }
  if (m == "GET") return get(call);
  if (m == "PUT" || m == "PATCH") return write(call);
  if (m == "DELETE" && info->subresource.empty()) return remove(call);
  return not_allowed();
}

std::string ApiHandler::served_json(const ResourceType& type, const StoredObject& stored) const {
  if (!stored_as_core_event(type)) return std::string(stored.json());
  return json::serialize(to_served(type, stored.parse()));
}

bool ApiHandler::plan_sees(const WatchPlan& plan, const StoredObject& stored) const {
  const std::string_view key = stored.key();
  if (!plan.namespace_name.empty() && namespace_of_key(key) != plan.namespace_name) return false;
  if (!plan.labels.matches([&](std::string_view name) { return stored.label(name); })) return false;
  return plan.fields.empty() ||
         plan.fields.matches([&](const std::string& label) { return indexed_field(*plan.type, key, stored, label); });
}

ApiResult ApiHandler::list(const Call& c) {
  const ResourceType& type = c.type;
  std::string err;
  auto labels = parse_label_selector(c.q("labelSelector"), &err);
  if (!labels) return reply(status_error(400, "BadRequest", "unable to parse requirement: " + err));
  auto fields = parse_field_selector(c.q("fieldSelector"), &err, field_labels(type));
  if (!fields) return reply(status_error(400, "BadRequest", err));
  const bool table = wants_table(c.req.accept);
  QueryReader qr{c, {}};
  const bool watch = qr.boolean("watch").value_or(false);
  const bool bookmarks = qr.boolean("allowWatchBookmarks").value_or(false);
  const std::optional<bool> send_initial_events = qr.boolean("sendInitialEvents");
  qr.boolean("pretty");
  const auto timeout_seconds = qr.integer("timeoutSeconds");
  const auto limit_param = qr.integer("limit");
  if (!qr.error.empty()) return reply(status_error(400, "BadRequest", qr.error));
  const std::string rv = c.q("resourceVersion");
  const std::string match = c.q("resourceVersionMatch");
  const std::string cont_param = c.q("continue");
  std::uint64_t rv_number = 0;
  if (!rv.empty()) {
    auto [end, ec] = std::from_chars(rv.data(), rv.data() + rv.size(), rv_number);
    if (ec != std::errc() || end != rv.data() + rv.size())
      return reply(status_error(400, "BadRequest", "invalid resourceVersion " + rv));
  }

  if (watch) {
    // kube-apiserver's validateWatchOptions (the WatchList feature is on, as in 1.32).
    if (send_initial_events && match != "NotOlderThan")
      return invalid_options("ListOptions", "resourceVersionMatch",
                             "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan");
    if (!match.empty()) {
      if (!send_initial_events)
        return invalid_options("ListOptions", "resourceVersionMatch",
                               "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
      if (!cont_param.empty())
        return invalid_options("ListOptions", "resourceVersionMatch",
                               "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided");
    }
    WatchPlan plan;
    plan.type = &type;
    plan.namespace_name = c.ns();
    plan.table = table;
    plan.labels = *labels;
    plan.fields = *fields;
    plan.bookmarks = bookmarks;
    plan.timeout = kDefaultWatchTimeout;
    if (timeout_seconds && *timeout_seconds > 0)
      plan.timeout = std::min(std::chrono::seconds(*timeout_seconds), kMaxWatchTimeout);
    const bool from_now = rv.empty() || rv == "0";
    if (send_initial_events) {
      // The current state (not older than any resourceVersion asked for), then the bookmark;
      // sendInitialEvents=false: changes only, after resourceVersion or from now.
      plan.send_initial = *send_initial_events;
      plan.initial_events_end = *send_initial_events;
      if (!*send_initial_events && !from_now) plan.since = rv_number;
      else plan.since = store_.resource_version();
    } else if (from_now) {
      plan.send_initial = true;
      plan.since = store_.resource_version();
    } else {
      plan.since = rv_number;
    }
    if (!plan.send_initial && plan.since < store_.history_floor()) {
      return reply(status_error(410, "Expired", "too old resource version: " + rv + " (" +
                                                    std::to_string(store_.history_floor()) + ")"));
    }
    ApiResult r;
    r.watch = std::move(plan);
    r.response.content_type = "application/json";
    return r;
  }

  // kube-apiserver's ValidateListOptions for a list.
  if (send_initial_events)
    return invalid_options("ListOptions", "sendInitialEvents", "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list");
  if (!match.empty()) {
    if (rv.empty())
      return invalid_options("ListOptions", "resourceVersionMatch",
                             "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
    if (!cont_param.empty())
      return invalid_options("ListOptions", "resourceVersionMatch",
                             "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided");
    if (match != "Exact" && match != "NotOlderThan")
      return invalid_options("ListOptions", "resourceVersionMatch",
                             "resourceVersionMatch: Unsupported value: \"" + match +
                                 "\": supported values: \"Exact\", \"NotOlderThan\", \"\"");
    if (match == "Exact" && rv == "0")
      return invalid_options("ListOptions", "resourceVersionMatch",
                             "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
    // Lists are served from the live data only: an exact older state is no longer there.
    if (match == "Exact" && rv_number != store_.resource_version())
      return reply(status_error(410, "Expired", "too old resource version: " + rv + " (" +
                                                    std::to_string(store_.resource_version()) + ")"));
  }
  std::size_t limit = 0;
  if (limit_param && *limit_param > 0) limit = std::min<std::size_t>(static_cast<std::size_t>(*limit_param), kMaxListLimit);
  std::string start_after;
  if (!cont_param.empty()) {
    auto decoded = base64url_decode(cont_param);
    std::optional<json::value> token = decoded ? parse_json(*decoded) : std::nullopt;
    if (!token || !token->is_object() || !token->as_object().contains("start") ||
        !token->at("start").is_string() || !token->as_object().contains("rv") || !token->at("rv").is_number()) {
      return reply(status_error(400, "BadRequest", "invalid continue token"));
    }
    if (token->at("rv").to_number<std::uint64_t>() < store_.history_floor()) {
      return reply(status_error(410, "Expired",
                                "The provided continue parameter is too old to display a consistent list result. "
                                "You can start a new list without the continue parameter."));
    }
    start_after = std::string(token->at("start").as_string());
  }
  // One namespace's objects are one range of the sorted map; a fieldSelector pinning
  // metadata.namespace narrows an all-namespaces list the same way.
  std::string ns = c.ns();
  if (ns.empty() && type.namespaced) ns = fields->pinned("metadata.namespace").value_or("");
  const std::string prefix = ns.empty() ? std::string() : ns + "/";
  const auto& all = store_.objects(type.plural);
  auto it = all.lower_bound(std::string_view(prefix));
  if (!start_after.empty() && start_after >= prefix) it = all.upper_bound(std::string_view(start_after));
  std::vector<const StoredObject*> items;
  std::string cont;
  for (; it != all.end(); ++it) {
    const StoredObject& stored = **it;
    const std::string_view key = stored.key();
    if (!prefix.empty() && !key.starts_with(prefix)) break;
    if (!labels->matches([&](std::string_view name) { return stored.label(name); })) continue;
    if (!fields->empty() &&
        !fields->matches([&](const std::string& label) { return indexed_field(type, key, stored, label); }))
      continue;
    if (limit && items.size() == limit) {
      const std::string last_key(items.back()->key());
      cont = base64url_encode(json::serialize(json::object{{"rv", store_.resource_version()}, {"start", last_key}}));
      break;
    }
    items.push_back(&stored);
  }
  const std::uint64_t list_rv = store_.resource_version();
  if (table) {
    json::object t = render_table(type, items.size(), [&](std::size_t n) { return served_object(type, *items[n]); }, clock_());
    json::object meta{{"resourceVersion", std::to_string(list_rv)}};
    if (!cont.empty()) meta["continue"] = cont;
    t["metadata"] = std::move(meta);
    return reply(json_response(200, t));
  }
  std::vector<std::string> converted;  // events.k8s.io/v1 shapes (stored as core/v1)
  if (stored_as_core_event(type)) {
    converted.reserve(items.size());
    for (const auto* i : items) converted.push_back(served_json(type, *i));
  }
  std::vector<std::string_view> texts;
  texts.reserve(items.size());
  for (std::size_t n = 0; n < items.size(); ++n) texts.push_back(converted.empty() ? items[n]->json() : converted[n]);
  return reply(ApiResponse{200, "application/json", list_json(type, texts, list_rv, cont)});
}

ApiResult ApiHandler::get(const Call& c) {
  QueryReader qr{c, {}};
  qr.boolean("pretty");
  if (!qr.error.empty()) return reply(status_error(400, "BadRequest", qr.error));
  const StoredPtr stored = store_.find(c.type.plural, c.key());
  if (!stored) return not_found(c.type, c.name());
  if (wants_table(c.req.accept)) {
    json::object t = render_table(c.type, {served_tree(c.type, *stored)}, clock_());
    t["metadata"] = json::object{{"resourceVersion", std::to_string(stored->rv())}};
    return reply(json_response(200, t));
  }
  return reply(ApiResponse{200, "application/json", served_json(c.type, *stored)});
}

std::string ApiHandler::encode_object(const WatchPlan& plan, const char* event, const StoredObject& stored) const {
  std::string out = std::string("{\"type\":\"") + event + "\",\"object\":";
  if (plan.table) {
    json::object t = render_table(*plan.type, {served_tree(*plan.type, stored)}, clock_());
    t["metadata"] = json::object{{"resourceVersion", std::to_string(stored.rv())}};
    out += json::serialize(t);
  } else if (stored_as_core_event(*plan.type)) {
    out += served_json(*plan.type, stored);
  } else {
    out.reserve(out.size() + stored.json().size() + 2);
    out += stored.json();
  }
  out += "}\n";
  return out;
}

std::vector<std::string> ApiHandler::initial_events(const WatchPlan& plan) const {
  std::vector<std::string> out;
  if (plan.send_initial) {
    const std::string prefix = plan.namespace_name.empty() ? std::string() : plan.namespace_name + "/";
    const auto& all = store_.objects(plan.type->plural);
    for (auto it = all.lower_bound(std::string_view(prefix)); it != all.end(); ++it) {
      if (!prefix.empty() && !(*it)->key().starts_with(prefix)) break;
      if (plan_sees(plan, **it)) out.push_back(encode_object(plan, "ADDED", **it));
    }
    if (plan.initial_events_end) {
      json::object obj{{"kind", plan.type->kind},
                       {"apiVersion", plan.type->api_version()},
                       {"metadata", json::object{{"resourceVersion", std::to_string(store_.resource_version())},
                                                 {"annotations", json::object{{"k8s.io/initial-events-end", "true"}}}}}};
      out.push_back("{\"type\":\"BOOKMARK\",\"object\":" + json::serialize(obj) + "}\n");
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
  if (change.resource != plan.type->plural) return {};
  auto visible = [&](const StoredPtr& version) { return version && plan_sees(plan, *version); };
  const bool was = visible(change.previous);
  const bool is = change.type != ChangeType::Deleted && visible(change.object);
  const StoredObject& now = *change.object;
  if (change.type == ChangeType::Deleted) return was ? encode_object(plan, "DELETED", now) : std::string();
  if (was && is) return encode_object(plan, "MODIFIED", now);
  if (is) return encode_object(plan, "ADDED", now);
  if (was) return encode_object(plan, "DELETED", now);
  return {};
}

std::string ApiHandler::encode_bookmark(const WatchPlan& plan) const {
  json::object obj{{"kind", plan.type->kind},
                   {"apiVersion", plan.type->api_version()},
                   {"metadata", json::object{{"resourceVersion", std::to_string(store_.resource_version())}}}};
  return "{\"type\":\"BOOKMARK\",\"object\":" + json::serialize(obj) + "}\n";
}

}  // namespace ironboot::kube
