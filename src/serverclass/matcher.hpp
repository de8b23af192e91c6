// ServerClass qualifier matching (docs/serverclass.md). A class is compiled once per version
// (regexes included) and then evaluated against Server objects; both steps are pure and
// never throw.
#pragma once

#include "kube/selector.hpp"

#include <boost/json/object.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ironboot::serverclass {

// Where a class is malformed and why: "spec.qualifiers.cpu[0].version", "invalid regular ...".
using QualifierError = kube::FieldError;

// The class that always exists and holds every accepted, uncordoned server.
inline constexpr std::string_view kAnyClassName = "any";

class CompiledClass {
 public:
  struct Node;  // a compiled partial HardwareInformation (see matcher.cpp)

  // Compiles metadata.name + spec.qualifiers + spec.selector. An invalid class (bad regex,
  // unknown field, wrong type) compiles to an object whose error() is set and that matches
  // no server.
  static std::shared_ptr<const CompiledClass> compile(const boost::json::object& server_class);

  const std::string& name() const { return name_; }
  bool valid() const { return !error_.has_value(); }
  const std::optional<QualifierError>& error() const { return error_; }

  // Qualifiers only: accepted / cordoned are the reconciler's business. The `any` class
  // matches every server whatever its qualifiers say.
  bool matches(const boost::json::object& server) const;

  ~CompiledClass();
  CompiledClass();

 private:
  std::string name_;
  std::optional<QualifierError> error_;
  // hardware[], cpu[], systemInformation[]: each kind present is one AND term; its entries are OR.
  std::vector<std::vector<std::shared_ptr<const Node>>> hardware_kinds_;
  std::vector<kube::LabelSelector> label_maps_;  // qualifiers.labelSelectors[]: any one must match
  bool has_label_maps_ = false;
  std::optional<kube::LabelSelector> selector_;
};

// Keeps compiled classes keyed by name and version (generation, else resourceVersion, else
// the serialised spec), so regexes are compiled once per change of the class.
class MatcherCache {
 public:
  std::shared_ptr<const CompiledClass> get(const boost::json::object& server_class);
  // Forgets classes not in `names` (deleted classes).
  void retain_only(const std::vector<std::string>& names);
  std::size_t size() const { return entries_.size(); }
  std::size_t compilations() const { return compilations_; }

 private:
  struct Entry {
    std::string version;
    std::shared_ptr<const CompiledClass> compiled;
  };
  std::map<std::string, Entry, std::less<>> entries_;
  std::size_t compilations_ = 0;
};

}  // namespace ironboot::serverclass
