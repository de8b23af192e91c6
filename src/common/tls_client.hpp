// The TLS client setup every outgoing https connection shares (Redfish BMCs, Environment
// fetches): TLS 1.2 or later, the peer's certificate verified against the system store plus
// an optional CA file, the host name (or IP address) checked against it, SNI for names.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <string>

namespace ironboot::tls {

// True when `host` is an IPv4 or IPv6 literal (no SNI, checked as an IP SAN).
bool is_ip_literal(const std::string& host);

// Sets `ctx` up as a client; `verify` false turns verification off (only where the operator
// asked for it explicitly). "" or why the CA file could not be loaded.
std::string configure_client(boost::asio::ssl::context& ctx, bool verify, const std::string& ca_file);

// Per connection, before the handshake: SNI for a name, and (with `verify`) the name or IP
// the certificate must carry.
void expect_peer(SSL* ssl, const std::string& host, bool verify);

// Why a handshake failed: the certificate verification error when there is one.
std::string handshake_failure(SSL* ssl, const boost::system::error_code& ec);

}  // namespace ironboot::tls
