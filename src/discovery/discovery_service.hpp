// The discovery service: wires the pure discovery and serverclass cores to the cluster layer
// (informer caches, write queue) and the HTTP server (agent API routes, the boot policy, the
// token issuer, /assets/environments/). See docs/discovery.md.
//
// Wiring (src/app/services.cpp): create it after the cluster service and the HTTP service,
// and start it before the HTTP service so /ipxe never answers without the policy:
//   auto http = make_http_service(io, config);
//   services.push_back(make_discovery_service(io, config, *http));
//   services.push_back(std::move(http));
#pragma once

#include <memory>

#include "common/service.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot {

class HttpService;

// Registers its routes, policy, issuer and readiness check on `http` at once; the token key
// and the cluster context are taken in start() (the cluster service must have started).
std::unique_ptr<Service> make_discovery_service(boost::asio::io_context& io, const Config& config, HttpService& http);

}  // namespace ironboot
