#include "bmc/endpoint.hpp"

#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>

#include <string_view>

namespace ironboot::bmc {

namespace json = boost::json;

namespace {

constexpr const char* kEndpoint = "spec.bmc.endpoint";

EndpointError error(std::string field, std::string message) { return {std::move(field), std::move(message)}; }

// A string member ("" when absent); an error when present and not a string.
std::optional<EndpointError> string_member(const json::object& o, std::string_view key, const std::string& path,
                                           std::string& out) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) return error(path, "must be a string");
  out = std::string(v->get_string());
  return std::nullopt;
}

std::optional<EndpointError> int_member(const json::object& o, std::string_view key, const std::string& path,
                                        std::optional<std::int64_t>& out) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_int64()) out = v->get_int64();
  else if (v->is_uint64()) out = static_cast<std::int64_t>(std::min<std::uint64_t>(v->get_uint64(), INT64_MAX));
  else return error(path, "must be an integer");
  return std::nullopt;
}

std::optional<EndpointError> credential(const json::object& bmc, const char* plain, const char* from,
                                        CredentialSource& out) {
  const std::string plain_path = std::string("spec.bmc.") + plain;
  const std::string from_path = std::string("spec.bmc.") + from;
  if (auto e = string_member(bmc, plain, plain_path, out.value)) return e;
  const auto* v = bmc.if_contains(from);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_object()) return error(from_path, "must be an object with secretKeyRef");
  const auto* ref = v->get_object().if_contains("secretKeyRef");
  const std::string ref_path = from_path + ".secretKeyRef";
  if (!ref || !ref->is_object()) return error(ref_path, "required (an object with name and key)");
  SecretKeyRef secret;
  std::string ns;
  if (auto e = string_member(ref->get_object(), "namespace", ref_path + ".namespace", ns)) return e;
  if (!ns.empty()) secret.namespace_ = ns;
  if (auto e = string_member(ref->get_object(), "name", ref_path + ".name", secret.name)) return e;
  if (auto e = string_member(ref->get_object(), "key", ref_path + ".key", secret.key)) return e;
  if (secret.name.empty()) return error(ref_path + ".name", "required");
  if (secret.key.empty()) return error(ref_path + ".key", "required");
  if (!out.value.empty()) return error(plain_path, std::string("must be empty when ") + from + " is set");
  out.secret = std::move(secret);
  return std::nullopt;
}

bool is_ipv6(std::string_view s) { return boost::urls::parse_ipv6_address(s).has_value(); }

// A bare host: an IPv4 literal or DNS name, an IPv6 literal with or without brackets.
std::optional<EndpointError> plain_host(std::string_view text, std::string& host) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    const auto inner = text.substr(1, text.size() - 2);
    if (!is_ipv6(inner)) return error(kEndpoint, "'" + std::string(text) + "' is not an IPv6 address");
    host = std::string(inner);
    return std::nullopt;
  }
  if (is_ipv6(text)) {
    host = std::string(text);
    return std::nullopt;
  }
  const auto authority = boost::urls::parse_authority(text);
  if (!authority || authority->has_userinfo() || authority->host().empty() ||
      authority->host_type() == boost::urls::host_type::ipvfuture)
    return error(kEndpoint, "'" + std::string(text) + "' is not a host name or IP address");
  if (authority->has_port())
    return error(kEndpoint, "'" + std::string(text) + "' has a port: use spec.bmc.port, or ipmi://host:port");
  if (authority->host_type() == boost::urls::host_type::name &&
      authority->encoded_host().find('%') != boost::core::string_view::npos)
    return error(kEndpoint, "'" + std::string(text) + "' is not a host name or IP address");
  host = std::string(authority->encoded_host());
  return std::nullopt;
}

