// The outside world the discovery core needs: time and a few file operations, behind small
// interfaces so tests use fakes.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace ironboot::discovery {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
};

class FileSystem {
 public:
  enum class WriteResult { written, exists, failed };
  virtual ~FileSystem() = default;
  // The whole file; nullopt with `error` set when it cannot be read (`missing` tells ENOENT).
  virtual std::optional<std::string> read(const std::string& path, bool& missing, std::string& error) = 0;
  // Permission bits of an existing file (e.g. 0600), nullopt when unknown.
  virtual std::optional<unsigned> mode(const std::string& path) = 0;
  // Creates a new file readable by its owner only (0600), failing with `exists` when the path
  // is taken; the data is on disk when it returns `written`.
  virtual WriteResult create_private(const std::string& path, const std::string& data, std::string& error) = 0;
};

// POSIX implementation (open O_CREAT|O_EXCL 0600, fsync).
class PosixFileSystem final : public FileSystem {
 public:
  std::optional<std::string> read(const std::string& path, bool& missing, std::string& error) override;
  std::optional<unsigned> mode(const std::string& path) override;
  WriteResult create_private(const std::string& path, const std::string& data, std::string& error) override;
};

}  // namespace ironboot::discovery
