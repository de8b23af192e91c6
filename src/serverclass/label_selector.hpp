// Kubernetes LabelSelector (matchLabels + matchExpressions) compiled from JSON once and
// evaluated against an object's metadata.labels.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ironboot::serverclass {

// A field path plus what is wrong with it: "spec.selector.matchExpressions[0].operator: ...".
struct QualifierError {
  std::string field;
  std::string message;
  std::string text() const { return field + ": " + message; }
};

class LabelSelector {
 public:
  enum class Operator { in, not_in, exists, does_not_exist };
  struct Requirement {
    std::string key;
    Operator op;
    std::set<std::string> values;
  };

  // Parses a selector at `path`; nullopt and `error` set when it is malformed (unknown
  // operator, values given to Exists, no values for In, non-string labels, ...).
  static std::optional<LabelSelector> parse(const boost::json::value& selector, const std::string& path,
                                            QualifierError& error);

  // `labels` may be null (an object without labels). An empty selector matches everything.
  bool matches(const boost::json::object* labels) const;

 private:
  std::map<std::string, std::string> match_labels_;
  std::vector<Requirement> requirements_;
};

// A plain label map (one entry of qualifiers.labelSelectors[]): every pair must be present.
std::optional<std::map<std::string, std::string>> parse_label_map(const boost::json::value& map,
                                                                  const std::string& path, QualifierError& error);
bool labels_contain(const boost::json::object* labels, const std::map<std::string, std::string>& wanted);

}  // namespace ironboot::serverclass
