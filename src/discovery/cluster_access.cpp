#include "discovery/cluster_access.hpp"

#include "kube/cluster_context.hpp"
#include "kube/json_ops.hpp"

#include <boost/json/value.hpp>

namespace ironboot::discovery {

namespace json = boost::json;

kube::EventReporter discovery_events(kube::ClusterContext& cluster) {
  return kube::EventReporter(cluster.events(), kEventController);
}

const json::object* cached(const kube::Informer& cache, std::string_view name) {
  const auto p = cache.get(std::string(name));
  return p ? p.get() : nullptr;
}

void write_status(kube::WriteQueue& writes, const std::string& resource, const std::string& name, StatusPatch patch) {
  writes.enqueue(
      resource, name,
      [patch = std::move(patch)](const json::object* current) -> std::optional<json::object> {
        if (!current) return std::nullopt;
        auto p = patch(*current);
        if (!p) return std::nullopt;
        json::value next = kube::merge_patch(*current, *p);
        if (next == json::value(*current)) return std::nullopt;
        return next.as_object();
      },
      {}, true);
}

}  // namespace ironboot::discovery
