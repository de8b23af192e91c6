// Test helper: operators write ServerClasses as YAML; convert a document to boost::json the
// way the API server does (plain scalars typed per YAML 1.2 core schema, quoted ones strings).
#pragma once

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <string>

namespace ironboot::testing {

inline boost::json::value yaml_node_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      boost::json::array a;
      for (const auto& item : node) a.push_back(yaml_node_to_json(item));
      return a;
    }
    case YAML::NodeType::Map: {
      boost::json::object o;
      for (const auto& kv : node) o[kv.first.as<std::string>()] = yaml_node_to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() != "?") return boost::json::string(text);  // quoted: always a string
      if (text == "true") return true;
      if (text == "false") return false;
      if (text == "null" || text == "~") return nullptr;
      char* end = nullptr;
      const long long n = std::strtoll(text.c_str(), &end, 10);
      if (!text.empty() && *end == '\0') return static_cast<std::int64_t>(n);
      const double d = std::strtod(text.c_str(), &end);
      if (!text.empty() && *end == '\0') return d;
      return boost::json::string(text);
    }
  }
  return nullptr;
}

inline boost::json::object yaml_object(const std::string& text) {
  return yaml_node_to_json(YAML::Load(text)).as_object();
}

}  // namespace ironboot::testing
