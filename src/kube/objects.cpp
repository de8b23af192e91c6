#include "kube/objects.hpp"

namespace ironboot::objects {

namespace json = boost::json;

const json::object* find_condition(const json::object& object, std::string_view type) {
  const auto* status = status_of(object);
  const auto* list = status ? array_at(*status, "conditions") : nullptr;
  if (!list) return nullptr;
  for (const auto& c : *list) {
    if (c.is_object() && string_at(c.get_object(), "type") == type) return &c.get_object();
  }
  return nullptr;
}

bool condition_is_true(const json::object& object, std::string_view type) {
  const auto* c = find_condition(object, type);
  return c && string_at(*c, "status") == "True";
}

json::array with_condition(const json::array* conditions, const Condition& condition, std::string_view now) {
  json::array out;
  const std::string_view status = condition.status ? "True" : "False";
  bool replaced = false;
  if (conditions) {
    for (const auto& c : *conditions) {
      if (!c.is_object() || string_at(c.get_object(), "type") != condition.type) {
        out.push_back(c);
        continue;
      }
      if (replaced) continue;  // drop duplicates of the same type
      replaced = true;
      const auto& old = c.get_object();
      json::object updated;
      updated["type"] = condition.type;
      updated["status"] = status;
      updated["reason"] = condition.reason;
      updated["message"] = condition.message;
      const auto old_time = string_at(old, "lastTransitionTime");
      updated["lastTransitionTime"] =
          (string_at(old, "status") == status && !old_time.empty()) ? json::string(old_time) : json::string(now);
      out.push_back(std::move(updated));
    }
  }
  if (!replaced) {
    out.push_back(json::object{{"type", condition.type},
                               {"status", status},
                               {"reason", condition.reason},
                               {"message", condition.message},
                               {"lastTransitionTime", now}});
  }
  return out;
}

json::array without_condition(const json::array* conditions, std::string_view type) {
  json::array out;
  if (!conditions) return out;
  for (const auto& c : *conditions) {
    if (c.is_object() && string_at(c.get_object(), "type") == type) continue;
    out.push_back(c);
  }
  return out;
}

}  // namespace ironboot::objects
