#include "serverclass/matcher.hpp"

#include "kube/objects.hpp"
#include "serverclass/hardware_schema.hpp"

#include <boost/json/serialize.hpp>
#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string_view>

namespace ironboot::serverclass {

namespace json = boost::json;
using objects::object_at;

namespace {

using hardware_schema::Field;
using hardware_schema::Kind;

std::string index_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::optional<std::int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_double()) {
    const double d = v.get_double();
    if (d == static_cast<double>(static_cast<std::int64_t>(d))) return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace

// One compiled qualifier value. For objects, every child must match; for lists, every entry
// must be matched by at least one element of the server's list (any position).
struct CompiledClass::Node {
  std::string key;
  Kind kind = Kind::object;
  std::unique_ptr<RE2> regex;              // string
  std::string literal;                     // string: the qualifier text itself
  std::int64_t number = 0;                 // integer
  std::vector<Node> children;              // object
  std::vector<Node> entries;               // object_list (object nodes) / string_list (string nodes)

  bool matches(const json::value* server_value) const {
    switch (kind) {
      case Kind::string: {
        std::string_view text;
        if (server_value && server_value->is_string()) text = server_value->get_string();
        else if (server_value && !server_value->is_null()) return false;
        // Equal text always matches too: Sidero compared exact strings, and a value such as
        // "Intel(R) Xeon(R)" is not found by its own regex.
        return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *regex) || text == literal;
      }
      case Kind::integer: {
        if (!server_value) return false;
        const auto n = as_int(*server_value);
        return n && *n == number;
      }
      case Kind::object: {
        const json::object* obj = server_value ? server_value->if_object() : nullptr;
        if (!obj) return children.empty();
        return std::all_of(children.begin(), children.end(),
                           [&](const Node& c) { return c.matches(obj->if_contains(c.key)); });
      }
      case Kind::object_list:
      case Kind::string_list: {
        const json::array* list = server_value ? server_value->if_array() : nullptr;
        if (!list) return entries.empty();
        return std::all_of(entries.begin(), entries.end(), [&](const Node& entry) {
          return std::any_of(list->begin(), list->end(), [&](const json::value& el) { return entry.matches(&el); });
        });
      }
    }
    return false;
  }
};

namespace {

using Node = CompiledClass::Node;

// Returns false and sets `error` on a malformed qualifier. A wildcard (null, "", 0, {} or
// an object whose fields are all wildcards) leaves `out` unset.
bool compile_value(const Field& field, const json::value& value, const std::string& path, std::optional<Node>& out,
                   QualifierError& error);

bool compile_object(const std::vector<Field>& fields, const json::value& value, const std::string& path,
                    Node& out, QualifierError& error) {
  out.kind = Kind::object;
  if (value.is_null()) return true;
  if (!value.is_object()) {
    error = {path, "must be an object"};
    return false;
  }
  for (const auto& member : value.get_object()) {
    const std::string_view key = member.key();
    const json::value& child_value = member.value();
    const std::string child_path = path + "." + std::string(key);
    const auto it = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == key; });
    if (it == fields.end()) {
      error = {child_path, "unknown field"};
      return false;
    }
    std::optional<Node> child;
    if (!compile_value(*it, child_value, child_path, child, error)) return false;
    if (child) out.children.push_back(std::move(*child));
  }
  return true;
}

