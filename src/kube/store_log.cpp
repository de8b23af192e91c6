#include "kube/store_log.hpp"

#include "common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/log.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

constexpr std::uint32_t kMaxRecord = 64 * 1024 * 1024;
constexpr std::uint64_t kCompactMinBytes = 32 * 1024 * 1024;

std::uint32_t crc32(const char* data, std::size_t n) {
  boost::crc_32_type crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void fsync_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

std::string StoreLog::encode_record(const std::string& payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, crc32(payload.data(), payload.size()));
  out += payload;
  return out;
}

StoreLog::StoreLog(std::string path, Store& store) : path_(std::move(path)), store_(store) {
  auto log = logger("kube");
  const std::string data = read_file(path_).value_or("");
  std::size_t pos = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  while (pos < data.size()) {
    if (data.size() - pos < 8) {
      load_stats_.drop_reason = "truncated record header";
      break;
    }
    const std::uint32_t len = get_u32(bytes + pos);
    const std::uint32_t crc = get_u32(bytes + pos + 4);
    if (len > kMaxRecord || len > data.size() - pos - 8) {
      load_stats_.drop_reason = "truncated record";
      break;
    }
    if (crc32(data.data() + pos + 8, len) != crc) {
      load_stats_.drop_reason = "checksum mismatch";
      break;
    }
    boost::system::error_code ec;
    json::value rec = json::parse(std::string_view(data.data() + pos + 8, len), ec);
    if (ec || !rec.is_object() || !rec.as_object().contains("rv") || !rec.at("rv").is_number()) {
      load_stats_.drop_reason = "malformed record";
      break;
    }
    auto& o = rec.as_object();
    const std::uint64_t rv = rec.at("rv").to_number<std::uint64_t>();
    const auto* r = o.if_contains("r");
    if (auto* obj = o.if_contains("o"); obj && obj->is_object() && r && r->is_string()) {
      store_.restore_put(std::string(r->as_string()), std::move(obj->as_object()), rv);
    } else if (const auto* d = o.if_contains("d"); d && d->is_string() && r && r->is_string()) {
      store_.restore_erase(std::string(r->as_string()), std::string(d->as_string()), rv);
    } else {
      store_.restore_resource_version(rv);
    }
    ++load_stats_.records;
    pos += 8 + len;
  }
  load_stats_.valid_bytes = pos;
  load_stats_.dropped_bytes = data.size() - pos;
  store_.finish_restore();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
  if (load_stats_.dropped_bytes > 0) {
    log->warn("store log tail dropped path={} offset={} bytes={} reason=\"{}\"", path_, pos,
              load_stats_.dropped_bytes, load_stats_.drop_reason);
    if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0 || ::fsync(fd_) != 0)
      throw std::runtime_error("cannot truncate " + path_ + ": " + std::strerror(errno));
  }
  if (::lseek(fd_, static_cast<off_t>(pos), SEEK_SET) < 0)
    throw std::runtime_error("cannot seek " + path_ + ": " + std::strerror(errno));
  file_bytes_ = pos;
  bytes_after_compaction_ = pos;
  log->info("store loaded path={} records={} objects={} resource_version={}", path_, load_stats_.records, store_.size(),
            store_.resource_version());
}

StoreLog::~StoreLog() {
  if (fd_ >= 0) {
    if (!pending_.empty()) flush();
    ::close(fd_);
  }
}

// A put record spliced from the object's JSON text: the object is not serialized again.
std::string StoreLog::put_payload(std::uint64_t rv, const std::string& resource, const std::string& object_json) {
  std::string out;
  append_put_payload(out, rv, resource, object_json);
  return out;
}

void StoreLog::append_put_payload(std::string& out, std::uint64_t rv, const std::string& resource,
                                  const std::string& object_json) {
  std::string head = json::serialize(json::object{{"rv", rv}, {"r", resource}});
  head.pop_back();
  out.reserve(out.size() + head.size() + object_json.size() + 6);
  out += head;
  out += ",\"o\":";
  out += object_json;
  out += '}';
}

void StoreLog::record(const Change& change) {
  if (change.type == ChangeType::Deleted) {
    pending_ += encode_record(json::serialize(json::object{{"rv", change.rv}, {"r", change.resource}, {"d", change.name}}));
    return;
  }
  // Framed in place in the pending buffer: one copy of the object's text per write.
  const std::size_t start = pending_.size();
  pending_.append(8, '\0');
  append_put_payload(pending_, change.rv, change.resource, *change.json);
  const std::size_t len = pending_.size() - start - 8;
  std::string header;
  put_u32(header, static_cast<std::uint32_t>(len));
  put_u32(header, crc32(pending_.data() + start + 8, len));
  pending_.replace(start, 8, header);
}

std::string StoreLog::flush() {
  if (pending_.empty()) return {};
  std::string err = write_and_sync(pending_);
  if (err.empty()) pending_.clear();
  return err;
}

std::string StoreLog::write_and_sync(const std::string& data) {
  if (data.empty()) return {};
  if (!write_all(fd_, data)) return std::string("write ") + path_ + ": " + std::strerror(errno);
  if (::fdatasync(fd_) != 0) return std::string("fdatasync ") + path_ + ": " + std::strerror(errno);
  file_bytes_ += data.size();
  return {};
}

void StoreLog::compact_if_needed() {
  if (file_bytes_ < kCompactMinBytes || file_bytes_ < 3 * bytes_after_compaction_) return;
  std::string err = compact();
  if (!err.empty()) logger("kube")->error("store compaction failed error=\"{}\"", err);
}

std::string StoreLog::compact() {
  std::string err = flush();
  if (!err.empty()) return err;
  const std::string tmp = path_ + ".compact";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "open " + tmp + ": " + std::strerror(errno);
  std::string out = encode_record(json::serialize(json::object{{"rv", store_.resource_version()}}));
  bool ok = true;
  for (const char* resource : {"servers", "serverclasses", "environments"}) {
    for (const auto& [name, stored] : store_.objects(resource)) {
      std::uint64_t rv = std::stoull(std::string(stored.object->at("metadata").at("resourceVersion").as_string()));
      out += encode_record(put_payload(rv, resource, *stored.json));
      if (out.size() > (8u << 20)) {
        ok = ok && write_all(fd, out);
        out.clear();
      }
    }
  }
  ok = ok && write_all(fd, out) && ::fsync(fd) == 0;
  const off_t size = ::lseek(fd, 0, SEEK_END);
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return "writing " + tmp + " failed: " + std::strerror(errno);
  }
  fsync_dir(path_);
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC, 0600);
  if (fd_ < 0) return "reopen " + path_ + ": " + std::strerror(errno);
  ::lseek(fd_, 0, SEEK_END);
  logger("kube")->info("store compacted path={} bytes_before={} bytes_after={}", path_, file_bytes_, size);
  file_bytes_ = static_cast<std::uint64_t>(size);
  bytes_after_compaction_ = file_bytes_;
  return {};
}

}  // namespace ironboot::kube
