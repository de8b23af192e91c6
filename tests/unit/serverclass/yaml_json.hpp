// Test helper: operators write ServerClasses as YAML; read a document the way the API server
// does (kube::yaml_to_json: plain scalars typed, quoted ones strings).
#pragma once

#include <boost/json/object.hpp>

#include <string>

#include "kube/json_ops.hpp"

namespace ironboot::testing {

inline boost::json::object yaml_object(const std::string& text) { return kube::yaml_to_json(text)->as_object(); }

}  // namespace ironboot::testing
