// Fetches an Environment's kernel / initrd into the data dir (file:// and http://), verifying
// sha512 when given. Blocking: it runs on a worker thread, never on the event loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace ironboot::discovery {

struct FetchResult {
  bool ok = false;
  std::string reason;   // condition reason when !ok: UnsupportedScheme, FetchFailed, ChecksumMismatch
  std::string message;  // human-readable detail
  std::uint64_t bytes = 0;
};

struct FetchLimits {
  std::uint64_t max_bytes = 4ull << 30;  // 4 GiB
  int timeout_seconds = 60;              // per socket operation
};

// Writes `url` to `dest` (via dest + ".part", renamed only once complete and verified).
// `sha512_hex` empty: no verification. `cancel` is polled between chunks.
FetchResult fetch_to_file(const std::string& url, const std::string& dest, const std::string& sha512_hex,
                          const FetchLimits& limits, const std::atomic<bool>& cancel);

// Lower-case hex SHA-512 of a file, or "" when it cannot be read.
std::string sha512_of_file(const std::string& path);

}  // namespace ironboot::discovery
