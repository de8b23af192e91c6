// Kubernetes-style status conditions ({type, status, reason, message, lastTransitionTime}).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace ironboot::objects {

struct Condition {
  std::string type;
  bool status = true;  // rendered "True" / "False"
  std::string reason;
  std::string message;
};

// "2026-11-24T03:38:52Z"
std::string rfc3339(std::chrono::system_clock::time_point when);

// The object's status.conditions entry of that type, or nullptr.
const boost::json::object* find_condition(const boost::json::object& object, std::string_view type);
// True when the object has condition `type` with status "True".
bool condition_is_true(const boost::json::object& object, std::string_view type);

// A copy of `conditions` (may be null) with `condition` set. lastTransitionTime is `now`
// only when the status flips or the condition is new, as the API conventions ask.
boost::json::array with_condition(const boost::json::array* conditions, const Condition& condition,
                                  std::string_view now);
// A copy without the condition `type`.
boost::json::array without_condition(const boost::json::array* conditions, std::string_view type);

}  // namespace ironboot::objects