bool compile_value(const Field& field, const json::value& value, const std::string& path, std::optional<Node>& out,
                   QualifierError& error) {
  if (value.is_null()) return true;
  Node node;
  node.key = std::string(field.name);
  node.kind = field.kind;
  switch (field.kind) {
    case Kind::string: {
      if (!value.is_string()) {
        error = {path, "must be a string (a regular expression)"};
        return false;
      }
      const auto& pattern = value.get_string();
      if (pattern.empty()) return true;
      RE2::Options options;
      options.set_log_errors(false);
      node.literal = std::string(pattern);
      node.regex = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
      if (!node.regex->ok()) {
        error = {path, "invalid regular expression: " + node.regex->error()};
        return false;
      }
      break;
    }
    case Kind::integer: {
      const auto n = as_int(value);
      if (!n) {
        error = {path, "must be an integer"};
        return false;
      }
      if (*n == 0) return true;  // Go zero value: Sidero treats it as unset
      node.number = *n;
      break;
    }
    case Kind::object:
      if (!compile_object(*field.children, value, path, node, error)) return false;
      if (node.children.empty()) return true;
      break;
    case Kind::object_list:
    case Kind::string_list: {
      if (!value.is_array()) {
        error = {path, "must be a list"};
        return false;
      }
      std::size_t i = 0;
      for (const auto& item : value.get_array()) {
        const std::string item_path = index_path(path, i++);
        std::optional<Node> entry;
        if (field.kind == Kind::object_list) {
          Node obj;
          if (!compile_object(*field.children, item, item_path, obj, error)) return false;
          entry = std::move(obj);  // an all-wildcard entry still needs one element to exist
        } else {
          const Field element{field.name, Kind::string};
          if (!compile_value(element, item, item_path, entry, error)) return false;
          if (!entry) {
            Node any;  // "" in a string list: any element
            any.kind = Kind::string;
            any.regex = std::make_unique<RE2>("");
            entry = std::move(any);
          }
        }
        node.entries.push_back(std::move(*entry));
      }
      if (node.entries.empty()) return true;
      break;
    }
  }
  out = std::move(node);
  return true;
}

// Copies a list of partial objects, rewriting each entry's keys into the hardware shape:
// cpu[] {manufacturer, version} -> {compute: {processors: [{manufacturer, productName}]}},
// systemInformation[] -> {system: {...}}.
json::value cpu_entry_as_hardware(const json::value& entry, const std::string& path, QualifierError& error,
                                  bool& ok) {
  ok = true;
  if (entry.is_null()) return json::object{};
  if (!entry.is_object()) {
    error = {path, "must be an object with manufacturer and/or version"};
    ok = false;
    return nullptr;
  }
  json::object processor;
  for (const auto& [key, v] : entry.get_object()) {
    if (key == "manufacturer") processor["manufacturer"] = v;
    else if (key == "version") processor["productName"] = v;
    else {
      error = {path + "." + std::string(key), "unknown field"};
      ok = false;
      return nullptr;
    }
  }
  return json::object{{"compute", json::object{{"processors", json::array{processor}}}}};
}

}  // namespace

CompiledClass::CompiledClass() = default;
CompiledClass::~CompiledClass() = default;

