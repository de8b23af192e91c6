// Fetching one Environment file (kernel or initrd) into the data dir, under the rules of
// environment_source.hpp. fetch_to_file blocks its caller: it runs on a worker thread with a
// private io_context, so every socket operation has a timeout and FetchControl::cancel ends
// it from any thread at once.
#pragma once

#include "discovery/environment_source.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace ironboot::discovery {

// The bytes under data_dir/environments, by Environment, shared by all fetches: a fetch takes
// what it writes, and is refused once the quota would be exceeded.
class FetchQuota {
 public:
  FetchQuota(std::string root, std::uint64_t quota) : root_(std::move(root)), quota_(quota) {}
  // Takes `bytes` for `name`; false (nothing taken) when the total would exceed the quota.
  bool take(const std::string& name, std::uint64_t bytes);
  // What `name` holds now (its files were replaced or removed).
  void set(const std::string& name, std::uint64_t bytes);
  std::uint64_t room();
  std::uint64_t used();
  std::uint64_t quota() const { return quota_; }

 private:
  void scan_locked();  // the first call counts what is on disk already
  std::mutex mutex_;
  std::string root_;
  std::uint64_t quota_;
  bool scanned_ = false;
  std::uint64_t total_ = 0;
  std::map<std::string, std::uint64_t> by_name_;
};

// Cancels one fetch from any thread: the running io_context is stopped (its sockets closed
// with it), a file copy stops at its next chunk.
class FetchControl {
 public:
  void cancel();
  bool cancelled() const { return cancelled_; }
  // The fetch's io_context while it runs; false when cancelled already.
  bool attach(boost::asio::io_context& io);
  void detach();

 private:
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  boost::asio::io_context* io_ = nullptr;
};

struct FetchLimits {
  std::uint64_t max_file_bytes = 2ull << 30;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds read_timeout{60000};
  int max_redirects = 5;
};

struct FetchResult {
  bool ok = false;
  std::string reason;   // a fetch_reason when !ok
  std::string message;  // human-readable detail
  std::uint64_t bytes = 0;
  std::string sha512;   // lower-case hex of what was written
};

struct FetchJob {
  std::string url, sha512;  // as in the spec
  SourcePolicy policy;
  FetchLimits limits;
  std::shared_ptr<boost::asio::ssl::context> tls;  // verifying client context for https
  std::string tls_error;                           // why `tls` is unusable ("" when fine)
  std::string quota_name;                          // the Environment the bytes count for
};

// Writes the source to `dir`/`file` through `file`.part: fsync'd, sha512-checked, renamed,
// the directory fsync'd. Nothing of a failed fetch stays behind.
FetchResult fetch_to_file(const FetchJob& job, const std::string& dir, const std::string& file, FetchQuota& quota,
                          FetchControl& control);

// Writes `data` to `dir`/`file` the same way (.part, fsync, rename, fsync of `dir`); "" or why not.
std::string write_file_durably(const std::string& dir, const std::string& file, const std::string& data);

// Lower-case hex SHA-512 of a file, or "" when it cannot be read or `control` cancels it.
std::string sha512_of_file(const std::string& path, const FetchControl* control = nullptr);

}  // namespace ironboot::discovery
