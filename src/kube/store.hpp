// The embedded API's object store: every object of every resource in memory, one
// resourceVersion counter, a bounded change history for watches, and a Journal that
// makes each change durable. Single-threaded (the io_context thread). No I/O here.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ironboot::kube {

using ObjectPtr = std::shared_ptr<const boost::json::object>;
// The JSON text of one stored version, made once when it is stored: responses, the log,
// lists and watch events copy it instead of serializing the tree again.
using JsonText = std::shared_ptr<const std::string>;

struct StoredObject {
  ObjectPtr object;
  JsonText json;
};

enum class ChangeType { Added, Modified, Deleted };

struct Change {
  ChangeType type = ChangeType::Added;
  std::string resource;  // plural, e.g. "servers"
  std::string name;      // the store key: "name", or "namespace/name" for namespaced objects
  ObjectPtr object;      // the new object (for Deleted: the last state, with the deleting RV)
  JsonText json;         // serialized `object`
  ObjectPtr previous;    // null for Added
  std::uint64_t rv = 0;
};

// Receives every committed change (the durable log).
class Journal {
 public:
  virtual ~Journal() = default;
  virtual void record(const Change& change) = 0;
};

// Where an object lives in its resource's map: its name, or "namespace/name" when it has a
// metadata.namespace (so one namespace's objects are one contiguous, sorted range).
std::string store_key(const std::string& namespace_name, const std::string& name);
std::string store_key_of(const boost::json::object& object);

class Store {
 public:
  using Listener = std::function<void(const Change&)>;

  explicit Store(std::size_t history_limit = 50000) : history_limit_(history_limit) {}

  std::uint64_t resource_version() const { return rv_; }
  // By store key (store_key()).
  ObjectPtr get(const std::string& resource, const std::string& key) const;
  // Null members when there is no such object.
  StoredObject find(const std::string& resource, const std::string& key) const;
  // Sorted by store key. An unknown resource is an empty map.
  const std::map<std::string, StoredObject>& objects(const std::string& resource) const;
  std::size_t size() const;

  // Commits a create or update: assigns the next resourceVersion (also written into
  // metadata.resourceVersion), journals it, keeps it in the history and notifies listeners.
  StoredObject put(const std::string& resource, boost::json::object object);
  // Removes an object (by store key); returns its last state stamped with the deleting
  // resourceVersion.
  StoredObject erase(const std::string& resource, const std::string& key);

  // Changes with rv > since, oldest first. False when `since` is older than the history.
  bool changes_since(std::uint64_t since, std::vector<Change>& out) const;
  std::uint64_t history_floor() const { return history_floor_; }

  int add_listener(Listener listener);
  void remove_listener(int id);
  void set_journal(Journal* journal) { journal_ = journal; }

  // Loading from the log: no journal, no history, no listeners.
  void restore_put(const std::string& resource, boost::json::object object, std::uint64_t rv);
  void restore_erase(const std::string& resource, const std::string& name, std::uint64_t rv);
  void restore_resource_version(std::uint64_t rv);
  // Called once loading is done: watches may start from the loaded resourceVersion.
  void finish_restore() { history_floor_ = rv_; }

 private:
  void commit(Change change);

  std::map<std::string, std::map<std::string, StoredObject>> objects_;
  std::uint64_t rv_ = 0;
  std::deque<Change> history_;
  std::size_t history_limit_;
  std::uint64_t history_floor_ = 0;
  std::map<int, Listener> listeners_;
  int next_listener_ = 1;
  Journal* journal_ = nullptr;
};

}  // namespace ironboot::kube
