// The discovery service wires the parts of discovery to the cluster layer (informer caches,
// write queue) and the HTTP server: the agent API (agent_api.hpp), the ServerClass status
// runner (reconcile_runner.hpp), the Environment cache and its file routes (environments.hpp),
// the boot policy (cluster_boot_policy.hpp) and the token issuer. See docs/discovery.md.
//
// Wiring (src/app/services.cpp): create it after the cluster service and the HTTP service,
// and start it after the cluster and before the HTTP service so /ipxe never answers without
// the policy:
//   auto cluster = make_cluster_service(io, config);
//   auto http = make_http_service(io, config);
//   auto discovery = make_discovery_service(io, config, *http, *cluster, bmc_client_factory);
#pragma once

#include <memory>

#include "common/service.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::bmc {
class BmcClientFactory;
}

namespace ironboot {

class ClusterService;
class HttpService;

// Registers its routes, policy, issuer and readiness check on `http` at once; start() loads
// the token key and takes the cluster context from `cluster` (which must have started).
// With `bmc_factory` it also runs the BMC controller (bmc_controller.hpp, docs/bmc.md) on the
// clients that factory makes; without one no BMC is contacted and status.state is not kept.
std::unique_ptr<Service> make_discovery_service(boost::asio::io_context& io, const Config& config, HttpService& http,
                                                ClusterService& cluster,
                                                std::shared_ptr<bmc::BmcClientFactory> bmc_factory = nullptr);

}  // namespace ironboot
