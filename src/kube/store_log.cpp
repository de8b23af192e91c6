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

#include <openssl/crypto.h>

#include "common/base64.hpp"
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

namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
}

// Calls on_record(record, rv) for each well-framed JSON record; stops at the first torn,
// corrupt or malformed one. Returns the length of the good prefix.
template <class OnRecord>
std::size_t scan_records(const std::string& data, LogLoadStats& stats, OnRecord&& on_record) {
  std::size_t pos = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  while (pos < data.size()) {
    if (data.size() - pos < 8) {
      stats.drop_reason = "truncated record header";
      break;
    }
    const std::uint32_t len = get_u32(bytes + pos);
    const std::uint32_t crc = get_u32(bytes + pos + 4);
    if (len > kMaxRecord || len > data.size() - pos - 8) {
      stats.drop_reason = "truncated record";
      break;
    }
    if (crc32(data.data() + pos + 8, len) != crc) {
      stats.drop_reason = "checksum mismatch";
      break;
    }
    boost::system::error_code ec;
    json::value rec = json::parse(std::string_view(data.data() + pos + 8, len), ec);
    if (ec || !rec.is_object() || !rec.as_object().contains("rv") || !rec.at("rv").is_number()) {
      stats.drop_reason = "malformed record";
      break;
    }
    on_record(rec.as_object(), rec.at("rv").to_number<std::uint64_t>());
    ++stats.records;
    pos += 8 + len;
  }
  return pos;
}

const json::string* string_field(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->as_string() : nullptr;
}

bool is_sealed(const json::object& o) { return o.contains("e"); }

// Opens a sealed put record into its object. Throws std::runtime_error naming the record
// (resourceVersion, resource, name, key id): never the payload.
json::object open_sealed(const SecretKeyring& keys, const std::string& path, const json::object& rec,
                         std::uint64_t rv) {
  const auto* r = string_field(rec, "r");
  const auto* n = string_field(rec, "n");
  const auto* k = string_field(rec, "k");
  const auto* iv = string_field(rec, "iv");
  const auto* e = string_field(rec, "e");
  const std::string what = path + ": the encrypted record at resourceVersion " + std::to_string(rv);
  if (!r || !n || !k || !iv || !e) throw std::runtime_error(what + " lacks one of r, n, k, iv, e");
  const std::string named = what + " (" + std::string(*r) + " " + std::string(*n) + ", key " + std::string(*k) + ")";
  const SecretKey* key = keys.find(*k);
  if (!key)
    throw std::runtime_error(named + " needs key id " + std::string(*k) +
                             ", which secrets.key does not hold; restore that key to secrets.key");
  auto nonce = base64_decode(*iv);
  auto sealed = base64_decode(*e);
  if (!nonce || !sealed) throw std::runtime_error(named + " has a nonce or ciphertext that is not base64");
  auto plain = open_secret(*key, *nonce, *sealed, secret_record_aad(*r, *n, rv));
  if (!plain)
    throw std::runtime_error(named +
                             " fails authentication: the log or secrets.key was altered, or the record was moved; "
                             "refusing to start rather than lose it");
  boost::system::error_code ec;
  json::value obj = json::parse(*plain, ec);
  OPENSSL_cleanse(plain->data(), plain->size());
  if (ec || !obj.is_object()) throw std::runtime_error(named + " decrypts to something that is not a JSON object");
  return std::move(obj.as_object());
}

}  // namespace

StoreLog::StoreLog(std::string path, Store& store)
    : StoreLog(path, store, load_or_create_secret_keys(secrets_key_path(dir_of(path)))) {}

