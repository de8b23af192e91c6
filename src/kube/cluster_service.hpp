// The cluster layer as an ironboot::Service: the embedded API (in embedded mode) and the
// client, informers and write queue that the rest of ironboot uses in every mode.
#pragma once

#include <memory>

#include "common/service.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot {

struct Config;

namespace kube {
class ClusterContext;
}

// Started first: other services read the caches it fills.
std::unique_ptr<Service> make_cluster_service(boost::asio::io_context& io, const Config& config);

// The cluster objects of the running process (null before make_cluster_service).
kube::ClusterContext* cluster_context();

// `ironboot kubeconfig`: prints a kubeconfig for the embedded API (creating its credentials
// when they do not exist yet). Returns the process exit code.
int print_embedded_kubeconfig(const Config& config);

}  // namespace ironboot
