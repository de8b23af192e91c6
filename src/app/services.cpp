#include "app/services.hpp"

#include <boost/asio/io_context.hpp>

#include "common/config.hpp"
// Each protocol area adds its factory header here.
#include "kube/cluster_service.hpp"
#include "ipxe/http_service.hpp"
#include "bmc/factory.hpp"
#include "discovery/discovery_service.hpp"
#include "tftp/server.hpp"
#include "dhcp/server.hpp"

namespace ironboot {

std::vector<std::unique_ptr<Service>> make_services(boost::asio::io_context& io, const Config& config) {
  std::vector<std::unique_ptr<Service>> services;
  // Each protocol area adds one block here, in start order: cluster, http, tftp, dhcp.
  auto cluster = make_cluster_service(io, config);
  ClusterService& cluster_layer = *cluster;
  services.push_back(std::move(cluster));
  {
    // Other areas register routes, the boot policy and readiness checks on `http` here.
    auto http = make_http_service(io, config);
    http->readiness().add("cluster-store", [&cluster_layer] { return cluster_layer.store_writable(); });
    // Discovery registers the agent API, boot policy and token issuer on `http` and takes the
    // cluster context in its start(); it starts after the cluster (it reads its caches) and
    // before http (no /ipxe without the policy).
    // With bmc.enabled the BMC controller powers Servers through their spec.bmc.
    auto bmc_factory = config.bmc.enabled ? bmc::make_bmc_client_factory(io) : nullptr;
    services.push_back(make_discovery_service(io, config, *http, cluster_layer, std::move(bmc_factory)));
    services.push_back(std::move(http));
  }
  if (config.tftp.enabled) services.push_back(make_tftp_service(io, config));
  if (config.dhcp.enabled) services.push_back(make_dhcp_service(io, config));
  return services;
}

}  // namespace ironboot