StoreLog::StoreLog(std::string path, Store& store, SecretKeyring keys)
    : path_(std::move(path)), store_(store), keys_(std::move(keys)),
      resources_{"servers", "serverclasses", "environments", kSealedResource} {
  if (keys_.empty()) throw std::runtime_error(path_ + ": no Secrets key");
  auto log = logger("kube");
  const std::string current = keys_.current().id;
  const std::string data = read_file(path_).value_or("");
  bool stale_secrets = false;  // sealed under another key, or not sealed at all
  std::string writer_key;
  const std::size_t pos = scan_records(data, load_stats_, [&](json::object& o, std::uint64_t rv) {
    const auto* r = string_field(o, "r");
    if (r) resources_.insert(std::string(*r));
    if (r && is_sealed(o)) {
      json::object obj = open_sealed(keys_, path_, o, rv);
      ++load_stats_.sealed_records;
      if (o.at("k").as_string() != current) stale_secrets = true;
      store_.restore_put(std::string(*r), std::move(obj), rv);
    } else if (auto* obj = o.if_contains("o"); obj && obj->is_object() && r) {
      if (*r == kSealedResource) stale_secrets = true;
      store_.restore_put(std::string(*r), std::move(obj->as_object()), rv);
    } else if (const auto* d = string_field(o, "d"); d && r) {
      store_.restore_erase(std::string(*r), std::string(*d), rv);
    } else {
      if (const auto* k = string_field(o, "k")) writer_key = std::string(*k);
      store_.restore_resource_version(rv);
    }
  });
  load_stats_.valid_bytes = pos;
  load_stats_.dropped_bytes = data.size() - pos;
  store_.finish_restore();
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
  if (load_stats_.dropped_bytes > 0) {
    // Offsets and a reason only: the dropped bytes may hold a Secret.
    log->warn("store log tail dropped path={} offset={} bytes={} reason=\"{}\"", path_, pos,
              load_stats_.dropped_bytes, load_stats_.drop_reason);
    if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0 || ::fsync(fd_) != 0)
      throw std::runtime_error("cannot truncate " + path_ + ": " + std::strerror(errno));
  }
  if (::lseek(fd_, static_cast<off_t>(pos), SEEK_SET) < 0)
    throw std::runtime_error("cannot seek " + path_ + ": " + std::strerror(errno));
  file_bytes_ = pos;
  bytes_after_compaction_ = pos;
  log->info("store loaded path={} records={} objects={} resource_version={} sealed_records={}", path_,
            load_stats_.records, store_.size(), store_.resource_version(), load_stats_.sealed_records);
  if (stale_secrets) {
    // Rewriting seals every live Secret under the current key; the compacted header names it.
    if (std::string err = compact(); !err.empty())
      throw std::runtime_error("re-encrypting Secrets under key " + current + " failed: " + err);
    load_stats_.reencrypted = true;
    log->info("store log Secrets re-encrypted path={} key_id={}", path_, current);
  } else if (writer_key != current) {
    pending_ = encode_record(json::serialize(json::object{{"rv", store_.resource_version()}, {"k", current}}));
    if (std::string err = flush(); !err.empty()) throw std::runtime_error(err);
  }
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

bool StoreLog::append_put(std::string& out, std::uint64_t rv, const std::string& resource, const std::string& name,
                          const std::string& object_json) const {
  if (resource == kSealedResource) {
    const SecretKey& key = keys_.current();
    auto sealed = seal_secret(key, object_json, secret_record_aad(resource, name, rv));
    if (!sealed) return false;
    out += encode_record(json::serialize(json::object{{"rv", rv},
                                                      {"r", resource},
                                                      {"n", name},
                                                      {"k", key.id},
                                                      {"iv", base64_encode(sealed->nonce)},
                                                      {"e", base64_encode(sealed->ciphertext)}}));
    return true;
  }
  // Framed in place: one copy of the object's text per write.
  const std::size_t start = out.size();
  out.append(8, '\0');
  append_put_payload(out, rv, resource, object_json);
  const std::size_t len = out.size() - start - 8;
  std::string header;
  put_u32(header, static_cast<std::uint32_t>(len));
  put_u32(header, crc32(out.data() + start + 8, len));
  out.replace(start, 8, header);
  return true;
}

void StoreLog::record(const Change& change) {
  resources_.insert(change.resource);
  if (change.type == ChangeType::Deleted) {
    pending_ += encode_record(json::serialize(json::object{{"rv", change.rv}, {"r", change.resource}, {"d", change.name}}));
    return;
  }
  if (!append_put(pending_, change.rv, change.resource, change.name, *change.json)) {
    seal_failed_ = true;
    logger("kube")->error("cannot encrypt a Secret for the store log (OpenSSL failure) rv={} name={}", change.rv,
                          change.name);
  }
}

std::string StoreLog::flush() {
  if (pending_.empty() && !seal_failed_) return {};
  std::string err = write_and_sync(pending_);
  if (err.empty()) pending_.clear();
  return err;
}

std::string StoreLog::write_and_sync(const std::string& data) {
  if (seal_failed_) return "a Secret could not be encrypted: " + path_ + " takes no more writes";
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
  // The header names the key the log is written with (see key_usage()).
  std::string out =
      encode_record(json::serialize(json::object{{"rv", store_.resource_version()}, {"k", keys_.current().id}}));
  bool ok = true;
  for (const std::string& resource : resources_) {
    for (const auto& [name, stored] : store_.objects(resource)) {
      std::uint64_t rv = std::stoull(std::string(stored.object->at("metadata").at("resourceVersion").as_string()));
      if (!append_put(out, rv, resource, name, *stored.json)) {
        ::close(fd);
        ::unlink(tmp.c_str());
        return "cannot encrypt Secret " + name + " (OpenSSL failure)";
      }
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

LogKeyUsage StoreLog::key_usage(const std::string& path) {
  LogKeyUsage usage;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return usage;
  auto data = read_file(path);
  if (!data) throw std::runtime_error("cannot read " + path);
  LogLoadStats stats;
  scan_records(*data, stats, [&](json::object& o, std::uint64_t) {
    const auto* r = string_field(o, "r");
    const auto* k = string_field(o, "k");
    if (r && is_sealed(o)) {
      if (k) usage.sealed_with.insert(std::string(*k));
    } else if (r && *r == kSealedResource && o.contains("o")) {
      ++usage.unsealed_secrets;
    } else if (!r && k) {
      usage.writer_key = std::string(*k);
    }
  });
  return usage;
}

}  // namespace ironboot::kube
