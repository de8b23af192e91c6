#include "serverclass/label_selector.hpp"

#include <string_view>

namespace ironboot::serverclass {

namespace json = boost::json;

namespace {

const json::string* label_value(const json::object* labels, std::string_view key) {
  if (!labels) return nullptr;
  const auto* v = labels->if_contains(key);
  return v ? v->if_string() : nullptr;
}

bool fail(QualifierError& error, std::string field, std::string message) {
  error = {std::move(field), std::move(message)};
  return false;
}

}  // namespace

std::optional<std::map<std::string, std::string>> parse_label_map(const json::value& map, const std::string& path,
                                                                  QualifierError& error) {
  if (map.is_null()) return std::map<std::string, std::string>{};
  if (!map.is_object()) {
    fail(error, path, "must be a map of label names to values");
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : map.get_object()) {
    if (!v.is_string()) {
      fail(error, path + "." + std::string(k), "label value must be a string");
      return std::nullopt;
    }
    out.emplace(std::string(k), std::string(v.get_string()));
  }
  return out;
}

bool labels_contain(const json::object* labels, const std::map<std::string, std::string>& wanted) {
  for (const auto& [k, v] : wanted) {
    const auto* have = label_value(labels, k);
    if (!have || *have != v) return false;
  }
  return true;
}

std::optional<LabelSelector> LabelSelector::parse(const json::value& selector, const std::string& path,
                                                  QualifierError& error) {
  LabelSelector out;
  if (selector.is_null()) return out;
  if (!selector.is_object()) {
    fail(error, path, "must be an object with matchLabels and/or matchExpressions");
    return std::nullopt;
  }
  for (const auto& [key, value] : selector.get_object()) {
    if (key == "matchLabels") {
      auto labels = parse_label_map(value, path + ".matchLabels", error);
      if (!labels) return std::nullopt;
      out.match_labels_ = std::move(*labels);
    } else if (key == "matchExpressions") {
      if (value.is_null()) continue;
      const std::string list_path = path + ".matchExpressions";
      if (!value.is_array()) {
        fail(error, list_path, "must be a list");
        return std::nullopt;
      }
      std::size_t index = 0;
      for (const auto& item : value.get_array()) {
        const std::string item_path = list_path + "[" + std::to_string(index++) + "]";
        if (!item.is_object()) {
          fail(error, item_path, "must be an object with key, operator and values");
          return std::nullopt;
        }
        const auto& expr = item.get_object();
        Requirement req;
        const auto* k = expr.if_contains("key");
        if (!k || !k->is_string() || k->get_string().empty()) {
          fail(error, item_path + ".key", "must be a non-empty string");
          return std::nullopt;
        }
        req.key = std::string(k->get_string());
        const auto* op = expr.if_contains("operator");
        const std::string_view op_text = (op && op->is_string()) ? std::string_view(op->get_string()) : "";
        if (op_text == "In") req.op = Operator::in;
        else if (op_text == "NotIn") req.op = Operator::not_in;
        else if (op_text == "Exists") req.op = Operator::exists;
        else if (op_text == "DoesNotExist") req.op = Operator::does_not_exist;
        else {
          fail(error, item_path + ".operator", "must be one of In, NotIn, Exists, DoesNotExist");
          return std::nullopt;
        }
        if (const auto* values = expr.if_contains("values"); values && !values->is_null()) {
          if (!values->is_array()) {
            fail(error, item_path + ".values", "must be a list of strings");
            return std::nullopt;
          }
          for (const auto& v : values->get_array()) {
            if (!v.is_string()) {
              fail(error, item_path + ".values", "must be a list of strings");
              return std::nullopt;
            }
            req.values.emplace(v.get_string());
          }
        }
        const bool needs_values = req.op == Operator::in || req.op == Operator::not_in;
        if (needs_values && req.values.empty()) {
          fail(error, item_path + ".values", "must not be empty for " + std::string(op_text));
          return std::nullopt;
        }
        if (!needs_values && !req.values.empty()) {
          fail(error, item_path + ".values", "must be empty for " + std::string(op_text));
          return std::nullopt;
        }
        out.requirements_.push_back(std::move(req));
      }
    } else {
      fail(error, path + "." + std::string(key), "unknown field");
      return std::nullopt;
    }
  }
  return out;
}

bool LabelSelector::matches(const json::object* labels) const {
  if (!labels_contain(labels, match_labels_)) return false;
  for (const auto& req : requirements_) {
    const auto* have = label_value(labels, req.key);
    switch (req.op) {
      case Operator::in:
        if (!have || !req.values.count(std::string(*have))) return false;
        break;
      case Operator::not_in:
        // Kubernetes: NotIn also matches objects without the label.
        if (have && req.values.count(std::string(*have))) return false;
        break;
      case Operator::exists:
        if (!labels || !labels->contains(req.key)) return false;
        break;
      case Operator::does_not_exist:
        if (labels && labels->contains(req.key)) return false;
        break;
    }
  }
  return true;
}

}  // namespace ironboot::serverclass
