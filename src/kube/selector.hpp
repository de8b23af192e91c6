// Kubernetes label selector (the `-l` / labelSelector syntax) and the metadata.name field
// selector: parsing and matching. Pure.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::kube {

struct LabelRequirement {
  enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist };
  std::string key;
  Op op = Op::Exists;
  std::vector<std::string> values;
};

struct LabelSelector {
  std::vector<LabelRequirement> requirements;  // AND
  bool empty() const { return requirements.empty(); }
  // `labels` may be null (an object without labels).
  bool matches(const boost::json::object* labels) const;
};

// "a=b,c!=d,e in (x,y),f notin (z),g,!h". Empty text selects everything.
std::optional<LabelSelector> parse_label_selector(std::string_view text, std::string* error);

// A metav1.LabelSelector object (matchLabels + matchExpressions) as a LabelSelector.
std::optional<LabelSelector> label_selector_from_json(const boost::json::object& selector, std::string* error);

// Field selectors: only metadata.name (=, ==, !=) is supported, as for custom resources.
struct FieldSelector {
  std::optional<std::string> name_equals;
  std::optional<std::string> name_not_equals;
  bool matches(std::string_view name) const;
};
std::optional<FieldSelector> parse_field_selector(std::string_view text, std::string* error);

}  // namespace ironboot::kube
