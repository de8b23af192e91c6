// `ironboot appliance-status`: the banner on the appliance's serial and VGA consoles.
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/appliance_setup.hpp"
#include "common/config.hpp"
#include "common/net.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "kube/tls_material.hpp"

namespace ironboot::appliance {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "eth0 192.168.50.2, prov100 10.100.0.2"
std::string addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "?";
  std::string out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET || (a->ifa_flags & IFF_LOOPBACK)) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if (!out.empty()) out += ", ";
    out += std::string(a->ifa_name) + " " + Ipv4{ntohl(sin->sin_addr.s_addr)}.to_string();
  }
  ::freeifaddrs(list);
  return out.empty() ? "none" : out;
}

// How many Servers the embedded API holds, asked over its own TLS with the read-only token;
// an error text instead when it does not answer (within 3 seconds).
std::string server_count(const Config& config) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace ssl = boost::asio::ssl;
  const std::string dir = config.cluster.embedded.data_dir;
  const std::string token(trim(read_text(dir + "/token-readonly")));
  const std::string ca = read_text(dir + "/ca.crt");
  if (token.empty() || ca.empty()) return "unknown (no API credentials under " + dir + " yet)";
  const std::string url = kube::embedded_server_url(config.cluster.embedded.listen);  // https://host:port
  const auto hp = parse_host_port(url.substr(8));
  if (!hp) return "unknown (listen " + config.cluster.embedded.listen + ")";
  try {
    boost::asio::io_context io;
    ssl::context tls(ssl::context::tls_client);
    tls.add_certificate_authority(boost::asio::buffer(ca));
    tls.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, tls);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(3));
    boost::asio::ip::tcp::resolver resolver(io);
    beast::get_lowest_layer(stream).connect(resolver.resolve(hp->host, std::to_string(hp->port)));
    stream.handshake(ssl::stream_base::client);
    http::request<http::empty_body> req(http::verb::get, "/apis/metal.sidero.dev/v1alpha2/servers", 11);
    req.set(http::field::host, hp->host);
    req.set(http::field::authorization, "Bearer " + token);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    if (res.result() != http::status::ok) return "unknown (API answered " + std::to_string(res.result_int()) + ")";
    const auto body = boost::json::parse(res.body());
    return std::to_string(body.at("items").as_array().size());
  } catch (const std::exception& e) {
    return std::string("unknown (API: ") + e.what() + ")";
  }
}

}  // namespace

int print_appliance_status(const SetupPaths& paths, const std::string& config_path) {
  std::ostringstream out;
  out << "\n==================== ironboot appliance " << version() << " ====================\n";
  out << "addresses:  " << addresses() << "\n";
  std::string failures;
  try {
    const Config c = load_config_file(config_path);
    out << "API:        " << kube::embedded_server_url(c.cluster.embedded.listen)
        << "   (ssh root@<management address> ironboot kubeconfig > kubeconfig.yaml)\n";
    out << "PXE:        " << (c.dhcp.enabled ? "proxyDHCP and TFTP on " + c.interface : std::string("off (no provisioning interface)")) << "\n";
    if (c.cluster.mode == ClusterMode::embedded) out << "Servers:    " << server_count(c) << "\n";
  } catch (const ConfigError& e) {
    failures += std::string("  ") + e.what() + "\n";
  }
  const std::string status = read_text(paths.run_dir + "/status");
  std::istringstream lines(status);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("config: ")) out << "config:     " << line.substr(8) << "\n";
    else if (line.starts_with("error: ")) failures += "  " + line.substr(7) + "\n";
  }
  out << "failures:   " << (failures.empty() ? "none\n" : "\n" + failures);
  out << "===================================================================\n";
  std::cout << out.str();
  return 0;
}

}  // namespace ironboot::appliance
