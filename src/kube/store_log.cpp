#include "kube/store_log.hpp"

#include "common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>
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

class PosixLogFiles final : public LogFiles {
 public:
  int open(const char* path, int flags, mode_t mode) override { return ::open(path, flags, mode); }
  ssize_t write(int fd, const void* data, std::size_t size) override { return ::write(fd, data, size); }
  int fdatasync(int fd) override { return ::fdatasync(fd); }
  int fsync(int fd) override { return ::fsync(fd); }
  int ftruncate(int fd, off_t size) override { return ::ftruncate(fd, size); }
  off_t lseek(int fd, off_t offset, int whence) override { return ::lseek(fd, offset, whence); }
  int rename(const char* from, const char* to) override { return ::rename(from, to); }
  int close(int fd) override { return ::close(fd); }
};

bool write_all(LogFiles& files, int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = files.write(fd, data.data() + done, data.size() - done);
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

// The tail of every commit record's payload ({"rv":N,"c":1}).
constexpr std::string_view kCommitTail = ",\"c\":1}";

bool is_commit_payload(std::string_view payload) {
  return payload.size() < 48 && payload.rfind("{\"rv\":", 0) == 0 && payload.size() >= kCommitTail.size() &&
         payload.substr(payload.size() - kCommitTail.size()) == kCommitTail;
}

}  // namespace

LogFiles& posix_log_files() {
  static PosixLogFiles files;
  return files;
}

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

// The framing of a log without parsing it: where the first bad record starts (data.size()
// when there is none), why, and where the last commit record before it ends.
struct Framing {
  std::size_t bad = 0;
  std::string why;
  std::size_t commit_end = 0;
  bool any_commit = false;
};

Framing frame_records(const std::string& data) {
  Framing f;
  std::size_t pos = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  while (pos < data.size()) {
    if (data.size() - pos < 8) {
      f.why = "truncated record header";
      break;
    }
    const std::uint32_t len = get_u32(bytes + pos);
    const std::uint32_t crc = get_u32(bytes + pos + 4);
    if (len > kMaxRecord || len > data.size() - pos - 8) {
      f.why = "truncated record";
      break;
    }
    if (crc32(data.data() + pos + 8, len) != crc) {
      f.why = "checksum mismatch";
      break;
    }
    pos += 8 + len;
    if (is_commit_payload(std::string_view(data.data() + pos - len, len))) {
      f.commit_end = pos;
      f.any_commit = true;
    }
  }
  f.bad = pos;
  return f;
}

// Whether a well-formed commit record starts anywhere after `from` (framing after a bad
// record cannot be trusted, so every place its payload could start is tried).
bool commit_record_after(const std::string& data, std::size_t from) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t at = from;
  while ((at = data.find(kCommitTail, at)) != std::string::npos) {
    const std::size_t end = at + kCommitTail.size();
    const std::size_t lo = end > 48 ? end - 48 : 0;
    for (std::size_t start = std::max(lo, from + 8); start + 6 <= end; ++start) {
      if (data.compare(start, 6, "{\"rv\":") != 0) continue;
      const std::size_t len = end - start;
      if (get_u32(bytes + start - 8) == len && get_u32(bytes + start - 4) == crc32(data.data() + start, len)) return true;
    }
    at = end;
  }
  return false;
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

