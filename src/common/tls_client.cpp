#include "common/tls_client.hpp"

#include <boost/asio/ip/address.hpp>
#include <openssl/x509_vfy.h>

namespace ironboot::tls {

namespace ssl = boost::asio::ssl;

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

std::string configure_client(ssl::context& ctx, bool verify, const std::string& ca_file) {
  boost::system::error_code ec;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                  ec);
  if (!verify) {
    ctx.set_verify_mode(ssl::verify_none, ec);
    return {};
  }
  ctx.set_verify_mode(ssl::verify_peer, ec);
  ctx.set_default_verify_paths(ec);
  if (ca_file.empty()) return {};
  ctx.load_verify_file(ca_file, ec);
  if (ec) return "CA file " + ca_file + ": " + ec.message();
  return {};
}

void expect_peer(SSL* ssl_handle, const std::string& host, bool verify) {
  const bool ip = is_ip_literal(host);
  if (!ip) SSL_set_tlsext_host_name(ssl_handle, host.c_str());
  if (!verify) return;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
  if (ip) X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  else X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
}

std::string handshake_failure(SSL* ssl_handle, const boost::system::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl_handle);
  if (verify != X509_V_OK) return std::string("certificate not trusted: ") + X509_verify_cert_error_string(verify);
  return ec.message();
}

}  // namespace ironboot::tls
