// What the discovery parts share over the cluster context: reads from the informer caches,
// status writes through the write queue, and Events (docs/discovery.md "Events"). Everything runs on the io_context thread.
#pragma once

#include "kube/event_recorder.hpp"
#include "kube/informer.hpp"
#include "kube/write_queue.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ironboot::kube {
class ClusterContext;
}

namespace ironboot::discovery {

// The reportingComponent of the Events discovery records.
inline constexpr const char* kEventController = "ironboot.dev/discovery";
// The Event reporter the discovery parts use.
kube::EventReporter discovery_events(kube::ClusterContext& cluster);

// The cached object, or null. Valid until the cache changes (the next event).
const boost::json::object* cached(const kube::Informer& cache, std::string_view name);

// The status merge patch for the object as it is when the write runs, or nullopt for none.
using StatusPatch = std::function<std::optional<boost::json::object>(const boost::json::object& current)>;

// Queues a status write of resource/name; nothing is written when the object is gone by then
// or the patch changes nothing.
void write_status(kube::WriteQueue& writes, const std::string& resource, const std::string& name, StatusPatch patch);

}  // namespace ironboot::discovery