StoreLog::StoreLog(std::string path, Store& store, SecretKeyring keys, LogFiles* files)
    : path_(std::move(path)), store_(store), files_(files ? *files : posix_log_files()), keys_(std::move(keys)),
      resources_{"servers", "serverclasses", "environments", kSealedResource} {
  if (keys_.empty()) throw std::runtime_error(path_ + ": no Secrets key");
  auto log = logger("kube");
  const std::string current = keys_.current().id;
  const std::string data = read_file(path_).value_or("");
  bool stale_secrets = false;  // sealed under another key, or not sealed at all
  std::string writer_key;
  const std::size_t pos = load(data, stale_secrets, writer_key);
  load_stats_.valid_bytes = pos;
  load_stats_.dropped_bytes = data.size() - pos;
  store_.finish_restore();
  fd_ = files_.open(path_.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
  if (load_stats_.dropped_bytes > 0) {
    // Offsets and a reason only: the dropped bytes may hold a Secret.
    log->warn("store log tail dropped path={} offset={} bytes={} reason=\"{}\"", path_, pos,
              load_stats_.dropped_bytes, load_stats_.drop_reason);
    if (files_.ftruncate(fd_, static_cast<off_t>(pos)) != 0 || files_.fsync(fd_) != 0)
      throw std::runtime_error("cannot truncate " + path_ + ": " + std::strerror(errno));
  }
  if (files_.lseek(fd_, static_cast<off_t>(pos), SEEK_SET) < 0)
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

std::size_t StoreLog::load(const std::string& data, bool& stale_secrets, std::string& writer_key) {
  const std::string current = keys_.current().id;
  const Framing framing = frame_records(data);
  auto refuse = [&](std::size_t offset, const std::string& why) {
    // The damaged log stays where it is; a copy goes aside for whoever repairs it.
    const std::string copy = path_ + ".corrupt-" + std::to_string(::time(nullptr));
    std::string saved = "could not save a copy";
    if (int fd = files_.open(copy.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600); fd >= 0) {
      if (write_all(files_, fd, data) && files_.fsync(fd) == 0) saved = "a copy of the log is at " + copy;
      files_.close(fd);
    }
    throw std::runtime_error(path_ + " is corrupt at offset " + std::to_string(offset) + " (" + why +
                             "), before records that were acknowledged; " + saved +
                             ". Refusing to start: restore the log from a backup, or move it away to start empty");
  };
  if (framing.bad < data.size() && commit_record_after(data, framing.bad)) refuse(framing.bad, framing.why);
  // Records after the last commit record were never acknowledged (logs from before commit
  // records keep everything up to the bad record).
  std::size_t cut = framing.any_commit ? framing.commit_end : framing.bad;
  if (cut < framing.bad) load_stats_.drop_reason = "batch without its commit record";
  else load_stats_.drop_reason = framing.why;
  const std::string good = data.substr(0, cut);
  LogLoadStats scan_stats;
  const std::size_t pos = scan_records(good, scan_stats, [&](json::object& o, std::uint64_t rv) {
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
  load_stats_.records = scan_stats.records;
  // A record whose checksum holds but that is not a record is not a torn write.
  if (pos < good.size()) refuse(pos, scan_stats.drop_reason);
  if (cut == data.size()) load_stats_.drop_reason.clear();
  return cut;
}

StoreLog::~StoreLog() {
  if (fd_ >= 0) {
    if (!pending_.empty()) flush();
    files_.close(fd_);
  }
}

std::string StoreLog::commit_record(std::uint64_t rv) const {
  return encode_record("{\"rv\":" + std::to_string(rv) + std::string(kCommitTail));
}

std::string StoreLog::probe_record() const { return commit_record(store_.resource_version()); }

std::string StoreLog::take_pending() {
  if (pending_.empty()) return {};
  pending_ += commit_record(store_.resource_version());
  std::string next;
  next.reserve(pending_.capacity());  // the next batch is about as big: no regrowth while it fills
  return std::exchange(pending_, std::move(next));
}

// A put record spliced from the object's JSON text: the object is not serialized again.
std::string StoreLog::put_payload(std::uint64_t rv, const std::string& resource, std::string_view object_json) {
  std::string out;
  append_put_payload(out, rv, resource, object_json);
  return out;
}

void StoreLog::append_put_payload(std::string& out, std::uint64_t rv, const std::string& resource,
                                  std::string_view object_json) {
  std::string head = json::serialize(json::object{{"rv", rv}, {"r", resource}});
  head.pop_back();
  out.reserve(out.size() + head.size() + object_json.size() + 6);
  out += head;
  out += ",\"o\":";
  out += object_json;
  out += '}';
}

bool StoreLog::append_put(std::string& out, std::uint64_t rv, const std::string& resource, std::string_view name,
                          std::string_view object_json) const {
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
  if (!append_put(pending_, change.rv, change.resource, change.name, change.object->json())) {
    seal_failed_ = true;
    logger("kube")->error("cannot encrypt a Secret for the store log (OpenSSL failure) rv={} name={}", change.rv,
                          change.name);
  }
}

std::string StoreLog::flush() {
  if (pending_.empty() && !seal_failed_) return {};
  return write_and_sync(take_pending());
}

bool StoreLog::truncate_to_synced() {
  const auto size = static_cast<off_t>(file_bytes_.load());
  truncate_pending_ = files_.ftruncate(fd_, size) != 0 || files_.lseek(fd_, size, SEEK_SET) < 0;
  return !truncate_pending_;
}

std::string StoreLog::write_and_sync(const std::string& data) {
  if (seal_failed_) return "a Secret could not be encrypted: " + path_ + " takes no more writes";
  if (data.empty()) return {};
  if (truncate_pending_ && !truncate_to_synced())
    return std::string("truncate ") + path_ + " back to its last synced size: " + std::strerror(errno);
  std::string err;
  if (!write_all(files_, fd_, data)) err = std::string("write ") + path_ + ": " + std::strerror(errno);
  else if (files_.fdatasync(fd_) != 0) err = std::string("fdatasync ") + path_ + ": " + std::strerror(errno);
  if (!err.empty()) {
    // What may have reached the file is not acknowledged: cut it off so that the next batch
    // follows the last synced one (the next successful fdatasync makes the new size durable).
    const int saved = errno;
    truncate_to_synced();
    errno = saved;
    return err;
  }
  file_bytes_ += data.size();
  return {};
}

bool StoreLog::compaction_due() const {
  return file_bytes_ >= kCompactMinBytes && file_bytes_ >= 3 * bytes_after_compaction_;
}

CompactionSnapshot StoreLog::compaction_snapshot() const {
  CompactionSnapshot snap;
  snap.rv = store_.resource_version();
  for (const std::string& resource : resources_)
    for (const auto& stored : store_.objects(resource)) snap.objects.push_back({resource, stored});
  return snap;
}

std::string StoreLog::compact() {
  std::string err = flush();
  if (!err.empty()) return err;
  return write_compaction(compaction_snapshot());
}

std::string StoreLog::write_compaction(const CompactionSnapshot& snap) {
  const std::string tmp = path_ + ".compact";
  int fd = files_.open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "open " + tmp + ": " + std::strerror(errno);
  // The header names the key the log is written with (see key_usage()).
  std::string out = encode_record(json::serialize(json::object{{"rv", snap.rv}, {"k", keys_.current().id}}));
  bool ok = true;
  for (const auto& [resource, stored] : snap.objects) {
    if (!append_put(out, stored->rv(), resource, stored->key(), stored->json())) {
      files_.close(fd);
      ::unlink(tmp.c_str());
      return "cannot encrypt Secret " + std::string(stored->key()) + " (OpenSSL failure)";
    }
    if (out.size() > (8u << 20)) {
      ok = ok && write_all(files_, fd, out);
      out.clear();
    }
  }
  out += commit_record(snap.rv);
  ok = ok && write_all(files_, fd, out) && files_.fsync(fd) == 0;
  const off_t size = files_.lseek(fd, 0, SEEK_END);
  files_.close(fd);
  if (!ok || files_.rename(tmp.c_str(), path_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "writing " + tmp + " failed: " + why;
  }
  fsync_dir(path_);
  files_.close(fd_);
  fd_ = files_.open(path_.c_str(), O_WRONLY | O_CLOEXEC, 0600);
  if (fd_ < 0) return "reopen " + path_ + ": " + std::strerror(errno);
  files_.lseek(fd_, 0, SEEK_END);
  logger("kube")->info("store compacted path={} bytes_before={} bytes_after={}", path_, file_bytes_.load(), size);
  file_bytes_ = static_cast<std::uint64_t>(size);
  bytes_after_compaction_ = file_bytes_;
  truncate_pending_ = false;
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
