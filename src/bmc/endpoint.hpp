// A Server's spec.bmc -> the BMC endpoint and where its credentials come from (pure).
// Sidero Metal's fields keep their meaning (endpoint = host, port, user/pass,
// userFrom/passFrom.secretKeyRef, interface: lanplus); the endpoint may also be a Metal3-style
// URL: ipmi://host[:port], redfish://host[:port]/redfish/v1/Systems/1 (HTTPS),
// redfish+https://…, redfish+http://…, IPv6 literals in brackets. docs/bmc.md "The Server's BMC".
#pragma once

#include "bmc/bmc.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <variant>

namespace ironboot::bmc {

// Where Secrets named without a namespace are read (Servers are cluster-scoped).
inline constexpr const char* kDefaultSecretNamespace = "ironboot-system";

struct SecretKeyRef {
  std::string namespace_ = kDefaultSecretNamespace;
  std::string name;
  std::string key;
  bool operator==(const SecretKeyRef&) const = default;
};

// A credential given in clear text (`value`) or read from a Secret (`secret`).
struct CredentialSource {
  std::string value;
  std::optional<SecretKeyRef> secret;
  bool operator==(const CredentialSource&) const = default;
};

struct BmcSpec {
  BmcEndpoint endpoint;
  CredentialSource user;
  CredentialSource pass;
  // spec.bmc.pass was given in clear text (it works, and is warned about).
  bool plain_text_password() const { return !pass.secret && !pass.value.empty(); }
  bool operator==(const BmcSpec&) const = default;
};

struct EndpointError {
  std::string field;    // "spec.bmc.endpoint"
  std::string message;  // "unknown scheme ftp (ipmi, redfish, redfish+http, redfish+https)"
  std::string text() const { return field + ": " + message; }
};

using ParsedBmc = std::variant<BmcSpec, EndpointError>;

// `bmc` is the spec.bmc object. Every problem names the field it is in.
ParsedBmc parse_bmc_spec(const boost::json::object& bmc);

// The Server's spec.bmc parsed, or nullopt when it has none (no spec.bmc or no endpoint).
std::optional<ParsedBmc> bmc_of_server(const boost::json::object& server);

// "ipmi://10.0.0.5:623", "redfish://[fd00::5]:443/redfish/v1/Systems/1" for events and logs.
std::string describe(const BmcEndpoint& endpoint);

}  // namespace ironboot::bmc
