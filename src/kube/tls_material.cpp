#include "kube/tls_material.hpp"

#include "common/files.hpp"
#include "common/text.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "common/base64.hpp"
#include "common/log.hpp"
#include "kube/json_ops.hpp"

namespace ironboot::kube {

namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("embedded API credentials: " + what); }

std::string read_or_empty(const std::string& path) { return read_file(path).value_or(""); }

// A key or token file: refused when group or others may read it (whoever could has the
// appliance: the CA key signs API certificates, the tokens are admin), "" when absent.
std::string read_private(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  if ((st.st_mode & 077) != 0) {
    char octal[16];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    fail(path + " is accessible by group or others (mode " + octal + "); chmod 600 it");
  }
  return read_or_empty(path);
}

void write_private(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot write " + tmp + ": " + std::strerror(errno));
  ::fchmod(fd, 0600);
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot write " + path + ": " + std::strerror(errno));
}

PKey new_key() {
  EVP_PKEY* k = EVP_EC_gen("P-256");
  if (!k) fail("key generation failed");
  return PKey(k);
}

std::string key_pem(EVP_PKEY* k) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

std::string cert_pem(X509* c) {
  Bio bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), c);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

PKey load_key(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return PKey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

Cert load_cert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) fail("bad certificate extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, bool ca, const std::string& san) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 365 * 10);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* iss = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(iss));
  if (ca) {
    add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    add_ext(cert.get(), iss, NID_subject_key_identifier, "hash");
  } else {
    add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), iss, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    add_ext(cert.get(), iss, NID_ext_key_usage, "serverAuth");
    add_ext(cert.get(), iss, NID_subject_alt_name, san);
  }
  if (!X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256())) fail("certificate signing failed");
  return cert;
}

bool is_ip(const std::string& host) { return host.find_first_not_of("0123456789.:") == std::string::npos; }

bool cert_covers(X509* cert, const std::string& host) {
  if (is_ip(host)) return X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  return X509_check_host(cert, host.c_str(), host.size(), 0, nullptr) == 1;
}

std::string host_of(const std::string& listen) {
  if (!listen.empty() && listen[0] == '[') return listen.substr(1, listen.find(']') - 1);
  auto colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

// A bearer token file: 256 random bits as hex, kept while it holds at least 32 characters.
std::string ensure_token(const std::string& path, const char* what) {
  std::string token = read_private(path);
  token = std::string(trim(token));
  if (token.size() >= 32) return token;
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) fail("no randomness for the token");
  static const char* hex = "0123456789abcdef";
  token.clear();
  for (unsigned char b : raw) {
    token += hex[b >> 4];
    token += hex[b & 15];
  }
  write_private(path, token + "\n");
  logger("kube")->info("created embedded API {} path={}", what, path);
  return token;
}

}  // namespace

TlsMaterial ensure_tls_material(const std::string& data_dir, const std::string& listen_host_port) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) fail("cannot create " + data_dir + ": " + ec.message());
  ::chmod(data_dir.c_str(), 0700);
  const std::string ca_crt = data_dir + "/ca.crt", ca_key = data_dir + "/ca.key";
  const std::string srv_crt = data_dir + "/server.crt", srv_key = data_dir + "/server.key";
  const std::string token_path = data_dir + "/token";
  auto log = logger("kube");
  TlsMaterial m;
  m.ca_cert_pem = read_or_empty(ca_crt);
  PKey ca_key_obj = load_key(read_private(ca_key));
  Cert ca_cert_obj = load_cert(m.ca_cert_pem);
  if (!ca_key_obj || !ca_cert_obj) {
    ca_key_obj = new_key();
    ca_cert_obj = make_cert(ca_key_obj.get(), "ironboot-ca", nullptr, nullptr, true, "");
    m.ca_cert_pem = cert_pem(ca_cert_obj.get());
    write_private(ca_key, key_pem(ca_key_obj.get()));
    write_private(ca_crt, m.ca_cert_pem);
    log->info("created embedded API CA path={}", ca_crt);
  }
  const std::string host = host_of(listen_host_port);
  m.server_cert_pem = read_or_empty(srv_crt);
  m.server_key_pem = read_private(srv_key);
  Cert srv = load_cert(m.server_cert_pem);
  bool need_server = !srv || !load_key(m.server_key_pem) || !cert_covers(srv.get(), "127.0.0.1") ||
                     (!host.empty() && host != "0.0.0.0" && host != "::" && !cert_covers(srv.get(), host)) ||
                     X509_check_issued(ca_cert_obj.get(), srv.get()) != X509_V_OK;
  if (need_server) {
    std::string san = "IP:127.0.0.1,DNS:localhost";
    if (!host.empty() && host != "0.0.0.0" && host != "::" && host != "127.0.0.1" && host != "localhost")
      san += is_ip(host) ? ",IP:" + host : ",DNS:" + host;
    PKey key = new_key();
    Cert cert = make_cert(key.get(), "ironboot", ca_cert_obj.get(), ca_key_obj.get(), false, san);
    m.server_cert_pem = cert_pem(cert.get());
    m.server_key_pem = key_pem(key.get());
    write_private(srv_key, m.server_key_pem);
    write_private(srv_crt, m.server_cert_pem);
    log->info("created embedded API server certificate path={} san={}", srv_crt, san);
  }
  m.token = ensure_token(token_path, "token");
  // Data dirs from before the read-only token get it on their next start.
  m.read_only_token = ensure_token(data_dir + "/token-readonly", "read-only token");
  if (m.read_only_token == m.token) fail("the admin and read-only tokens are the same: remove " + data_dir + "/token-readonly");
  return m;
}

std::string embedded_server_url(const std::string& listen) {
  std::string host = host_of(listen);
  auto colon = listen.rfind(':');
  std::string port = colon == std::string::npos ? "6443" : listen.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "https://" + host + ":" + port;
}

std::string render_kubeconfig(const TlsMaterial& m, const std::string& server_url, bool read_only) {
  namespace json = boost::json;
  const std::string user = read_only ? "ironboot-read-only" : "ironboot";
  const std::string& token = read_only ? m.read_only_token : m.token;
  json::object cfg{
      {"apiVersion", "v1"},
      {"kind", "Config"},
      {"clusters", json::array{json::object{{"name", "ironboot"},
                                            {"cluster", json::object{{"server", server_url},
                                                                     {"certificate-authority-data", base64_encode(m.ca_cert_pem)}}}}}},
      {"users", json::array{json::object{{"name", user}, {"user", json::object{{"token", token}}}}}},
      {"contexts", json::array{json::object{{"name", user}, {"context", json::object{{"cluster", "ironboot"}, {"user", user}}}}}},
      {"current-context", user}};
  return json_to_yaml(cfg);
}

}  // namespace ironboot::kube
