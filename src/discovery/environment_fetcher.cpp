#include "discovery/environment_fetcher.hpp"

#include "common/beneath.hpp"
#include "common/text.hpp"
#include "common/tls_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace ironboot::discovery {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr auto kAwait = net::as_tuple(net::use_awaitable);
constexpr std::size_t kChunk = 1 << 16;

FetchResult failure(const char* reason, std::string message) {
  FetchResult r;
  r.reason = reason;
  r.message = std::move(message);
  return r;
}

std::string seconds_text(std::chrono::milliseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

class Sha512 {
 public:
  Sha512() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    if (ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha512(), nullptr) != 1) ctx_.reset();
  }
  void update(const char* data, std::size_t n) {
    if (ctx_) EVP_DigestUpdate(ctx_.get(), data, n);
  }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx_ || EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) return {};
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += digits[md[i] >> 4];
      out += digits[md[i] & 15];
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

// <dir>/<file>.part while it is written: removed unless committed (renamed to <dir>/<file>).
class PartFile {
 public:
  PartFile(std::string dir, std::string file) : dir_(std::move(dir)), dest_(dir_ + "/" + file), part_(dest_ + ".part") {}
  ~PartFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(part_.c_str());
  }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;

  std::string open() {
    fd_ = ::open(part_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    return fd_ < 0 ? "cannot create " + part_ + ": " + std::strerror(errno) : std::string();
  }
  std::string write(const char* data, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return "write " + part_ + ": " + std::strerror(w < 0 ? errno : ENOSPC);
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    return {};
  }
  // The data, then the name, on disk before the file counts as fetched.
  std::string commit() {
    if (::fsync(fd_) != 0) return "fsync " + part_ + ": " + std::strerror(errno);
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) return "close " + part_ + ": " + std::strerror(errno);
    if (::rename(part_.c_str(), dest_.c_str()) != 0) return "rename to " + dest_ + ": " + std::strerror(errno);
    committed_ = true;
    const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return "open " + dir_ + ": " + std::strerror(errno);
    const int synced = ::fsync(dir_fd);
    ::close(dir_fd);
    return synced != 0 ? "fsync " + dir_ + ": " + std::strerror(errno) : std::string();
  }

 private:
  std::string dir_, dest_, part_;
  int fd_ = -1;
  bool committed_ = false;
};

// Where fetched bytes go: the size limit, the quota, the file and the digest.
class Sink {
 public:
  Sink(PartFile& part, FetchQuota& quota, const FetchJob& job) : part_(part), quota_(quota), job_(job) {}
  std::optional<FetchResult> add(const char* data, std::size_t n) {
    if (bytes_ + n > job_.limits.max_file_bytes)
      return failure(fetch_reason::file_too_large,
                     "larger than environments.max_file_bytes (" + std::to_string(job_.limits.max_file_bytes) + ")");
    if (!quota_.take(job_.quota_name, n))
      return failure(fetch_reason::quota_exceeded,
                     "environments.quota_bytes (" + std::to_string(quota_.quota()) + ") would be exceeded");
    if (auto error = part_.write(data, n); !error.empty()) return failure(fetch_reason::failed, error);
    hash_.update(data, n);
    bytes_ += n;
    return std::nullopt;
  }
  std::uint64_t bytes() const { return bytes_; }
  std::string digest() { return hash_.hex(); }

 private:
  PartFile& part_;
  FetchQuota& quota_;
  const FetchJob& job_;
  Sha512 hash_;
  std::uint64_t bytes_ = 0;
};

