// What the rest of ironboot uses from the cluster layer, identical in every cluster mode:
// the client, the informer caches of the three kinds (and of Metal3's BareMetalHosts), the write queue, and the Event
// recorder (best-effort core/v1 Events, kube/event_recorder.hpp). The cluster
// service owns it (ClusterService::context(), kube/cluster_service.hpp) and src/app hands it
// to the services that use it; tests build one over make_in_process_transport. Everything
// runs on the io_context thread.
#pragma once

#include <memory>

#include "kube/client.hpp"
#include "kube/event_recorder.hpp"
#include "kube/informer.hpp"
#include "kube/write_queue.hpp"

namespace ironboot::kube {

class ClusterContext {
 public:
  ClusterContext(boost::asio::io_context& io, std::shared_ptr<Transport> transport, EventRecorderOptions events = {})
      : client_(std::move(transport)),
        servers_(io, client_, "servers"),
        serverclasses_(io, client_, "serverclasses"),
        environments_(io, client_, "environments"),
        baremetalhosts_(io, client_, ResourcePath{"metal3.io", "v1alpha1", "baremetalhosts", {}}),
        writes_(io, client_),
        events_(io, client_, std::move(events)) {
    // The write queue bases its writes on the informers' objects instead of reading each first.
    writes_.set_cache([this](const std::string& resource, const std::string& name) -> WriteQueue::Known {
      for (const Informer* cache : {&servers_, &serverclasses_, &environments_})
        if (cache->resource() == resource) return cache->synced() ? WriteQueue::Known(cache->get(name)) : std::nullopt;
      return std::nullopt;
    });
  }

  KubeClient& client() { return client_; }
  Informer& servers() { return servers_; }
  Informer& serverclasses() { return serverclasses_; }
  Informer& environments() { return environments_; }
  // Metal3's BareMetalHosts in every namespace, keyed "namespace/name". Not started with the
  // others (a cluster may not have Metal3's CRD): the BareMetalHost controller starts it, and
  // synced() does not wait for it.
  Informer& baremetalhosts() { return baremetalhosts_; }
  WriteQueue& writes() { return writes_; }
  EventRecorder& events() { return events_; }
  // In embedded mode the store of the same process: the informers keep its texts.
  void set_text_source(const Informer::TextSource& source) {
    servers_.set_text_source(source);
    serverclasses_.set_text_source(source);
    environments_.set_text_source(source);
  }
  bool synced() const { return servers_.synced() && serverclasses_.synced() && environments_.synced(); }

  void start() {
    servers_.start();
    serverclasses_.start();
    environments_.start();
  }
  void stop() {
    servers_.stop();
    serverclasses_.stop();
    environments_.stop();
    baremetalhosts_.stop();
    events_.stop();
  }

 private:
  KubeClient client_;
  Informer servers_;
  Informer serverclasses_;
  Informer environments_;
  Informer baremetalhosts_;
  WriteQueue writes_;
  EventRecorder events_;
};

}  // namespace ironboot::kube