std::shared_ptr<const CompiledClass> CompiledClass::compile(const json::object& server_class) {
  auto out = std::make_shared<CompiledClass>();
  out->name_ = std::string(objects::name_of(server_class));
  const auto* spec = objects::spec_of(server_class);
  if (!spec) return out;

  QualifierError error;
  auto invalid = [&]() {
    out->error_ = error;
    out->hardware_kinds_.clear();
    out->label_maps_.clear();
    out->selector_.reset();
    return out;
  };

  if (const auto* selector = spec->if_contains("selector")) {
    auto parsed = kube::label_selector_from_json(*selector, "spec.selector", error);
    if (!parsed) return invalid();
    if (!selector->is_null()) out->selector_ = std::move(*parsed);
  }

  const auto* qualifiers_value = spec->if_contains("qualifiers");
  if (!qualifiers_value || qualifiers_value->is_null()) return out;
  if (!qualifiers_value->is_object()) {
    error = {"spec.qualifiers", "must be an object"};
    return invalid();
  }
  for (const auto& [key, value] : qualifiers_value->get_object()) {
    const std::string path = "spec.qualifiers." + std::string(key);
    if (value.is_null()) continue;
    if (!value.is_array()) {
      error = {path, "must be a list"};
      return invalid();
    }
    const auto& list = value.get_array();
    if (list.empty()) continue;  // an empty list is the same as leaving the kind out
    if (key == "labelSelectors") {
      out->has_label_maps_ = true;
      for (std::size_t i = 0; i < list.size(); ++i) {
        auto map = kube::label_map_from_json(list[i], index_path(path, i), error);
        if (!map) return invalid();
        out->label_maps_.push_back(std::move(*map));
      }
      continue;
    }
    if (key != "hardware" && key != "cpu" && key != "systemInformation") {
      error = {path, "unknown qualifier (expected hardware, cpu, systemInformation or labelSelectors)"};
      return invalid();
    }
    std::vector<std::shared_ptr<const Node>> alternatives;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string item_path = index_path(path, i);
      json::value as_hardware;
      if (key == "hardware") {
        as_hardware = list[i];
      } else if (key == "cpu") {
        bool ok = false;
        as_hardware = cpu_entry_as_hardware(list[i], item_path, error, ok);
        if (!ok) return invalid();
      } else {
        if (!list[i].is_null() && !list[i].is_object()) {
          error = {item_path, "must be an object"};
          return invalid();
        }
        as_hardware = json::object{{"system", list[i]}};
      }
      auto node = std::make_shared<Node>();
      node->key = "hardware";
      QualifierError inner;
      if (!compile_object(hardware_schema::hardware_fields(), as_hardware, item_path, *node, inner)) {
        // Error paths name the operator's field: map the rewritten cpu[] / systemInformation[]
        // paths ("cpu[0].compute.processors[0].productName") back to what was written ("cpu[0].version").
        std::string field = inner.field;
        if (key != "hardware") {
          for (const auto& [from, to] : {std::pair<std::string_view, std::string_view>{"].compute.processors[0].productName", "].version"},
                                         {"].compute.processors[0].", "]."},
                                         {"].system.", "]."}}) {
            if (auto pos = field.find(from); pos != std::string::npos) field.replace(pos, from.size(), to);
          }
        }
        error = {field, inner.message};
        return invalid();
      }
      alternatives.push_back(std::move(node));
    }
    out->hardware_kinds_.push_back(std::move(alternatives));
  }
  return out;
}

bool CompiledClass::matches(const json::object& server) const {
  if (error_) return false;
  if (name_ == kAnyClassName) return true;
  if (selector_ && !selector_->matches(objects::labels_of(server))) return false;
  if (has_label_maps_) {
    const auto* labels = objects::labels_of(server);
    if (!std::any_of(label_maps_.begin(), label_maps_.end(),
                     [&](const kube::LabelSelector& m) { return m.matches(labels); }))
      return false;
  }
  if (hardware_kinds_.empty()) return true;
  const auto* spec = objects::spec_of(server);
  const auto* hardware_value = spec ? spec->if_contains("hardware") : nullptr;
  const auto* hardware = hardware_value ? hardware_value->if_object() : nullptr;
  if (!hardware || hardware->empty()) return false;  // nothing reported: no hardware qualifier matches
  for (const auto& alternatives : hardware_kinds_) {
    if (!std::any_of(alternatives.begin(), alternatives.end(),
                     [&](const auto& node) { return node->matches(hardware_value); }))
      return false;
  }
  return true;
}

std::shared_ptr<const CompiledClass> MatcherCache::get(const json::object& server_class) {
  const std::string name(objects::name_of(server_class));
  std::string version;
  if (const auto* md = object_at(server_class, "metadata")) {
    // generation changes only with the spec; resourceVersion also with every status write.
    if (const auto* g = md->if_contains("generation"); g && as_int(*g)) version = "gen:" + std::to_string(*as_int(*g));
    else if (auto rv = objects::string_at(*md, "resourceVersion"); !rv.empty()) version = "rv:" + std::string(rv);
  }
  if (version.empty()) {
    const auto* spec = server_class.if_contains("spec");
    version = "spec:" + (spec ? json::serialize(*spec) : std::string());
  }
  auto it = entries_.find(name);
  if (it != entries_.end() && it->second.version == version) return it->second.compiled;
  auto compiled = CompiledClass::compile(server_class);
  ++compilations_;
  entries_[name] = Entry{version, compiled};
  return compiled;
}

void MatcherCache::retain_only(const std::vector<std::string>& names) {
  const std::set<std::string, std::less<>> keep(names.begin(), names.end());
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (keep.count(it->first)) ++it;
    else it = entries_.erase(it);
  }
}

}  // namespace ironboot::serverclass