FetchResult copy_local(const Source& src, const FetchJob& job, Sink& sink, FetchQuota& quota, FetchControl& control) {
  BeneathDir root;
  if (auto error = root.open(src.local_dir); !error.empty()) return failure(fetch_reason::failed, "cannot open " + error);
  // A configured directory that is (through a symlink) the data dir or around it.
  const std::string data = canonical_path(job.policy.data_dir);
  if (!data.empty() && (path_within(root.canonical_root(), data) || path_within(data, root.canonical_root())))
    return failure(fetch_reason::local_file_not_allowed, src.local_dir + " overlaps the data dir");
  // O_NONBLOCK: a FIFO put there must not hang the open.
  const int fd = root.open_file(src.relative, O_RDONLY | O_NONBLOCK);
  if (fd == -EXDEV || fd == -ELOOP)
    return failure(fetch_reason::local_file_not_allowed, src.relative + " leads out of " + src.local_dir);
  if (fd < 0) return failure(fetch_reason::failed, src.local_dir + "/" + src.relative + ": " + std::strerror(-fd));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return failure(fetch_reason::failed, src.local_dir + "/" + src.relative + " is not a regular file");
  // A hard link is the same inode as a file elsewhere, perhaps under the data dir: no path
  // check can see where its other names lead, so a linked file is never a source.
  if (st.st_nlink > 1)
    return failure(fetch_reason::local_file_not_allowed,
                   src.local_dir + "/" + src.relative + " has " + std::to_string(st.st_nlink) +
                       " hard links; a file:// source must have exactly one");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > job.limits.max_file_bytes)
    return failure(fetch_reason::file_too_large, "the file has " + std::to_string(size) +
                                                     " bytes, more than environments.max_file_bytes (" +
                                                     std::to_string(job.limits.max_file_bytes) + ")");
  if (const auto room = quota.room(); size > room)
    return failure(fetch_reason::quota_exceeded, "the file has " + std::to_string(size) +
                                                     " bytes; environments.quota_bytes leaves " + std::to_string(room));
  std::vector<char> buf(kChunk);
  for (;;) {
    if (control.cancelled()) return failure(fetch_reason::cancelled, "cancelled");
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failure(fetch_reason::failed, "read " + src.relative + ": " + std::strerror(errno));
    if (n == 0) break;
    if (auto failed = sink.add(buf.data(), static_cast<std::size_t>(n))) return *failed;
  }
  FetchResult r;
  r.ok = true;
  return r;
}

// One HTTP(S) connection: a steady timer bounds every step; when it fires the socket is
// closed, so the pending operation ends at once.
struct Connection {
  Connection(net::io_context& io, const std::shared_ptr<ssl::context>& tls_ctx)
      : resolver(io), timer(io) {
    if (tls_ctx) tls.emplace(io, *tls_ctx);
    else plain.emplace(io);
  }
  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
  void arm(std::chrono::milliseconds d) {
    timer.expires_after(d);
    timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // re-armed or done
      timed_out = true;
      resolver.cancel();
      boost::system::error_code ignore;
      socket().close(ignore);
    });
  }

  tcp::resolver resolver;
  net::steady_timer timer;
  std::optional<tcp::socket> plain;
  std::optional<ssl::stream<tcp::socket>> tls;
  bool timed_out = false;
};

struct HttpOutcome {
  FetchResult result = failure(fetch_reason::cancelled, "cancelled");
  std::string redirect;  // the Location of a redirect
};

FetchResult io_failure(const Connection& conn, const boost::system::error_code& ec, const std::string& what,
                       std::chrono::milliseconds timeout, const char* timeout_key) {
  if (conn.timed_out)
    return failure(fetch_reason::timeout, what + ": no progress within " + seconds_text(timeout) + " (environments." +
                                              timeout_key + ")");
  if (ec == bhttp::error::body_limit) return failure(fetch_reason::file_too_large, what + ": larger than environments.max_file_bytes");
  if (ec == bhttp::error::header_limit) return failure(fetch_reason::failed, what + ": response head larger than 16 KiB");
  return failure(fetch_reason::failed, what + ": " + ec.message());
}

