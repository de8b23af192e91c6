// Kubernetes label selectors, one type for both spellings: the text of `kubectl -l` and
// ?labelSelector= ("a=b,c in (x,y),!d") and the metav1.LabelSelector object (matchLabels +
// matchExpressions) of a ServerClass's spec.selector; and the metadata.name field selector.
// Parsing and matching. Pure.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <functional>
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
  // `labels` may be null (an object without labels); a label is there when it has a string
  // value (the API only stores strings). NotIn and != also match objects without the label.
  bool matches(const boost::json::object* labels) const;
  // The same over a lookup: `label(key)` is the label's value, nullopt when there is none.
  using LabelLookup = std::function<std::optional<std::string_view>(std::string_view key)>;
  bool matches(const LabelLookup& label) const;
};

// "a=b,a==b,c!=d,e in (x,y),f notin (z),g,!h". Empty text selects everything.
std::optional<LabelSelector> parse_label_selector(std::string_view text, std::string* error);

// A field path plus what is wrong with it: "spec.selector.matchExpressions[0].operator: ...".
struct FieldError {
  std::string field;
  std::string message;
  std::string text() const { return field + ": " + message; }
};

// A metav1.LabelSelector object written at `path` (which error fields start with); null
// selects everything. nullopt and `error` set when it is malformed: an unknown field or
// operator (In, NotIn, Exists, DoesNotExist), values given to Exists / DoesNotExist or none
// to In / NotIn, an empty key, a value or label that is not a string.
std::optional<LabelSelector> label_selector_from_json(const boost::json::value& selector, const std::string& path,
                                                      FieldError& error);

// A plain label map ({rack: a, zone: z1}) at `path`: every pair must be present. Null selects
// everything; nullopt and `error` set when it is not a map of strings.
std::optional<LabelSelector> label_map_from_json(const boost::json::value& map, const std::string& path,
                                                 FieldError& error);

// Field selectors (?fieldSelector=): terms "label=value", "label==value", "label!=value",
// ANDed, over the labels a resource type supports (metadata.name everywhere; see
// field_labels in the API handler).
struct FieldRequirement {
  std::string field;
  bool equals = true;  // false: !=
  std::string value;
};

struct FieldSelector {
  std::vector<FieldRequirement> requirements;
  bool empty() const { return requirements.empty(); }
  // `value_of(label)` is the object's value for a field label.
  bool matches(const std::function<std::string(const std::string&)>& value_of) const;
  // For a selector on metadata.name only (other labels compare as "").
  bool matches(std::string_view name) const;
  // The value an "=" term pins `field` to, if there is one (to narrow a list).
  std::optional<std::string> pinned(std::string_view field) const;
};
// nullopt and `error` = "field label not supported: x" when a term names a label not in
// `supported`.
std::optional<FieldSelector> parse_field_selector(std::string_view text, std::string* error,
                                                  const std::vector<std::string>& supported = {"metadata.name"});

}  // namespace ironboot::kube
