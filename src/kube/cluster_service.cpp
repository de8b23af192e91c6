#include "kube/cluster_service.hpp"

#include <boost/asio/io_context.hpp>
#include <unistd.h>

#include <climits>
#include <iostream>

#include "common/config.hpp"
#include "common/log.hpp"
#include "kube/api_server.hpp"
#include "kube/cluster_context.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/store.hpp"
#include "kube/tls_material.hpp"

namespace ironboot {

namespace {

// source.host / reportingInstance of the Events this process records.
std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "ironboot";
  return name;
}

class ClusterServiceImpl final : public ClusterService {
 public:
  ClusterServiceImpl(boost::asio::io_context& io, const Config& config) : io_(io), config_(config) {}

  const char* name() const override { return "cluster"; }
  kube::ClusterContext* context() override { return context_.get(); }

  std::string start() override {
    const auto& c = config_.cluster;
    std::optional<kube::ClusterCredentials> creds;
    std::string err;
    switch (c.mode) {
      case ClusterMode::embedded:
        server_ = std::make_unique<kube::EmbeddedApiServer>(io_, c.embedded);
        err = server_->start();
        if (!err.empty()) return err;
        try {
          auto m = kube::ensure_tls_material(c.embedded.data_dir, c.embedded.listen);
          kube::ClusterCredentials cc;
          cc.server = kube::embedded_server_url(c.embedded.listen);
          std::string text = kube::render_kubeconfig(m, cc.server);
          creds = kube::parse_kubeconfig(text, "", &err);
        } catch (const std::exception& e) {
          return e.what();
        }
        break;
      case ClusterMode::kubeconfig: creds = kube::load_kubeconfig(c.kubeconfig, &err); break;
      case ClusterMode::in_cluster: creds = kube::in_cluster_credentials(&err); break;
    }
    if (!creds) return "cluster: " + err;
    try {
      kube::EventRecorderOptions events;
      events.host = host_name();
      // Embedded: this process's requests and watches go straight to the store (no TLS over
      // loopback through the same busy loop; the informers hear a change right after its sync).
      auto transport = server_ ? server_->local_transport() : kube::make_rest_transport(io_, *creds);
      context_ = std::make_unique<kube::ClusterContext>(io_, std::move(transport), std::move(events));
    } catch (const std::exception& e) {
      return e.what();
    }
    if (server_) {
      // The informers' resources are cluster-scoped: the store key is the name.
      kube::Store* store = &server_->store();
      context_->set_text_source([store](const std::string& resource, const std::string& name) -> kube::Informer::SharedText {
        kube::StoredPtr stored = store->find(resource, name);
        if (!stored) return nullptr;
        return kube::shared_json(std::move(stored));
      });
    }
    context_->start();
    logger("kube")->info("cluster client started mode={} server={}", to_string(c.mode), creds->server);
    return {};
  }

  void stop() override {
    if (context_) context_->stop();
    if (server_) server_->stop();
  }

  bool store_writable() const override { return !server_ || server_->writable(); }

  bool idle() const override { return (!server_ || server_->idle()) && (!context_ || context_->writes().pending() == 0); }

 private:
  boost::asio::io_context& io_;
  Config config_;
  std::unique_ptr<kube::EmbeddedApiServer> server_;
  std::unique_ptr<kube::ClusterContext> context_;
};

}  // namespace

std::unique_ptr<ClusterService> make_cluster_service(boost::asio::io_context& io, const Config& config) {
  return std::make_unique<ClusterServiceImpl>(io, config);
}

int print_embedded_kubeconfig(const Config& config, bool read_only) {
  try {
    auto m = kube::ensure_tls_material(config.cluster.embedded.data_dir, config.cluster.embedded.listen);
    std::cout << kube::render_kubeconfig(m, kube::embedded_server_url(config.cluster.embedded.listen), read_only);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

}  // namespace ironboot
