// Whole small files read at start-up or by workers (credentials, configuration, the store
// log, the agent's sysfs and procfs attributes). Not for the event loop's request paths:
// reading blocks. Plain POSIX, so the static agent compiles it too.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>

namespace ironboot {

// The bytes of the regular file `path` (at most `max_bytes` of them), or nullopt when it is
// not one or cannot be read. Read in one loop from offset 0, as sysfs attributes need.
std::optional<std::string> read_file(const std::string& path,
                                     std::size_t max_bytes = std::numeric_limits<std::size_t>::max());

}  // namespace ironboot
