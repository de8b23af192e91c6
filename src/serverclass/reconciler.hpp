// Computes every ServerClass's status from the current Servers and ServerClasses (pure).
// The caller diffs the result against the cached objects and writes only what changed.
#pragma once

#include "serverclass/matcher.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::serverclass {

struct ClassStatus {
  std::string name;
  std::vector<std::string> servers_available;  // sorted
  std::vector<std::string> servers_in_use;     // sorted
  std::optional<QualifierError> error;         // set when the class is invalid (it then lists nobody)
};

// Accepted and not cordoned: the only servers a class may list.
bool server_is_eligible(const boost::json::object& server);

// One ClassStatus per class, in the order of `classes`. Compiles through `cache`.
std::vector<ClassStatus> reconcile(const std::vector<const boost::json::object*>& servers,
                                   const std::vector<const boost::json::object*>& classes, MatcherCache& cache);

// The names of the classes (among `statuses`) that list `server_name` as available or in use.
std::vector<std::string> classes_of(std::string_view server_name, const std::vector<ClassStatus>& statuses);

// The `any` ServerClass to create when it is missing.
boost::json::object make_any_server_class();
// True when `classes` contains one named "any".
bool has_any_class(const std::vector<const boost::json::object*>& classes);

// The merge patch for the class's status subresource, or nullopt when the object already says
// so. The Ready condition is True for a valid class, False/InvalidQualifiers with the field
// and RE2's message otherwise.
std::optional<boost::json::object> status_patch(const boost::json::object& server_class, const ClassStatus& status,
                                                std::string_view now);

}  // namespace ironboot::serverclass
