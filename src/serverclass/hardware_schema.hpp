// The shape of a Server's spec.hardware (docs/serverclass.md), shared by the qualifier
// compiler and the agent report validator so both agree on every field name and type.
#pragma once

#include <string_view>
#include <vector>

namespace ironboot::hardware_schema {

enum class Kind { string, integer, object, object_list, string_list };

struct Field {
  std::string_view name;
  Kind kind;
  const std::vector<Field>* children = nullptr;  // for object / object_list
};

// Top level: system, compute, memory, storage, network.
const std::vector<Field>& hardware_fields();

}  // namespace ironboot::hardware_schema