template <class Stream>
net::awaitable<void> exchange(Stream& stream, Connection& conn, const Source& src, const FetchJob& job, Sink& sink,
                              FetchQuota& quota, FetchControl& control, HttpOutcome& out) {
  const auto& limits = job.limits;
  bhttp::request<bhttp::empty_body> req{bhttp::verb::get, src.target, 11};
  req.set(bhttp::field::host, src.host_header);
  req.set(bhttp::field::user_agent, "ironboot");
  req.set(bhttp::field::accept_encoding, "identity");
  req.set(bhttp::field::connection, "close");
  conn.arm(limits.read_timeout);
  auto [wec, wn] = co_await bhttp::async_write(stream, req, kAwait);
  if (wec) {
    out.result = io_failure(conn, wec, "send request", limits.read_timeout, "read_timeout_seconds");
    co_return;
  }
  beast::flat_buffer buffer(kMaxResponseHeadBytes + kChunk);
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(kMaxResponseHeadBytes);
  parser.body_limit(limits.max_file_bytes);
  conn.arm(limits.read_timeout);
  auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kAwait);
  if (hec) {
    out.result = io_failure(conn, hec, "read response", limits.read_timeout, "read_timeout_seconds");
    co_return;
  }
  const auto length = parser.content_length();
  const HeadCheck head = check_response_head(parser.get().base(), length ? std::optional<std::uint64_t>(*length) : std::nullopt,
                                             limits.max_file_bytes, quota.room());
  if (head.outcome == HeadCheck::Outcome::redirect) {
    out.redirect = head.location;
    co_return;
  }
  if (head.outcome == HeadCheck::Outcome::refused) {
    out.result = failure(head.reason.c_str(), head.message);
    co_return;
  }
  std::vector<char> chunk(kChunk);
  while (!parser.is_done()) {
    if (control.cancelled()) co_return;
    auto& body = parser.get().body();
    body.data = chunk.data();
    body.size = chunk.size();
    body.more = true;
    conn.arm(limits.read_timeout);
    auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kAwait);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      out.result = io_failure(conn, ec, "read body", limits.read_timeout, "read_timeout_seconds");
      co_return;
    }
    const std::size_t got = chunk.size() - parser.get().body().size;
    if (auto failed = sink.add(chunk.data(), got)) {
      out.result = *failed;
      co_return;
    }
  }
  out.result = FetchResult{};
  out.result.ok = true;
}

net::awaitable<void> fetch_http(Connection& conn, const Source& src, const FetchJob& job, Sink& sink, FetchQuota& quota,
                                FetchControl& control, HttpOutcome& out) {
  const auto& limits = job.limits;
  const std::string where = src.host + ":" + src.port;
  conn.arm(limits.connect_timeout);
  auto [rec, results] = co_await conn.resolver.async_resolve(src.host, src.port, tcp::resolver::numeric_service, kAwait);
  if (rec) {
    out.result = io_failure(conn, rec, "resolve " + src.host, limits.connect_timeout, "connect_timeout_seconds");
    co_return;
  }
  conn.arm(limits.connect_timeout);
  auto [cec, ep] = co_await net::async_connect(conn.socket(), results, kAwait);
  if (cec) {
    out.result = io_failure(conn, cec, "connect " + where, limits.connect_timeout, "connect_timeout_seconds");
    co_return;
  }
  if (!conn.tls) {
    co_await exchange(*conn.plain, conn, src, job, sink, quota, control, out);
    co_return;
  }
  SSL* handle = conn.tls->native_handle();
  tls::expect_peer(handle, src.host, true);
  conn.arm(limits.connect_timeout);
  auto [hec] = co_await conn.tls->async_handshake(ssl::stream_base::client, kAwait);
  if (hec) {
    out.result = conn.timed_out ? io_failure(conn, hec, "TLS handshake with " + where, limits.connect_timeout,
                                             "connect_timeout_seconds")
                                : failure(fetch_reason::tls_failed,
                                          "TLS handshake with " + where + ": " + tls::handshake_failure(handle, hec));
    co_return;
  }
  co_await exchange(*conn.tls, conn, src, job, sink, quota, control, out);
}

HttpOutcome run_http(const Source& src, const FetchJob& job, Sink& sink, FetchQuota& quota, FetchControl& control) {
  HttpOutcome out;
  net::io_context io;
  if (!control.attach(io)) return out;
  {
    Connection conn(io, src.kind == Source::Kind::https ? job.tls : nullptr);
    net::co_spawn(io, fetch_http(conn, src, job, sink, quota, control, out), [&](std::exception_ptr e) {
      conn.timer.cancel();
      if (e) out.result = failure(fetch_reason::failed, "internal error");
    });
    try {
      io.run();
    } catch (const std::exception& e) {
      out.result = failure(fetch_reason::failed, e.what());
    }
  }
  control.detach();
  if (control.cancelled()) out = HttpOutcome{};
  return out;
}

}  // namespace

bool FetchQuota::take(const std::string& name, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  scan_locked();
  if (bytes > quota_ || total_ > quota_ - bytes) return false;
  by_name_[name] += bytes;
  total_ += bytes;
  return true;
}

void FetchQuota::set(const std::string& name, std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  scan_locked();
  auto& held = by_name_[name];
  total_ = total_ - held + bytes;
  held = bytes;
  if (bytes == 0) by_name_.erase(name);
}

