#include "kube/strategic_merge.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <string_view>

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr std::string_view kSetOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromList = "$deleteFromPrimitiveList/";
constexpr int kMaxDepth = 64;

enum class ListStrategy { Replace, MergePrimitive, MergeByKey };

struct ListRule {
  ListStrategy strategy = ListStrategy::Replace;
  const char* merge_key = nullptr;
};

// The lists with a merge strategy, by their key inside `metadata` (ObjectMeta's struct tags).
ListRule list_rule(bool in_metadata, std::string_view key) {
  if (!in_metadata) return {};
  if (key == "finalizers") return {ListStrategy::MergePrimitive, nullptr};
  if (key == "ownerReferences") return {ListStrategy::MergeByKey, "uid"};
  return {};
}

std::optional<std::string> merge_object(json::object& target, const json::object& patch, bool is_metadata, int depth);

std::optional<std::string> merge_list(json::value& target, const json::value& patch, const ListRule& rule, int depth) {
  if (!patch.is_array()) return "a merging list's patch must be a list";
  if (!target.is_array() || rule.strategy == ListStrategy::Replace) {
    target = patch;
    return std::nullopt;
  }
  auto& out = target.as_array();
  if (rule.strategy == ListStrategy::MergePrimitive) {
    for (const auto& item : patch.as_array())
      if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
    return std::nullopt;
  }
  for (const auto& item : patch.as_array()) {
    if (!item.is_object()) return "a list merged by key holds objects";
    const auto* key = item.as_object().if_contains(rule.merge_key);
    if (!key) return std::string("an element lacks its merge key ") + rule.merge_key;
    const auto* directive = item.as_object().if_contains("$patch");
    auto it = std::find_if(out.begin(), out.end(), [&](const json::value& e) {
      const auto* k = e.is_object() ? e.as_object().if_contains(rule.merge_key) : nullptr;
      return k && *k == *key;
    });
    if (directive && directive->is_string() && directive->as_string() == "delete") {
      if (it != out.end()) out.erase(it);
      continue;
    }
    if (it == out.end()) {
      json::object fresh;
      if (auto err = merge_object(fresh, item.as_object(), false, depth + 1)) return err;
      out.push_back(std::move(fresh));
    } else {
      if (!it->is_object()) *it = json::object{};
      if (auto err = merge_object(it->as_object(), item.as_object(), false, depth + 1)) return err;
    }
  }
  return std::nullopt;
}

std::optional<std::string> merge_object(json::object& target, const json::object& patch, bool is_metadata, int depth) {
  if (depth > kMaxDepth) return "the patch nests too deeply";
  if (const auto* directive = patch.if_contains("$patch")) {
    if (!directive->is_string()) return "$patch must be a string";
    const std::string_view d = directive->as_string();
    if (d == "delete") {
      target.clear();
      return std::nullopt;
    }
    if (d == "replace") {
      target.clear();
      for (const auto& [k, v] : patch)
        if (k != "$patch") target[k] = v;
      return std::nullopt;
    }
    if (d != "merge") return "unknown $patch directive " + std::string(d);
  }
  if (const auto* retain = patch.if_contains("$retainKeys")) {
    if (!retain->is_array()) return "$retainKeys must be a list";
    for (auto it = target.begin(); it != target.end();) {
      const bool keep = std::any_of(retain->as_array().begin(), retain->as_array().end(),
                                    [&](const json::value& k) { return k.is_string() && k.as_string() == it->key(); });
      it = keep ? std::next(it) : target.erase(it);
    }
  }
  for (const auto& [key, value] : patch) {
    const std::string_view k = key;
    if (k == "$patch" || k == "$retainKeys" || k.substr(0, kSetOrder.size()) == kSetOrder) continue;
    if (k.substr(0, kDeleteFromList.size()) == kDeleteFromList) {
      if (!value.is_array()) return std::string(k) + " must be a list";
      auto* list = target.if_contains(k.substr(kDeleteFromList.size()));
      if (list && list->is_array()) {
        auto& items = list->as_array();
        for (const auto& gone : value.as_array()) items.erase(std::remove(items.begin(), items.end(), gone), items.end());
      }
      continue;
    }
    if (k.find('$') == 0) return "unknown patch directive " + std::string(k);
    if (value.is_null()) {
      target.erase(k);
      continue;
    }
    const bool child_is_metadata = depth == 0 && k == "metadata";
    if (value.is_object()) {
      auto& slot = target[k];
      if (!slot.is_object()) slot = json::object{};
      if (auto err = merge_object(slot.as_object(), value.as_object(), child_is_metadata, depth + 1)) return err;
      continue;
    }
    if (value.is_array()) {
      if (auto err = merge_list(target[k], value, list_rule(is_metadata, k), depth + 1)) return err;
      continue;
    }
    target[k] = value;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> apply_strategic_merge_patch(json::value& doc, const json::value& patch) {
  if (!patch.is_object()) return std::string("a strategic merge patch must be an object");
  if (!doc.is_object()) doc = json::object{};
  return merge_object(doc.as_object(), patch.as_object(), false, 0);
}

}  // namespace ironboot::kube
