// Whole small files read at start-up or by workers (credentials, configuration, the store
// log). Not for the event loop's request paths: reading blocks.
#pragma once

#include <optional>
#include <string>

namespace ironboot {

// The bytes of the regular file `path`, or nullopt when it is not one or cannot be read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace ironboot