std::uint64_t FetchQuota::room() {
  std::lock_guard lock(mutex_);
  scan_locked();
  return total_ >= quota_ ? 0 : quota_ - total_;
}

std::uint64_t FetchQuota::used() {
  std::lock_guard lock(mutex_);
  scan_locked();
  return total_;
}

void FetchQuota::scan_locked() {
  if (scanned_) return;
  scanned_ = true;
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator dir(root_, ec), end; !ec && dir != end; dir.increment(ec)) {
    if (!dir->is_directory(ec)) continue;
    std::uint64_t bytes = 0;
    for (fs::directory_iterator file(dir->path(), ec), last; !ec && file != last; file.increment(ec)) {
      if (file->symlink_status(ec).type() == fs::file_type::regular) bytes += file->file_size(ec);
    }
    ec.clear();
    if (bytes == 0) continue;
    by_name_[dir->path().filename().string()] = bytes;
    total_ += bytes;
  }
}

void FetchControl::cancel() {
  cancelled_ = true;
  std::lock_guard lock(mutex_);
  if (io_) io_->stop();
}

bool FetchControl::attach(net::io_context& io) {
  std::lock_guard lock(mutex_);
  if (cancelled_) return false;
  io_ = &io;
  return true;
}

void FetchControl::detach() {
  std::lock_guard lock(mutex_);
  io_ = nullptr;
}

FetchResult fetch_to_file(const FetchJob& job, const std::string& dir, const std::string& file, FetchQuota& quota,
                          FetchControl& control) {
  SourceCheck check = classify_source(job.url, job.sha512, job.policy);
  if (!check.source) return failure(check.reason.c_str(), check.message);
  PartFile part(dir, file);
  if (auto error = part.open(); !error.empty()) return failure(fetch_reason::failed, error);
  Sink sink(part, quota, job);
  FetchResult r;
  std::string url = job.url;
  for (int redirects = 0;; ++redirects) {
    const Source& src = *check.source;
    if (src.kind == Source::Kind::local_file) {
      r = copy_local(src, job, sink, quota, control);
      break;
    }
    if (src.kind == Source::Kind::https && !job.tls_error.empty()) return failure(fetch_reason::tls_failed, job.tls_error);
    if (src.kind == Source::Kind::https && !job.tls) return failure(fetch_reason::tls_failed, "no TLS client context");
    HttpOutcome out = run_http(src, job, sink, quota, control);
    if (out.redirect.empty()) {
      r = std::move(out.result);
      break;
    }
    if (redirects >= job.limits.max_redirects)
      return failure(fetch_reason::failed, "more than " + std::to_string(job.limits.max_redirects) + " redirects");
    auto next = redirect_target(url, out.redirect);
    if (!next) return failure(fetch_reason::invalid_url, "redirect to an invalid URL");
    check = classify_source(*next, job.sha512, job.policy);
    if (!check.source) return failure(check.reason.c_str(), "redirect to " + *next + ": " + check.message);
    if (check.source->kind == Source::Kind::local_file)
      return failure(fetch_reason::local_file_not_allowed, "a redirect to file:// is not followed");
    url = *next;
  }
  if (!r.ok) return r;
  r.bytes = sink.bytes();
  r.sha512 = sink.digest();
  if (!job.sha512.empty() && r.sha512 != ascii_lowercase(job.sha512))
    return failure(fetch_reason::checksum_mismatch, "sha512 is " + r.sha512 + ", expected " + ascii_lowercase(job.sha512));
  if (auto error = part.commit(); !error.empty()) return failure(fetch_reason::failed, error);
  return r;
}

std::string write_file_durably(const std::string& dir, const std::string& file, const std::string& data) {
  PartFile part(dir, file);
  if (auto error = part.open(); !error.empty()) return error;
  if (auto error = part.write(data.data(), data.size()); !error.empty()) return error;
  return part.commit();
}

std::string sha512_of_file(const std::string& path, const FetchControl* control) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return {};
  Sha512 hash;
  std::vector<char> buf(kChunk);
  for (;;) {
    if (control && control->cancelled()) {
      ::close(fd);
      return {};
    }
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return {};
    }
    if (n == 0) break;
    hash.update(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  return hash.hex();
}

}  // namespace ironboot::discovery
