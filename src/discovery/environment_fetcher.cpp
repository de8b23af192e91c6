#include "discovery/environment_fetcher.hpp"

#include "common/text.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <openssl/evp.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>
#include <fcntl.h>
#include <memory>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

namespace ironboot::discovery {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

FetchResult failed(std::string reason, std::string message) {
  FetchResult r;
  r.reason = std::move(reason);
  r.message = std::move(message);
  return r;
}

FetchResult copy_file(const std::string& src, const std::string& part, const FetchLimits& limits,
                      const std::atomic<bool>& cancel) {
  const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return failed("FetchFailed", "cannot open " + src + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(in);
    return failed("FetchFailed", src + " is not a regular file");
  }
  const int out = ::open(part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    ::close(in);
    return failed("FetchFailed", "cannot create " + part + ": " + std::strerror(errno));
  }
  FetchResult r;
  std::vector<char> buf(1 << 16);
  for (;;) {
    if (cancel) {
      r = failed("FetchFailed", "cancelled");
      break;
    }
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r = failed("FetchFailed", "read " + src + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) {
      r.ok = true;
      break;
    }
    r.bytes += static_cast<std::uint64_t>(n);
    if (r.bytes > limits.max_bytes) {
      r = failed("FetchFailed", src + " is larger than the limit");
      break;
    }
    for (ssize_t off = 0; off < n;) {
      const ssize_t w = ::write(out, buf.data() + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        ::close(in);
        ::close(out);
        return failed("FetchFailed", "write " + part + ": " + std::strerror(errno));
      }
      off += w;
    }
  }
  ::close(in);
  if (r.ok && ::fsync(out) != 0) r = failed("FetchFailed", "fsync " + part + ": " + std::strerror(errno));
  ::close(out);
  return r;
}

FetchResult http_get(const boost::urls::url_view& url, const std::string& part, const FetchLimits& limits) {
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    const std::string host(url.host());
    const std::string port = url.has_port() ? std::string(url.port()) : "80";
    tcp::socket socket(io);
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return failed("FetchFailed", "resolve " + host + ": " + ec.message());
    boost::asio::connect(socket, endpoints, ec);
    if (ec) return failed("FetchFailed", "connect " + host + ":" + port + ": " + ec.message());
    timeval tv{limits.timeout_seconds, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

    std::string target(url.encoded_path());
    if (target.empty()) target = "/";
    if (url.has_query()) target += "?" + std::string(url.encoded_query());
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, std::string(url.encoded_host_and_port()));
    req.set(bhttp::field::user_agent, "ironboot");
    req.set(bhttp::field::connection, "close");
    bhttp::write(socket, req, ec);
    if (ec) return failed("FetchFailed", "send request: " + ec.message());

    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::file_body> parser;
    parser.body_limit(limits.max_bytes);
    bhttp::read_header(socket, buffer, parser, ec);
    if (ec) return failed("FetchFailed", "read response: " + ec.message());
    const unsigned status = parser.get().result_int();
    if (status != 200) return failed("FetchFailed", "HTTP status " + std::to_string(status));
    parser.get().body().open(part.c_str(), beast::file_mode::write, ec);
    if (ec) return failed("FetchFailed", "cannot create " + part + ": " + ec.message());
    bhttp::read(socket, buffer, parser, ec);
    if (ec) return failed("FetchFailed", "read body: " + ec.message());
    FetchResult r;
    r.ok = true;
    r.bytes = parser.get().body().size();
    parser.get().body().close();
    return r;
  } catch (const std::exception& e) {
    return failed("FetchFailed", e.what());
  }
}

}  // namespace

std::string sha512_of_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha512(), nullptr) != 1) {
    ::close(fd);
    return {};
  }
  std::vector<char> buf(1 << 16);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return {};
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return {};
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

FetchResult fetch_to_file(const std::string& url_text, const std::string& dest, const std::string& sha512_hex,
                          const FetchLimits& limits, const std::atomic<bool>& cancel) {
  auto parsed = boost::urls::parse_uri(url_text);
  if (!parsed) return failed("InvalidURL", "'" + url_text + "' is not a URL");
  const auto& url = *parsed;
  const std::string scheme = ascii_lowercase(std::string(url.scheme()));
  const std::string part = dest + ".part";
  FetchResult r;
  if (scheme == "file") {
    const std::string host(url.host());
    if (!host.empty() && host != "localhost") return failed("InvalidURL", "file URL with a remote host: " + url_text);
    r = copy_file(std::string(url.path()), part, limits, cancel);
  } else if (scheme == "http") {
    r = http_get(url, part, limits);
  } else if (scheme == "https") {
    return failed("UnsupportedScheme", "https is not fetched by ironboot; use http:// or file:// (" + url_text + ")");
  } else {
    return failed("UnsupportedScheme", "scheme '" + scheme + "' is not supported (" + url_text + ")");
  }
  if (!r.ok) {
    ::unlink(part.c_str());
    return r;
  }
  if (!sha512_hex.empty()) {
    const std::string got = sha512_of_file(part);
    if (got != ascii_lowercase(sha512_hex)) {
      ::unlink(part.c_str());
      return failed("ChecksumMismatch", "sha512 of " + url_text + " is " + got + ", expected " + ascii_lowercase(sha512_hex));
    }
  }
  if (::rename(part.c_str(), dest.c_str()) != 0) {
    ::unlink(part.c_str());
    return failed("FetchFailed", "rename to " + dest + ": " + std::strerror(errno));
  }
  return r;
}

}  // namespace ironboot::discovery
