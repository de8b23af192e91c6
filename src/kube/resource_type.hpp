// The served resource types, read from the CRD files in assets/crds/ (compiled into the
// binary so the schema the embedded API enforces is exactly the one shipped for real clusters).
// Validation against the structural schema, pruning of unknown fields, and Table rendering
// from additionalPrinterColumns. Pure.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
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
  // A value a JSONPath cannot express, for the built-in types (`x-ironboot-value` in
  // src/kube/types): "data-count" (entries of data + binaryData, kubectl's DATA),
  // "event-last-seen" (age of series.lastObservedTime, lastTimestamp, else eventTime),
  // "event-object" (lower-case kind/name of involvedObject or regarding). Empty: the path.
  std::string rule;
};

struct ResourceType {
  std::string group;    // "" for the core group (served under /api/v1)
  std::string version;  // "v1alpha2", "v1"
  bool namespaced = false;
  std::string kind;
  std::string list_kind;
  std::string plural;
  std::string singular;
  std::vector<std::string> short_names;
  bool status_subresource = false;
  // What the API allows on it (discovery lists these). CRDs get every verb; a built-in type
  // may narrow them with the annotation `ironboot.sidero.dev/verbs: "create"` in its definition.
  std::vector<std::string> verbs;
  boost::json::object schema;  // openAPIV3Schema
  std::vector<PrinterColumn> columns;
  // A Kubernetes built-in type (src/kube/types), not a CRD: no metadata.generation.
  bool builtin = false;
  // Field selector labels beyond metadata.name and metadata.namespace (selectableFields).
  std::vector<std::string> selectable_fields;

  // "v1" for the core group, else "group/version": the objects' apiVersion.
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // "servers.metal.sidero.dev", or "secrets" for the core group, as kube-apiserver's messages say it.
  std::string group_resource() const { return group.empty() ? plural : plural + "." + group; }
};

// Parses one CustomResourceDefinition YAML document (its first served version). Throws
// std::runtime_error (startup only).
ResourceType parse_crd(const std::string& yaml_text);

// Every served type: the metal.sidero.dev CRDs first, then the built-in Kubernetes types
// (namespaces, secrets, configmaps, events in core/v1 and events.k8s.io/v1, leases, the
// authorization reviews).
const std::vector<ResourceType>& builtin_resource_types();
// By group, version and plural: the type a request path names, or null.
const ResourceType* find_resource_type(const std::string& group, const std::string& version, const std::string& plural);
// Shorthands for the metal.sidero.dev/v1alpha2 types (the CRDs).
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
// The same for `count` objects made one at a time by `object_at(i)`: each tree can be dropped
// after its row, so a Table of 10,000 stored objects never holds 10,000 parsed trees at once.
boost::json::object render_table(const ResourceType& type, std::size_t count,
                                 const std::function<boost::json::object(std::size_t)>& object_at,
                                 std::chrono::system_clock::time_point now);

// PartialObjectMetadata of an object (what a Table row carries for --show-labels).
boost::json::object partial_object_metadata(const boost::json::object& object);

}  // namespace ironboot::kube
