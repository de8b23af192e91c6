// The served resource types, read from the CRD files in assets/crds/ (compiled into the
// binary so the schema the embedded API enforces is exactly the one shipped for real clusters).
// Validation against the structural schema, pruning of unknown fields, and Table rendering
// from additionalPrinterColumns. Pure.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kube/objects.hpp"  // kGroup, kVersion, kApiVersion

namespace ironboot::kube {

struct PrinterColumn {
  std::string name;
  std::string type;  // string | integer | number | boolean | date
  std::string format;
  std::string description;
  std::string json_path;                 // as written in the CRD
  std::vector<std::string> path;         // ".spec.bmc.endpoint" -> {spec, bmc, endpoint}
  int priority = 0;
};

struct ResourceType {
  std::string kind;
  std::string list_kind;
  std::string plural;
  std::string singular;
  std::vector<std::string> short_names;
  bool status_subresource = false;
  boost::json::object schema;  // openAPIV3Schema
  std::vector<PrinterColumn> columns;
};

// Parses one CustomResourceDefinition YAML document. Throws std::runtime_error (startup only).
ResourceType parse_crd(const std::string& yaml_text);

// The three built-in types (Server, ServerClass, Environment).
const std::vector<ResourceType>& builtin_resource_types();
const ResourceType* find_resource_type(const std::string& plural);
const ResourceType* find_resource_type_by_kind(const std::string& kind);

struct FieldProblem {
  std::string field;    // "spec.accepted"
  std::string message;  // "Invalid value: \"string\": spec.accepted in body must be of type boolean: \"string\""
};

struct ValidationReport {
  std::vector<std::string> unknown_fields;  // pruned, as "spec.foo"
  std::vector<FieldProblem> problems;       // type / enum / required violations
};

// Validates `object` (a whole resource) against the type's schema and removes fields the
// schema does not declare. metadata is checked against ObjectMeta's known fields.
ValidationReport validate_and_prune(const ResourceType& type, boost::json::object& object);

// Evaluates a printer column on an object: null when any path element is missing.
boost::json::value column_value(const PrinterColumn& column, const boost::json::object& object,
                                std::chrono::system_clock::time_point now);

// "45s", "3m20s", "2h", "5d3h" like the apiserver's HumanDuration.
std::string human_duration(std::chrono::seconds d);

// A meta.k8s.io/v1 Table (column definitions + one row per object).
boost::json::object render_table(const ResourceType& type,
                                 const std::vector<std::shared_ptr<const boost::json::object>>& objects,
                                 std::chrono::system_clock::time_point now);

// PartialObjectMetadata of an object (what a Table row carries for --show-labels).
boost::json::object partial_object_metadata(const boost::json::object& object);

}  // namespace ironboot::kube
