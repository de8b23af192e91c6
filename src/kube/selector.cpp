#include "kube/selector.hpp"

#include <algorithm>
#include <cctype>

#include "common/text.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

// Splits on commas that are not inside parentheses.
std::optional<std::vector<std::string_view>> split_terms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    else if (text[i] == ')') {
      if (--depth < 0) return std::nullopt;
    } else if (text[i] == ',' && depth == 0) {
      out.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  if (depth != 0) return std::nullopt;
  out.push_back(trim(text.substr(start)));
  return out;
}

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > 316) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

bool valid_value(std::string_view v) {
  if (v.size() > 63) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

std::optional<LabelRequirement> parse_term(std::string_view term, std::string* error) {
  LabelRequirement r;
  auto fail = [&](const std::string& why) -> std::optional<LabelRequirement> {
    if (error) *error = "invalid selector term \"" + std::string(term) + "\": " + why;
    return std::nullopt;
  };
  if (term.empty()) return fail("empty term");
  if (term.front() == '!') {
    r.key = std::string(trim(term.substr(1)));
    r.op = LabelRequirement::Op::DoesNotExist;
    if (!valid_key(r.key)) return fail("invalid key");
    return r;
  }
  // Set-based: key in (a,b) / key notin (a,b)
  auto paren = term.find('(');
  if (paren != std::string_view::npos) {
    if (term.back() != ')') return fail("missing ')'");
    std::string_view head = trim(term.substr(0, paren));
    auto space = head.find_last_of(" \t");
    if (space == std::string_view::npos) return fail("expected 'in' or 'notin'");
    std::string_view op = trim(head.substr(space + 1));
    r.key = std::string(trim(head.substr(0, space)));
    if (op == "in") r.op = LabelRequirement::Op::In;
    else if (op == "notin") r.op = LabelRequirement::Op::NotIn;
    else return fail("expected 'in' or 'notin'");
    if (!valid_key(r.key)) return fail("invalid key");
    std::string_view inner = term.substr(paren + 1, term.size() - paren - 2);
    std::size_t start = 0;
    while (true) {
      auto comma = inner.find(',', start);
      std::string_view v = trim(inner.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (!valid_value(v)) return fail("invalid value");
      r.values.emplace_back(v);
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return r;
  }
  auto ne = term.find("!=");
  auto eq = term.find('=');
  if (ne != std::string_view::npos) {
    r.op = LabelRequirement::Op::NotEquals;
    r.key = std::string(trim(term.substr(0, ne)));
    r.values.emplace_back(trim(term.substr(ne + 2)));
  } else if (eq != std::string_view::npos) {
    r.op = LabelRequirement::Op::Equals;
    r.key = std::string(trim(term.substr(0, eq)));
    std::size_t vstart = eq + 1;
    if (vstart < term.size() && term[vstart] == '=') ++vstart;
    r.values.emplace_back(trim(term.substr(vstart)));
  } else {
    r.op = LabelRequirement::Op::Exists;
    r.key = std::string(term);
  }
  if (!valid_key(r.key)) return fail("invalid key");
  for (const auto& v : r.values)
    if (!valid_value(v)) return fail("invalid value");
  return r;
}

}  // namespace

bool LabelSelector::matches(const json::object* labels) const {
  return matches([labels](std::string_view key) -> std::optional<std::string_view> {
    const json::value* v = labels ? labels->if_contains(key) : nullptr;
    if (!v || !v->is_string()) return std::nullopt;
    return std::string_view(v->get_string());
  });
}

bool LabelSelector::matches(const LabelLookup& label) const {
  for (const auto& r : requirements) {
    const std::optional<std::string_view> found = label(r.key);
    const bool present = found.has_value();
    const std::string_view value = present ? *found : std::string_view();
    auto in_values = [&] { return std::find(r.values.begin(), r.values.end(), value) != r.values.end(); };
    switch (r.op) {
      case LabelRequirement::Op::Equals:
        if (!present || value != r.values.front()) return false;
        break;
      case LabelRequirement::Op::NotEquals:
        if (present && value == r.values.front()) return false;
        break;
      case LabelRequirement::Op::In:
        if (!present || !in_values()) return false;
        break;
      case LabelRequirement::Op::NotIn:
        if (present && in_values()) return false;
        break;
      case LabelRequirement::Op::Exists:
        if (!present) return false;
        break;
      case LabelRequirement::Op::DoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

std::optional<LabelSelector> parse_label_selector(std::string_view text, std::string* error) {
  LabelSelector sel;
  text = trim(text);
  if (text.empty()) return sel;
  auto terms = split_terms(text);
  if (!terms) {
    if (error) *error = "unbalanced parentheses in selector";
    return std::nullopt;
  }
  for (auto term : *terms) {
    auto r = parse_term(term, error);
    if (!r) return std::nullopt;
    sel.requirements.push_back(std::move(*r));
  }
  return sel;
}

namespace {

bool fail(FieldError& error, std::string field, std::string message) {
  error = {std::move(field), std::move(message)};
  return false;
}

// One matchExpressions entry at `path`.
std::optional<LabelRequirement> requirement_from_json(const json::value& item, const std::string& path,
                                                      FieldError& error) {
  if (!item.is_object()) {
    fail(error, path, "must be an object with key, operator and values");
    return std::nullopt;
  }
  const auto& expr = item.get_object();
  LabelRequirement req;
  const auto* k = expr.if_contains("key");
  if (!k || !k->is_string() || k->get_string().empty()) {
    fail(error, path + ".key", "must be a non-empty string");
    return std::nullopt;
  }
  req.key = std::string(k->get_string());
  const auto* op = expr.if_contains("operator");
  const std::string_view op_text = (op && op->is_string()) ? std::string_view(op->get_string()) : "";
  if (op_text == "In") req.op = LabelRequirement::Op::In;
  else if (op_text == "NotIn") req.op = LabelRequirement::Op::NotIn;
  else if (op_text == "Exists") req.op = LabelRequirement::Op::Exists;
  else if (op_text == "DoesNotExist") req.op = LabelRequirement::Op::DoesNotExist;
  else {
    fail(error, path + ".operator", "must be one of In, NotIn, Exists, DoesNotExist");
    return std::nullopt;
  }
  if (const auto* values = expr.if_contains("values"); values && !values->is_null()) {
    if (!values->is_array()) {
      fail(error, path + ".values", "must be a list of strings");
      return std::nullopt;
    }
    for (const auto& v : values->get_array()) {
      if (!v.is_string()) {
        fail(error, path + ".values", "must be a list of strings");
        return std::nullopt;
      }
      req.values.emplace_back(v.get_string());
    }
  }
  const bool needs_values = req.op == LabelRequirement::Op::In || req.op == LabelRequirement::Op::NotIn;
  if (needs_values && req.values.empty()) {
    fail(error, path + ".values", "must not be empty for " + std::string(op_text));
    return std::nullopt;
  }
  if (!needs_values && !req.values.empty()) {
    fail(error, path + ".values", "must be empty for " + std::string(op_text));
    return std::nullopt;
  }
  return req;
}

}  // namespace

std::optional<LabelSelector> label_map_from_json(const json::value& map, const std::string& path, FieldError& error) {
  LabelSelector sel;
  if (map.is_null()) return sel;
  if (!map.is_object()) {
    fail(error, path, "must be a map of label names to values");
    return std::nullopt;
  }
  for (const auto& [k, v] : map.get_object()) {
    if (!v.is_string()) {
      fail(error, path + "." + std::string(k), "label value must be a string");
      return std::nullopt;
    }
    sel.requirements.push_back({std::string(k), LabelRequirement::Op::Equals, {std::string(v.get_string())}});
  }
  return sel;
}

std::optional<LabelSelector> label_selector_from_json(const json::value& selector, const std::string& path,
                                                      FieldError& error) {
  LabelSelector sel;
  if (selector.is_null()) return sel;
  if (!selector.is_object()) {
    fail(error, path, "must be an object with matchLabels and/or matchExpressions");
    return std::nullopt;
  }
  for (const auto& [key, value] : selector.get_object()) {
    if (key == "matchLabels") {
      auto labels = label_map_from_json(value, path + ".matchLabels", error);
      if (!labels) return std::nullopt;
      for (auto& r : labels->requirements) sel.requirements.push_back(std::move(r));
    } else if (key == "matchExpressions") {
      if (value.is_null()) continue;
      const std::string list_path = path + ".matchExpressions";
      if (!value.is_array()) {
        fail(error, list_path, "must be a list");
        return std::nullopt;
      }
      std::size_t index = 0;
      for (const auto& item : value.get_array()) {
        auto req = requirement_from_json(item, list_path + "[" + std::to_string(index++) + "]", error);
        if (!req) return std::nullopt;
        sel.requirements.push_back(std::move(*req));
      }
    } else {
      fail(error, path + "." + std::string(key), "unknown field");
      return std::nullopt;
    }
  }
  return sel;
}

bool FieldSelector::matches(const std::function<std::string(const std::string&)>& value_of) const {
  for (const auto& r : requirements)
    if ((value_of(r.field) == r.value) != r.equals) return false;
  return true;
}

bool FieldSelector::matches(std::string_view name) const {
  return matches([&](const std::string& field) { return field == "metadata.name" ? std::string(name) : std::string(); });
}

std::optional<std::string> FieldSelector::pinned(std::string_view field) const {
  for (const auto& r : requirements)
    if (r.equals && r.field == field) return r.value;
  return std::nullopt;
}

std::optional<FieldSelector> parse_field_selector(std::string_view text, std::string* error,
                                                  const std::vector<std::string>& supported) {
  FieldSelector sel;
  text = trim(text);
  if (text.empty()) return sel;
  auto terms = split_terms(text);
  if (!terms) {
    if (error) *error = "invalid field selector: " + std::string(text);
    return std::nullopt;
  }
  for (auto term : *terms) {
    FieldRequirement r;
    std::size_t op = term.find("!=");
    std::size_t vstart = 0;
    if (op != std::string_view::npos) {
      r.equals = false;
      vstart = op + 2;
    } else {
      op = term.find("==");
      if (op != std::string_view::npos) vstart = op + 2;
      else {
        op = term.find('=');
        vstart = op + 1;
      }
    }
    if (op == std::string_view::npos) {
      if (error) *error = "invalid selector: '" + std::string(text) + "'; can't understand '" + std::string(term) + "'";
      return std::nullopt;
    }
    r.field = std::string(trim(term.substr(0, op)));
    if (std::find(supported.begin(), supported.end(), r.field) == supported.end()) {
      if (error) *error = "field label not supported: " + r.field;
      return std::nullopt;
    }
    r.value = std::string(trim(term.substr(vstart)));
    sel.requirements.push_back(std::move(r));
  }
  return sel;
}

}  // namespace ironboot::kube
