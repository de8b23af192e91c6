#include "discovery/environment.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ironboot::discovery {

std::optional<std::string> PosixFileSystem::read(const std::string& path, bool& missing, std::string& error) {
  missing = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    missing = errno == ENOENT;
    error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string data;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = path + ": " + std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > (1u << 20)) {  // key files are tiny; refuse anything odd
      error = path + ": file too large";
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  return data;
}

std::optional<unsigned> PosixFileSystem::mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<unsigned>(st.st_mode & 07777);
}

FileSystem::WriteResult PosixFileSystem::create_private(const std::string& path, const std::string& data,
                                                        std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return WriteResult::exists;
    error = path + ": " + std::strerror(errno);
    return WriteResult::failed;
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = path + ": " + std::strerror(errno);
      ::close(fd);
      ::unlink(path.c_str());
      return WriteResult::failed;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    error = path + ": " + std::strerror(errno);
    ::unlink(path.c_str());
    return WriteResult::failed;
  }
  return WriteResult::written;
}

}  // namespace ironboot::discovery