std::optional<EndpointError> url_endpoint(std::string_view text, BmcEndpoint& out, bool& port_given) {
  const auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return error(kEndpoint, "'" + std::string(text) + "' is not a valid URL");
  const auto& u = *parsed;
  const std::string scheme(u.scheme());
  if (scheme == "ipmi") {
    out.protocol = Protocol::Ipmi;
    out.port = 623;
  } else if (scheme == "redfish" || scheme == "redfish+https") {
    out.protocol = Protocol::Redfish;
    out.tls = true;
    out.port = 443;
  } else if (scheme == "redfish+http") {
    out.protocol = Protocol::Redfish;
    out.tls = false;
    out.port = 80;
  } else {
    return error(kEndpoint, "unknown scheme '" + scheme + "' (ipmi, redfish, redfish+https, redfish+http)");
  }
  if (u.has_userinfo()) return error(kEndpoint, "must not carry credentials: use userFrom / passFrom");
  if (u.has_query() || u.has_fragment()) return error(kEndpoint, "must not have a query or fragment");
  if (!u.has_authority() || u.encoded_host().empty()) return error(kEndpoint, "'" + std::string(text) + "' has no host");
  switch (u.host_type()) {
    case boost::urls::host_type::ipv6: out.host = u.host_ipv6_address().to_string(); break;
    case boost::urls::host_type::ipv4: out.host = u.host_ipv4_address().to_string(); break;
    case boost::urls::host_type::name:
      if (u.encoded_host().find('%') != boost::core::string_view::npos)
        return error(kEndpoint, "'" + std::string(text) + "' has a percent-encoded host");
      out.host = std::string(u.encoded_host());
      break;
    default: return error(kEndpoint, "'" + std::string(text) + "' has an unsupported host");
  }
  if (u.has_port()) {
    if (u.port().empty() || u.port_number() == 0) return error(kEndpoint, "port must be 1..65535");
    out.port = u.port_number();
    port_given = true;
  }
  const std::string path(u.encoded_path());
  if (out.protocol == Protocol::Ipmi) {
    if (!path.empty() && path != "/") return error(kEndpoint, "an ipmi:// endpoint has no path");
  } else if (!path.empty() && path != "/") {
    if (path.rfind("/redfish/v1/", 0) != 0)
      return error(kEndpoint, "the path must name a system under /redfish/v1/ (e.g. /redfish/v1/Systems/1)");
    out.system_path = path.back() == '/' ? path.substr(0, path.size() - 1) : path;
  }
  return std::nullopt;
}

}  // namespace

ParsedBmc parse_bmc_spec(const json::object& bmc) {
  BmcSpec spec;
  std::string endpoint;
  if (auto e = string_member(bmc, "endpoint", kEndpoint, endpoint)) return *e;
  if (endpoint.empty()) return error(kEndpoint, "required");
  bool url_port = false;
  if (endpoint.find("://") != std::string::npos) {
    if (auto e = url_endpoint(endpoint, spec.endpoint, url_port)) return *e;
  } else {
    spec.endpoint.protocol = Protocol::Ipmi;
    if (auto e = plain_host(endpoint, spec.endpoint.host)) return *e;
  }

  std::optional<std::int64_t> port;
  if (auto e = int_member(bmc, "port", "spec.bmc.port", port)) return *e;
  if (port && (*port < 1 || *port > 65535)) return error("spec.bmc.port", "must be 1..65535, not " + std::to_string(*port));
  if (port && !url_port) spec.endpoint.port = static_cast<std::uint16_t>(*port);  // a port in the URL wins

  std::string interface;
  if (auto e = string_member(bmc, "interface", "spec.bmc.interface", interface)) return *e;
  if (!interface.empty() && interface != "lanplus") {
    if (interface == "lan")
      return error("spec.bmc.interface", "lan (IPMI 1.5) is not supported: ironboot speaks IPMI 2.0 (lanplus)");
    return error("spec.bmc.interface", "must be lanplus, not '" + interface + "'");
  }

  if (const auto* v = bmc.if_contains("insecureSkipVerify"); v && !v->is_null()) {
    if (!v->is_bool()) return error("spec.bmc.insecureSkipVerify", "must be true or false");
    spec.endpoint.insecure_skip_verify = v->get_bool();
  }
  std::optional<std::int64_t> suite;
  if (auto e = int_member(bmc, "cipherSuite", "spec.bmc.cipherSuite", suite)) return *e;
  if (suite) {
    if (*suite != 3 && *suite != 17)
      return error("spec.bmc.cipherSuite", "must be 3 or 17 (absent: 17, then 3), not " + std::to_string(*suite));
    if (spec.endpoint.protocol == Protocol::Ipmi) spec.endpoint.cipher_suite = static_cast<int>(*suite);
  }

  if (auto e = credential(bmc, "user", "userFrom", spec.user)) return *e;
  if (auto e = credential(bmc, "pass", "passFrom", spec.pass)) return *e;
  return spec;
}

std::optional<ParsedBmc> bmc_of_server(const json::object& server) {
  const auto* spec = server.if_contains("spec");
  if (!spec || !spec->is_object()) return std::nullopt;
  const auto* bmc = spec->get_object().if_contains("bmc");
  if (!bmc || bmc->is_null()) return std::nullopt;
  if (!bmc->is_object()) return ParsedBmc(error("spec.bmc", "must be an object"));
  return parse_bmc_spec(bmc->get_object());
}

std::string describe(const BmcEndpoint& e) {
  std::string scheme = e.protocol == Protocol::Ipmi ? "ipmi" : e.tls ? "redfish" : "redfish+http";
  const bool v6 = e.host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + e.host + "]" : e.host) + ":" + std::to_string(e.port) + e.system_path;
}

}  // namespace ironboot::bmc
