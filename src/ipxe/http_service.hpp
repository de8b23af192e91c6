// The HTTP service (docs/http.md): iPXE scripts, /assets, /metrics, /healthz, /readyz,
// and whatever routes other areas register (POST /agent/v1/...). Beast-free header.
//
// Wiring (src/app/services.cpp), before start():
//   auto http = make_http_service(io, config);
//   http->router().add("POST", "/agent/v1/register", handler);   // discovery
//   http->set_boot_policy(policy);  http->set_token_issuer(issuer);  // discovery
//   http->readiness().add("cluster-cache", [&] { return cache.synced(); });  // cluster
#pragma once

#include <memory>

#include "common/service.hpp"
#include "http/readiness.hpp"
#include "http/router.hpp"
#include "ipxe/boot_policy.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot {

class HttpService : public Service {
 public:
  virtual http::Router& router() = 0;
  virtual http::Readiness& readiness() = 0;
  // Replaces the policy /ipxe asks (default: AgentForEveryonePolicy). Not null.
  virtual void set_boot_policy(std::shared_ptr<const BootPolicy> policy) = 0;
  // Registers the issuer of ironboot.token= values; null removes it (no token argument).
  virtual void set_token_issuer(std::shared_ptr<BootTokenIssuer> issuer) = 0;
  // The URL scripts point clients at, "http://<advertise>:<port>"; empty before start().
  virtual std::string base_url() const = 0;
};

std::unique_ptr<HttpService> make_http_service(boost::asio::io_context& io, const Config& config);

}  // namespace ironboot
