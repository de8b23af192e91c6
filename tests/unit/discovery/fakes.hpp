// Fakes for the discovery core's outside world.
#pragma once

#include "discovery/environment.hpp"

#include <map>
#include <string>

namespace ironboot::discovery::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t unix_seconds) : now_(std::chrono::seconds(unix_seconds)) {}
  std::chrono::system_clock::time_point now() const override { return now_; }
  void advance(std::chrono::seconds s) { now_ += s; }

 private:
  std::chrono::system_clock::time_point now_;
};

class FakeFileSystem final : public FileSystem {
 public:
  struct File {
    std::string data;
    unsigned mode = 0600;
  };
  std::map<std::string, File> files;
  std::string read_error;        // when set, every read fails with it (not ENOENT)
  bool create_fails = false;
  // Simulates another process creating the file between our read and our create.
  std::optional<File> appears_on_create;
  int creates = 0;

  std::optional<std::string> read(const std::string& path, bool& missing, std::string& error) override {
    missing = false;
    if (!read_error.empty()) {
      error = read_error;
      return std::nullopt;
    }
    const auto it = files.find(path);
    if (it == files.end()) {
      missing = true;
      error = path + ": No such file or directory";
      return std::nullopt;
    }
    return it->second.data;
  }
  std::optional<unsigned> mode(const std::string& path) override {
    const auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second.mode;
  }
  WriteResult create_private(const std::string& path, const std::string& data, std::string& error) override {
    ++creates;
    if (create_fails) {
      error = path + ": Read-only file system";
      return WriteResult::failed;
    }
    if (appears_on_create) {
      files[path] = *appears_on_create;
      appears_on_create.reset();
      return WriteResult::exists;
    }
    if (files.count(path)) return WriteResult::exists;
    files[path] = File{data, 0600};
    return WriteResult::written;
  }
};

}  // namespace ironboot::discovery::testing
