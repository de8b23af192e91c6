// What the built-in Kubernetes types add to the generic handling of api_handler.cpp, as
// kube-apiserver's strategies do: Secret and ConfigMap data rules (stringData, base64, keys,
// size, type and `immutable`), Event validation and the events.k8s.io/v1 <-> core/v1
// conversion (one stored object, two served shapes), the field selector labels of each
// type, and namespace name rules. Pure.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/resource_type.hpp"

namespace ironboot::kube {

// The namespaces that exist from the start, and those that may never be deleted.
const std::vector<std::string>& initial_namespaces();
bool immortal_namespace(std::string_view name);
// A DNS-1123 label (what a namespace name must be): [a-z0-9-], at most 63, alphanumeric ends.
bool valid_dns_label(std::string_view name);

// The type whose objects are stored for `type` ("events" of events.k8s.io/v1 are core/v1
// Events). Objects in the store always have the storage type's shape.
bool stored_as_core_event(const ResourceType& type);
// Stored (core/v1) object -> the shape `type` serves; identity for every other type.
boost::json::object to_served(const ResourceType& type, const boost::json::object& stored);
// Served shape -> stored shape.
boost::json::object to_stored(const ResourceType& type, boost::json::object served);

// A write's object after schema validation, before the rules below: Secret stringData folded
// into data (base64) and dropped, Secret type defaulted to Opaque.
void normalize_write(const ResourceType& type, boost::json::object& object);

// kube-apiserver's validation beyond the schema, on the stored shape. `old` is null on create;
// `type` is the type the request addressed (events.k8s.io/v1 validates more).
std::vector<FieldProblem> validate_semantics(const ResourceType& type, const boost::json::object& object,
                                             const boost::json::object* old);

// Field selector labels `type` supports (metadata.name, metadata.namespace, then the type's).
const std::vector<std::string>& field_labels(const ResourceType& type);
// A stored object's value for a field label ("" when absent).
std::string field_value(const ResourceType& type, const boost::json::object& stored, const std::string& label);

// When a stored event was last seen: the newest of series.lastObservedTime, lastTimestamp,
// eventTime and creationTimestamp (what the expiry sweep ages events by).
std::optional<std::chrono::system_clock::time_point> event_last_seen(const boost::json::object& stored);

}  // namespace ironboot::kube
