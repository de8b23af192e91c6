#include "kube/api_core_types.hpp"

#include <algorithm>
#include <map>
#include <boost/json.hpp>

#include "common/base64.hpp"
#include "common/time.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

// kube-apiserver's core.MaxSecretSize and core.MaxConfigMapSize.
constexpr std::size_t kMaxDataSize = 1024 * 1024;
constexpr std::size_t kMaxEventFieldLength = 128;  // action, reason, reportingInstance
constexpr std::size_t kMaxNoteLength = 1024;

bool is(const ResourceType& t, const char* group, const char* plural) { return t.group == group && t.plural == plural; }

std::string str(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

const json::object* obj_at(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::string meta(const json::object& o, const char* key) {
  const auto* m = obj_at(o, "metadata");
  return m ? str(*m, key) : std::string();
}

std::string quoted(std::string_view s) { return json::serialize(json::value(json::string(s))); }

void invalid(std::vector<FieldProblem>& out, const std::string& field, std::string_view value, const std::string& why) {
  out.push_back({field, field + ": Invalid value: " + quoted(value) + ": " + why});
}
void required(std::vector<FieldProblem>& out, const std::string& field) { out.push_back({field, field + ": Required value"}); }
void forbidden(std::vector<FieldProblem>& out, const std::string& field, const std::string& why) {
  out.push_back({field, field + ": Forbidden: " + why});
}

// validation.IsConfigMapKey: what a Secret or ConfigMap data key must be.
void check_data_key(std::vector<FieldProblem>& out, const std::string& field, const std::string& key) {
  if (key.size() > 253) invalid(out, field, key, "must be no more than 253 characters");
  const bool chars_ok = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
  if (!chars_ok)
    invalid(out, field, key,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
            "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  if (key == ".") invalid(out, field, key, "must not be '.'");
  else if (key == "..") invalid(out, field, key, "must not be '..'");
  else if (key.rfind("..", 0) == 0) invalid(out, field, key, "must not start with '..'");
}

// Checks a map of base64 values (Secret data, ConfigMap binaryData); adds the decoded size.
void check_base64_map(std::vector<FieldProblem>& out, const json::object& o, const char* name, std::size_t& size) {
  const auto* m = obj_at(o, name);
  if (!m) return;
  for (const auto& [k, v] : *m) {
    const std::string field = std::string(name) + "[" + std::string(k) + "]";
    check_data_key(out, field, std::string(k));
    auto decoded = v.is_string() ? base64_decode(v.get_string()) : std::nullopt;
    if (!decoded) {
      // The value is not echoed: it is secret material.
      out.push_back({field, field + ": Invalid value: \"<value omitted>\": must be base64-encoded (standard alphabet, padded)"});
      continue;
    }
    size += decoded->size();
  }
}

bool immutable_set(const json::object* o) {
  const auto* v = o ? o->if_contains("immutable") : nullptr;
  return v && v->is_bool() && v->get_bool();
}

json::value member_or_null(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v ? *v : json::value(nullptr);
}

void validate_secret(const json::object& o, const json::object* old, std::vector<FieldProblem>& out) {
  std::size_t size = 0;
  check_base64_map(out, o, "data", size);
  if (size > kMaxDataSize) out.push_back({"data", "data: Too long: must have at most 1048576 bytes"});
  const std::string type = str(o, "type");
  const auto* data = obj_at(o, "data");
  auto has = [&](const char* key) { return data && data->contains(key); };
  auto need = [&](const char* key) {
    if (!has(key)) required(out, std::string("data[") + key + "]");
  };
  if (type == "kubernetes.io/service-account-token") {
    const auto* ann = obj_at(o, "metadata") ? obj_at(*obj_at(o, "metadata"), "annotations") : nullptr;
    if (!ann || str(*ann, "kubernetes.io/service-account.name").empty())
      required(out, "metadata.annotations[kubernetes.io/service-account.name]");
  } else if (type == "kubernetes.io/dockercfg") {
    need(".dockercfg");
  } else if (type == "kubernetes.io/dockerconfigjson") {
    need(".dockerconfigjson");
  } else if (type == "kubernetes.io/basic-auth") {
    if (!has("username") && !has("password")) {
      required(out, "data[username]");
      required(out, "data[password]");
    }
  } else if (type == "kubernetes.io/ssh-auth") {
    need("ssh-privatekey");
  } else if (type == "kubernetes.io/tls") {
    need("tls.key");
    need("tls.crt");
  }
  if (!old) return;
  if (type != str(*old, "type")) invalid(out, "type", type, "field is immutable");
  if (immutable_set(old)) {
    if (!immutable_set(&o)) forbidden(out, "immutable", "field is immutable when `immutable` is set");
    if (member_or_null(o, "data") != member_or_null(*old, "data"))
      forbidden(out, "data", "field is immutable when `immutable` is set");
  }
}

void validate_configmap(const json::object& o, const json::object* old, std::vector<FieldProblem>& out) {
  std::size_t size = 0;
  const auto* data = obj_at(o, "data");
  const auto* binary = obj_at(o, "binaryData");
  if (data) {
    for (const auto& [k, v] : *data) {
      const std::string field = "data[" + std::string(k) + "]";
      check_data_key(out, field, std::string(k));
      if (binary && binary->contains(k)) invalid(out, field, k, "duplicate of key present in binaryData");
      if (v.is_string()) size += v.get_string().size();
    }
  }
  check_base64_map(out, o, "binaryData", size);
  if (size > kMaxDataSize) out.push_back({"", "Too long: must have at most 1048576 bytes"});
  if (old && immutable_set(old)) {
    if (!immutable_set(&o)) forbidden(out, "immutable", "field is immutable when `immutable` is set");
    if (member_or_null(o, "data") != member_or_null(*old, "data"))
      forbidden(out, "data", "field is immutable when `immutable` is set");
    if (member_or_null(o, "binaryData") != member_or_null(*old, "binaryData"))
      forbidden(out, "binaryData", "field is immutable when `immutable` is set");
  }
}

// validation.IsQualifiedName, the rule for reportingController: [prefix/]name, name at most 63
// characters of [-_.A-Za-z0-9] with alphanumeric ends.
bool qualified_name(std::string_view v) {
  const auto slash = v.rfind('/');
  std::string_view name = slash == std::string_view::npos ? v : v.substr(slash + 1);
  if (slash != std::string_view::npos && (slash == 0 || slash > 253)) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (name.empty() || name.size() > 63 || !alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// ValidateEventCreate/legacyValidateEvent on the stored (core) shape.
void validate_event(const ResourceType& type, const json::object& o, const json::object* old, std::vector<FieldProblem>& out) {
  const bool events_group = type.group == "events.k8s.io";
  const std::string ns = meta(o, "namespace");
  const auto* involved = obj_at(o, "involvedObject");
  const std::string involved_ns = involved ? str(*involved, "namespace") : std::string();
  const std::string ns_field = events_group ? "regarding.namespace" : "involvedObject.namespace";
  if (str(o, "eventTime").empty()) {
    if (involved_ns.empty() ? (!ns.empty() && ns != "default") : ns != involved_ns)
      invalid(out, ns_field, involved_ns, "does not match event.namespace");
  } else {
    if (involved_ns.empty() && ns != "default" && ns != "kube-system")
      invalid(out, ns_field, involved_ns, "does not match event.namespace");
    const std::string controller_field = events_group ? "reportingController" : "reportingComponent";
    const std::string controller = str(o, "reportingComponent");
    if (controller.empty()) required(out, controller_field);
    else if (!qualified_name(controller))
      invalid(out, controller_field, controller,
              "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
              "alphanumeric character");
    const std::string instance = str(o, "reportingInstance");
    if (instance.empty()) required(out, "reportingInstance");
    if (instance.size() > kMaxEventFieldLength) invalid(out, "reportingInstance", "", "can have at most 128 characters");
    const std::string action = str(o, "action");
    if (action.empty()) required(out, "action");
    if (action.size() > kMaxEventFieldLength) invalid(out, "action", "", "can have at most 128 characters");
    const std::string reason = str(o, "reason");
    if (reason.empty()) required(out, "reason");
    if (reason.size() > kMaxEventFieldLength) invalid(out, "reason", "", "can have at most 128 characters");
    if (str(o, "message").size() > kMaxNoteLength)
      invalid(out, events_group ? "note" : "message", "", "can have at most 1024 characters");
  }
  if (!events_group || old) return;
  // Creation through events.k8s.io/v1: the strict rules (eventTime itself is schema-required).
  const std::string t = str(o, "type");
  if (t != "Normal" && t != "Warning") invalid(out, "type", "", "has invalid value: " + t);
  if (const auto* s = obj_at(o, "series")) {
    const auto* c = s->if_contains("count");
    if (c && c->is_number() && c->to_number<double>() < 2) invalid(out, "series.count", "", "should be at least 2");
  }
  if (!str(o, "firstTimestamp").empty()) invalid(out, "deprecatedFirstTimestamp", "", "needs to be unset");
  if (!str(o, "lastTimestamp").empty()) invalid(out, "deprecatedLastTimestamp", "", "needs to be unset");
  if (const auto* c = o.if_contains("count"); c && c->is_number() && c->to_number<double>() != 0)
    invalid(out, "deprecatedCount", "", "needs to be unset");
  if (const auto* s = obj_at(o, "source"); s && (!str(*s, "component").empty() || !str(*s, "host").empty()))
    invalid(out, "deprecatedSource", "", "needs to be unset");
}

// core/v1 Event field -> events.k8s.io/v1 field (kube's Convert_v1_Event_To_core_Event and back).
constexpr std::pair<const char*, const char*> kEventRenames[] = {
    {"involvedObject", "regarding"},
    {"message", "note"},
    {"source", "deprecatedSource"},
    {"firstTimestamp", "deprecatedFirstTimestamp"},
    {"lastTimestamp", "deprecatedLastTimestamp"},
    {"count", "deprecatedCount"},
    {"reportingComponent", "reportingController"},
};
constexpr const char* kEventSameFields[] = {"metadata", "eventTime", "series", "action", "reason", "related", "type",
                                            "reportingInstance"};

json::object convert_event(const json::object& in, bool to_events_group) {
  json::object out;
  out["apiVersion"] = to_events_group ? "events.k8s.io/v1" : "v1";
  out["kind"] = "Event";
  for (const char* k : kEventSameFields)
    if (const auto* v = in.if_contains(k)) out[k] = *v;
  for (const auto& [core, events] : kEventRenames)
    if (const auto* v = in.if_contains(to_events_group ? core : events)) out[to_events_group ? events : core] = *v;
  if (auto* s = out.if_contains("series"); s && s->is_object()) {
    // EventSeries in events.k8s.io/v1 has only count and lastObservedTime.
    json::object series;
    for (const char* k : {"count", "lastObservedTime"})
      if (const auto* v = s->get_object().if_contains(k)) series[k] = *v;
    *s = std::move(series);
  }
  return out;
}

}  // namespace

const std::vector<std::string>& initial_namespaces() {
  static const std::vector<std::string> names = {"default", "kube-system", "kube-public", "ironboot-system"};
  return names;
}

// kube-apiserver's NamespaceLifecycle immortal namespaces.
bool immortal_namespace(std::string_view name) { return name == "default" || name == "kube-system" || name == "kube-public"; }

bool valid_dns_label(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
}

bool stored_as_core_event(const ResourceType& type) { return is(type, "events.k8s.io", "events"); }

json::object to_served(const ResourceType& type, const json::object& stored) {
  return stored_as_core_event(type) ? convert_event(stored, true) : stored;
}

json::object to_stored(const ResourceType& type, json::object served) {
  return stored_as_core_event(type) ? convert_event(served, false) : served;
}

void normalize_write(const ResourceType& type, json::object& object) {
  if (!is(type, "", "secrets")) return;
  if (auto it = object.find("stringData"); it != object.end()) {
    if (it->value().is_object()) {
      json::value& data = object["data"];
      if (!data.is_object()) data = json::object{};
      for (const auto& [k, v] : object.at("stringData").get_object())
        if (v.is_string()) data.get_object()[k] = base64_encode(v.get_string());
    }
    object.erase("stringData");
  }
  if (str(object, "type").empty()) object["type"] = "Opaque";
}

std::vector<FieldProblem> validate_semantics(const ResourceType& type, const json::object& object, const json::object* old) {
  std::vector<FieldProblem> out;
  if (type.group.empty() && type.plural == "namespaces") {
    const std::string name = meta(object, "name");
    if (!valid_dns_label(name))
      invalid(out, "metadata.name", name,
              "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
              "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
              "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  } else if (is(type, "", "secrets")) {
    validate_secret(object, old, out);
  } else if (is(type, "", "configmaps")) {
    validate_configmap(object, old, out);
  } else if (type.plural == "events" && (type.group.empty() || type.group == "events.k8s.io")) {
    validate_event(type, object, old, out);
  }
  return out;
}

const std::vector<std::string>& field_labels(const ResourceType& type) {
  static const std::vector<std::string> events = {
      "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
      "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
      "reason", "reportingComponent", "source", "type"};
  if (type.plural == "events" && (type.group.empty() || type.group == "events.k8s.io")) return events;
  // One list per type, built once (types live for the program).
  static std::map<const ResourceType*, std::vector<std::string>> lists;
  auto it = lists.find(&type);
  if (it == lists.end()) {
    std::vector<std::string> l = {"metadata.name", "metadata.namespace"};
    l.insert(l.end(), type.selectable_fields.begin(), type.selectable_fields.end());
    it = lists.emplace(&type, std::move(l)).first;
  }
  return it->second;
}

std::string field_value(const ResourceType& type, const json::object& stored, const std::string& label) {
  if (label == "metadata.name") return meta(stored, "name");
  if (label == "metadata.namespace") return meta(stored, "namespace");
  if (type.plural == "events" && label == "source") {
    // kube's event field set: source.component, else the reporting controller.
    const auto* s = obj_at(stored, "source");
    std::string v = s ? str(*s, "component") : std::string();
    return v.empty() ? str(stored, "reportingComponent") : v;
  }
  // A dotted path of string fields ("involvedObject.kind", "status.phase", "type").
  const json::object* o = &stored;
  std::size_t pos = 0;
  while (o) {
    const auto dot = label.find('.', pos);
    const std::string seg = label.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (dot == std::string::npos) return str(*o, seg.c_str());
    o = obj_at(*o, seg.c_str());
    pos = dot + 1;
  }
  return {};
}

std::optional<std::chrono::system_clock::time_point> event_last_seen(const json::object& stored) {
  std::optional<std::chrono::system_clock::time_point> newest;
  auto consider = [&](const std::string& text) {
    if (text.empty()) return;
    if (auto t = parse_rfc3339(text); t && (!newest || *t > *newest)) newest = t;
  };
  if (const auto* s = obj_at(stored, "series")) consider(str(*s, "lastObservedTime"));
  consider(str(stored, "lastTimestamp"));
  consider(str(stored, "eventTime"));
  consider(meta(stored, "creationTimestamp"));
  return newest;
}

}  // namespace ironboot::kube
