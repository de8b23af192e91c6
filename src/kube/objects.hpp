// Helpers for Kubernetes-shaped objects as boost::json values, shared by the kube layer,
// serverclass and discovery without the rest of the kube library: the group/version of the
// metal.sidero.dev kinds, read-only accessors and status conditions.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace ironboot::kube {

constexpr const char* kGroup = "metal.sidero.dev";
constexpr const char* kVersion = "v1alpha2";
constexpr const char* kApiVersion = "metal.sidero.dev/v1alpha2";

}  // namespace ironboot::kube

namespace ironboot::objects {

// Read-only accessors. A missing member or one of the wrong type reads as "absent" (nullptr,
// empty, false): objects come from the API server and are treated as untrusted shapes, never
// as exceptions.

inline const boost::json::value* member(const boost::json::object& obj, std::string_view key) {
  return obj.if_contains(key);
}

inline const boost::json::object* object_at(const boost::json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v ? v->if_object() : nullptr;
}

inline const boost::json::array* array_at(const boost::json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v ? v->if_array() : nullptr;
}

inline std::string_view string_at(const boost::json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  if (!v || !v->is_string()) return {};
  const auto& s = v->get_string();
  return {s.data(), s.size()};
}

inline bool bool_at(const boost::json::object& obj, std::string_view key) {
  const auto* v = obj.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

// metadata.name, spec, status, metadata.labels of a Kubernetes object.
inline std::string_view name_of(const boost::json::object& obj) {
  const auto* md = object_at(obj, "metadata");
  return md ? string_at(*md, "name") : std::string_view{};
}
inline const boost::json::object* spec_of(const boost::json::object& obj) { return object_at(obj, "spec"); }
inline const boost::json::object* status_of(const boost::json::object& obj) { return object_at(obj, "status"); }
inline const boost::json::object* labels_of(const boost::json::object& obj) {
  const auto* md = object_at(obj, "metadata");
  return md ? object_at(*md, "labels") : nullptr;
}
inline const boost::json::object* annotations_of(const boost::json::object& obj) {
  const auto* md = object_at(obj, "metadata");
  return md ? object_at(*md, "annotations") : nullptr;
}

// spec.<key> as bool / string (false / "" when absent).
inline bool spec_bool(const boost::json::object& obj, std::string_view key) {
  const auto* s = spec_of(obj);
  return s && bool_at(*s, key);
}
inline std::string_view spec_string(const boost::json::object& obj, std::string_view key) {
  const auto* s = spec_of(obj);
  return s ? string_at(*s, key) : std::string_view{};
}
inline bool status_bool(const boost::json::object& obj, std::string_view key) {
  const auto* s = status_of(obj);
  return s && bool_at(*s, key);
}

// environmentRef may be written as {"name": "x"} (Sidero's ObjectReference) or as a plain string.
inline std::string_view environment_ref_name(const boost::json::object& obj) {
  const auto* s = spec_of(obj);
  if (!s) return {};
  const auto* ref = s->if_contains("environmentRef");
  if (!ref) return {};
  if (ref->is_string()) return {ref->get_string().data(), ref->get_string().size()};
  if (ref->is_object()) return string_at(ref->get_object(), "name");
  return {};
}

// Status conditions ({type, status, reason, message, lastTransitionTime}).
struct Condition {
  std::string type;
  bool status = true;  // rendered "True" / "False"
  std::string reason;
  std::string message;
};

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
