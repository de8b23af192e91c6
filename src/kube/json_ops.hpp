// Pure JSON document operations used by the API server and the client: RFC 7386 merge patch,
// RFC 6902 JSON patch, and YAML <-> JSON conversion.
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace ironboot::kube {

// RFC 7386: null in the patch removes a member; objects merge recursively; anything else replaces.
boost::json::value merge_patch(const boost::json::value& target, const boost::json::value& patch);

// RFC 7386 in reverse: the smallest merge patch that turns `from` into `to`.
boost::json::value merge_diff(const boost::json::value& from, const boost::json::value& to);

// RFC 6902. Applies every operation or none; returns an error text when an operation fails.
std::optional<std::string> apply_json_patch(boost::json::value& document, const boost::json::value& ops);

// Parses one YAML document into JSON (plain scalars are typed like YAML 1.2 core schema,
// quoted scalars are strings). Returns nullopt and sets `error` when it is not valid YAML.
std::optional<boost::json::value> yaml_to_json(std::string_view text, std::string* error = nullptr);

// Block-style YAML rendering of a JSON value (for kubeconfig output and docs).
std::string json_to_yaml(const boost::json::value& value);

// About how much heap a JSON tree holds (for memory budgets, not exact).
std::size_t json_heap_bytes(const boost::json::value& value);

// Parses JSON without throwing.
std::optional<boost::json::value> parse_json(std::string_view text, std::string* error = nullptr);

}  // namespace ironboot::kube
