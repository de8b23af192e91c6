#include "kube/resource_type.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <set>
#include <stdexcept>

#include "common/text.hpp"
#include "common/time.hpp"
#include "kube/json_ops.hpp"

namespace ironboot::kube {

namespace json = boost::json;

const std::vector<std::string>& embedded_crd_texts();   // generated from assets/crds
const std::vector<std::string>& embedded_type_texts();  // generated from src/kube/types

namespace {

std::string str_at(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::vector<std::string> split_json_path(const std::string& jp) {
  // The subset CRDs use: ".a.b.c".
  std::vector<std::string> out;
  if (jp.empty() || jp[0] != '.') throw std::runtime_error("unsupported printer column jsonPath " + jp);
  std::size_t pos = 1;
  while (pos <= jp.size()) {
    auto dot = jp.find('.', pos);
    out.push_back(jp.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  for (const auto& seg : out)
    if (seg.empty() || seg.find_first_of("[]*") != std::string::npos)
      throw std::runtime_error("unsupported printer column jsonPath " + jp);
  return out;
}

}  // namespace

ResourceType parse_crd(const std::string& yaml_text) {
  std::string err;
  auto doc = yaml_to_json(yaml_text, &err);
  if (!doc || !doc->is_object()) throw std::runtime_error("CRD is not a YAML mapping: " + err);
  const auto& spec = doc->at("spec").as_object();
  const auto& names = spec.at("names").as_object();
  ResourceType t;
  t.group = str_at(spec, "group");
  t.verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
  if (const auto* meta = doc->as_object().if_contains("metadata"); meta && meta->is_object()) {
    if (const auto* ann = meta->as_object().if_contains("annotations"); ann && ann->is_object()) {
      if (const auto* v = ann->as_object().if_contains("ironboot.sidero.dev/verbs"); v && v->is_string()) {
        t.verbs.clear();
        std::string_view rest = v->get_string();
        while (!rest.empty()) {
          const auto comma = rest.find(',');
          std::string_view verb = rest.substr(0, comma);
          if (!verb.empty()) t.verbs.emplace_back(verb);
          rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        }
      }
    }
  }
  t.namespaced = str_at(spec, "scope") == "Namespaced";
  t.kind = str_at(names, "kind");
  t.list_kind = str_at(names, "listKind");
  t.plural = str_at(names, "plural");
  t.singular = str_at(names, "singular");
  if (const auto* sn = names.if_contains("shortNames"); sn && sn->is_array())
    for (const auto& s : sn->as_array()) t.short_names.emplace_back(s.as_string());
  for (const auto& v : spec.at("versions").as_array()) {
    const auto& ver = v.as_object();
    if (!t.version.empty()) break;
    t.version = str_at(ver, "name");
    if (const auto* sub = ver.if_contains("subresources"); sub && sub->is_object())
      t.status_subresource = sub->as_object().contains("status");
    t.schema = ver.at("schema").at("openAPIV3Schema").as_object();
    if (const auto* sel = ver.if_contains("selectableFields"); sel && sel->is_array()) {
      for (const auto& f : sel->as_array()) {
        const std::string jp = f.is_object() ? str_at(f.as_object(), "jsonPath") : std::string();
        if (jp.size() < 2 || jp[0] != '.') throw std::runtime_error("bad selectableFields jsonPath " + jp);
        t.selectable_fields.push_back(jp.substr(1));
      }
    }
    if (const auto* cols = ver.if_contains("additionalPrinterColumns"); cols && cols->is_array()) {
      for (const auto& c : cols->as_array()) {
        const auto& co = c.as_object();
        PrinterColumn pc;
        pc.name = str_at(co, "name");
        pc.type = str_at(co, "type");
        pc.format = str_at(co, "format");
        pc.description = str_at(co, "description");
        pc.json_path = str_at(co, "jsonPath");
        pc.path = split_json_path(pc.json_path);
        if (const auto* p = co.if_contains("priority"); p && p->is_int64()) pc.priority = static_cast<int>(p->as_int64());
        pc.rule = str_at(co, "x-ironboot-value");
        if (!pc.rule.empty() && pc.rule != "data-count" && pc.rule != "event-last-seen" && pc.rule != "event-object")
          throw std::runtime_error("unknown printer column rule " + pc.rule);
        t.columns.push_back(std::move(pc));
      }
    }
  }
  if (t.kind.empty() || t.plural.empty() || t.version.empty() || t.schema.empty())
    throw std::runtime_error("CRD lacks kind, plural, version or schema");
  return t;
}

const std::vector<ResourceType>& builtin_resource_types() {
  static const std::vector<ResourceType> types = [] {
    std::vector<ResourceType> out;
    for (const auto& text : embedded_crd_texts()) out.push_back(parse_crd(text));
    for (const auto& text : embedded_type_texts()) {
      out.push_back(parse_crd(text));
      out.back().builtin = true;
    }
    return out;
  }();
  return types;
}

const ResourceType* find_resource_type(const std::string& group, const std::string& version, const std::string& plural) {
  for (const auto& t : builtin_resource_types())
    if (t.plural == plural && t.group == group && t.version == version) return &t;
  return nullptr;
}

const ResourceType* find_resource_type(const std::string& plural) { return find_resource_type(kGroup, kVersion, plural); }

const ResourceType* find_resource_type_by_kind(const std::string& kind) {
  for (const auto& t : builtin_resource_types())
    if (t.kind == kind && t.group == kGroup) return &t;
  return nullptr;
}

namespace {

std::string type_of(const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: return "object";
    case json::kind::array: return "array";
    case json::kind::string: return "string";
    case json::kind::bool_: return "boolean";
    case json::kind::null: return "null";
    case json::kind::double_: return "number";
    default: return "integer";
  }
}

bool type_matches(const std::string& want, const json::value& v) {
  if (want.empty()) return true;
  if (want == "number") return v.is_number();
  if (want == "integer") {
    if (v.is_int64() || v.is_uint64()) return true;
    return v.is_double() && v.as_double() == static_cast<double>(static_cast<std::int64_t>(v.as_double()));
  }
  return type_of(v) == want;
}

std::string short_json(const json::value& v) {
  std::string s = json::serialize(v);
  if (s.size() > 64) s = s.substr(0, 61) + "...";
  return s;
}

void walk(const json::object& schema, json::value& value, const std::string& path, ValidationReport& report);

void walk_object(const json::object& schema, json::object& obj, const std::string& path, ValidationReport& report) {
  const auto* props = schema.if_contains("properties");
  const auto* additional = schema.if_contains("additionalProperties");
  const bool preserve = schema.contains("x-kubernetes-preserve-unknown-fields");
  std::vector<std::string> drop;
  for (auto& [key, child] : obj) {
    const std::string child_path = path.empty() ? std::string(key) : path + "." + std::string(key);
    if (child.is_null() && !schema.contains("nullable")) {
      drop.emplace_back(key);  // the apiserver drops nulls of non-nullable fields
      continue;
    }
    if (props && props->is_object()) {
      if (const auto* sub = props->as_object().if_contains(key); sub && sub->is_object()) {
        walk(sub->as_object(), child, child_path, report);
        continue;
      }
    }
    if (additional && additional->is_object()) {
      walk(additional->as_object(), child, child_path, report);
      continue;
    }
    if (preserve || (additional && additional->is_bool() && additional->as_bool())) continue;
    report.unknown_fields.push_back(child_path);
    drop.emplace_back(key);
  }
  for (const auto& k : drop) obj.erase(k);
  if (const auto* req = schema.if_contains("required"); req && req->is_array()) {
    for (const auto& r : req->as_array()) {
      if (r.is_string() && !obj.contains(r.as_string())) {
        const std::string child_path = path.empty() ? std::string(r.as_string()) : path + "." + std::string(r.as_string());
        report.problems.push_back({child_path, child_path + ": Required value"});
      }
    }
  }
}

void walk(const json::object& schema, json::value& value, const std::string& path, ValidationReport& report) {
  const std::string want = str_at(schema, "type");
  if (!type_matches(want, value)) {
    report.problems.push_back({path, path + ": Invalid value: \"" + type_of(value) + "\": " + path +
                                         " in body must be of type " + want + ": " + short_json(value)});
    return;
  }
  if (const auto* en = schema.if_contains("enum"); en && en->is_array()) {
    bool ok = false;
    std::string allowed;
    for (const auto& e : en->as_array()) {
      ok = ok || e == value;
      allowed += (allowed.empty() ? "" : ", ") + json::serialize(e);
    }
    if (!ok) report.problems.push_back({path, path + ": Unsupported value: " + json::serialize(value) + ": supported values: " + allowed});
  }
  if (value.is_object()) walk_object(schema, value.as_object(), path, report);
  if (value.is_array()) {
    if (const auto* items = schema.if_contains("items"); items && items->is_object()) {
      std::size_t i = 0;
      for (auto& item : value.as_array()) walk(items->as_object(), item, path + "[" + std::to_string(i++) + "]", report);
    }
  }
}

const std::set<std::string>& object_meta_fields() {
  static const std::set<std::string> fields = {
      "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
      "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
      "ownerReferences", "finalizers", "managedFields"};
  return fields;
}

void validate_metadata(json::object& meta, ValidationReport& report) {
  std::vector<std::string> drop;
  for (auto& [key, v] : meta) {
    if (!object_meta_fields().count(std::string(key))) {
      report.unknown_fields.push_back("metadata." + std::string(key));
      drop.emplace_back(key);
      continue;
    }
    if (key == "labels" || key == "annotations") {
      if (v.is_null()) continue;
      if (!v.is_object()) {
        report.problems.push_back({"metadata." + std::string(key), "metadata." + std::string(key) + ": Invalid value: must be a map of strings"});
        continue;
      }
      for (const auto& [lk, lv] : v.as_object())
        if (!lv.is_string())
          report.problems.push_back({"metadata." + std::string(key) + "." + std::string(lk),
                                     "metadata." + std::string(key) + "." + std::string(lk) + ": Invalid value: must be a string"});
    } else if (key == "finalizers") {
      if (!v.is_array() || std::any_of(v.as_array().begin(), v.as_array().end(), [](const json::value& f) { return !f.is_string(); }))
        report.problems.push_back({"metadata.finalizers", "metadata.finalizers: Invalid value: must be a list of strings"});
    }
  }
  for (const auto& k : drop) meta.erase(k);
}

}  // namespace

ValidationReport validate_and_prune(const ResourceType& type, json::object& object) {
  ValidationReport report;
  // metadata is validated as ObjectMeta, not by the CRD's (open) schema: it is set aside
  // while the rest is walked (the schema is not copied: this runs on every write).
  json::value meta = json::object{};
  if (auto it = object.find("metadata"); it != object.end()) {
    meta = std::move(it->value());
    object.erase(it);
  }
  json::value whole = std::move(object);
  walk(type.schema, whole, "", report);
  object = std::move(whole.as_object());
  if (meta.is_object()) validate_metadata(meta.as_object(), report);
  object["metadata"] = std::move(meta);
  // Paths without the leading "." produced at the top level.
  return report;
}

namespace {

const json::value* path_value(const json::object& o, std::initializer_list<const char*> path) {
  const json::object* obj = &o;
  const json::value* cur = nullptr;
  for (const char* seg : path) {
    if (!obj) return nullptr;
    cur = obj->if_contains(seg);
    if (!cur) return nullptr;
    obj = cur->is_object() ? &cur->as_object() : nullptr;
  }
  return cur;
}

std::string path_string(const json::object& o, std::initializer_list<const char*> path) {
  const json::value* v = path_value(o, path);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

json::value rule_value(const std::string& rule, const json::object& o, std::chrono::system_clock::time_point now) {
  if (rule == "data-count") {
    std::size_t n = 0;
    for (const char* key : {"data", "binaryData"})
      if (const auto* v = o.if_contains(key); v && v->is_object()) n += v->get_object().size();
    return static_cast<std::int64_t>(n);
  }
  if (rule == "event-object") {
    const char* ref = o.contains("regarding") ? "regarding" : "involvedObject";
    const std::string kind = ascii_lowercase(path_string(o, {ref, "kind"}));
    const std::string name = path_string(o, {ref, "name"});
    return json::value(name.empty() ? kind : kind + "/" + name);
  }
  // event-last-seen, as kubectl prints it: the series' last observation, else lastTimestamp
  // (deprecatedLastTimestamp), else eventTime; "<unknown>" without any.
  std::string when = path_string(o, {"series", "lastObservedTime"});
  if (when.empty()) when = path_string(o, {"lastTimestamp"});
  if (when.empty()) when = path_string(o, {"deprecatedLastTimestamp"});
  if (when.empty()) when = path_string(o, {"eventTime"});
  auto t = parse_rfc3339(when);
  if (!t) return json::value("<unknown>");
  return json::value(human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t)));
}

}  // namespace

json::value column_value(const PrinterColumn& column, const json::object& object, std::chrono::system_clock::time_point now) {
  if (!column.rule.empty()) return rule_value(column.rule, object, now);
  const json::value* cur = nullptr;
  const json::object* obj = &object;
  for (const auto& seg : column.path) {
    if (!obj) return nullptr;
    cur = obj->if_contains(seg);
    if (!cur) return nullptr;
    obj = cur->is_object() ? &cur->as_object() : nullptr;
  }
  if (!cur || cur->is_null()) return nullptr;
  if (column.type == "date") {
    if (!cur->is_string()) return nullptr;
    auto t = parse_rfc3339(cur->as_string());
    if (!t) return nullptr;
    auto d = std::chrono::duration_cast<std::chrono::seconds>(now - *t);
    return json::value(human_duration(d));
  }
  if (cur->is_object() || cur->is_array()) return json::value(json::serialize(*cur));
  return *cur;
}

std::string human_duration(std::chrono::seconds d) {
  // Mirrors k8s.io/apimachinery/pkg/util/duration.HumanDuration.
  long long s = d.count();
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 60 * 2) return std::to_string(s) + "s";
  long long m = s / 60;
  if (m < 10) {
    long long rs = s % 60;
    return rs == 0 ? std::to_string(m) + "m" : std::to_string(m) + "m" + std::to_string(rs) + "s";
  }
  if (m < 60 * 3) return std::to_string(m) + "m";
  long long h = s / 3600;
  if (h < 8) {
    long long rm = m % 60;
    return rm == 0 ? std::to_string(h) + "h" : std::to_string(h) + "h" + std::to_string(rm) + "m";
  }
  if (h < 48) return std::to_string(h) + "h";
  if (h < 24 * 8) {
    long long rh = h % 24;
    return rh == 0 ? std::to_string(h / 24) + "d" : std::to_string(h / 24) + "d" + std::to_string(rh) + "h";
  }
  if (h < 24 * 365 * 2) return std::to_string(h / 24) + "d";
  if (h < 24 * 365 * 8) {
    long long dy = (h / 24) % 365;
    return dy == 0 ? std::to_string(h / 24 / 365) + "y" : std::to_string(h / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(h / 24 / 365) + "y";
}

json::object partial_object_metadata(const json::object& object) {
  json::object meta;
  if (const auto* m = object.if_contains("metadata"); m && m->is_object()) {
    meta = m->as_object();
    meta.erase("managedFields");
  }
  return json::object{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", std::move(meta)}};
}

json::object render_table(const ResourceType& type, std::size_t count,
                          const std::function<json::object(std::size_t)>& object_at,
                          std::chrono::system_clock::time_point now) {
  json::array defs;
  // A type that lists its own Name column (events: a wide-only column at the end, as kubectl
  // shows them) does not get the leading one.
  const bool own_name = std::any_of(type.columns.begin(), type.columns.end(), [](const PrinterColumn& c) { return c.name == "Name"; });
  if (!own_name)
    defs.push_back(json::object{{"name", "Name"}, {"type", "string"}, {"format", "name"},
                                {"description", "Name must be unique within a namespace."}, {"priority", 0}});
  for (const auto& c : type.columns)
    defs.push_back(json::object{{"name", c.name}, {"type", c.type == "date" ? "date" : c.type}, {"format", c.format},
                                {"description", c.description}, {"priority", c.priority}});
  json::array rows;
  rows.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const json::object obj = object_at(i);
    json::array cells;
    const auto* meta = obj.if_contains("metadata");
    const json::value* name = meta && meta->is_object() ? meta->as_object().if_contains("name") : nullptr;
    if (!own_name) cells.push_back(name ? *name : json::value(""));
    for (const auto& c : type.columns) cells.push_back(column_value(c, obj, now));
    rows.push_back(json::object{{"cells", std::move(cells)}, {"object", partial_object_metadata(obj)}});
  }
  return json::object{{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", json::object{}},
                      {"columnDefinitions", std::move(defs)}, {"rows", std::move(rows)}};
}

json::object render_table(const ResourceType& type, const std::vector<std::shared_ptr<const json::object>>& objects,
                          std::chrono::system_clock::time_point now) {
  return render_table(type, objects.size(), [&](std::size_t i) { return *objects[i]; }, now);
}

}  // namespace ironboot::kube
