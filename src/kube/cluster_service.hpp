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

class ClusterService : public Service {
 public:
  // The client, informer caches and write queue; null until start() succeeded. Services that
  // use it take it in their own start() (the cluster service starts first).
  virtual kube::ClusterContext* context() = 0;
  // False while the embedded API's store cannot write to disk (a /readyz check).
  virtual bool store_writable() const { return true; }
};

std::unique_ptr<ClusterService> make_cluster_service(boost::asio::io_context& io, const Config& config);

// `ironboot kubeconfig [--read-only]`: prints a kubeconfig for the embedded API with the admin
// token or the read-only one (creating the credentials when they do not exist yet). Returns
// the process exit code.
int print_embedded_kubeconfig(const Config& config, bool read_only = false);

}  // namespace ironboot
