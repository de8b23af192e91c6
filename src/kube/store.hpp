// The embedded API's object store: every object of every resource in memory, one
// resourceVersion counter, a bounded change history for watches, and a Journal that
// makes each change durable. Single-threaded (the io_context thread). No I/O here.
//
// An object is kept as its JSON text (what responses, lists, watch events and the log send)
// plus a small index of what selection needs without the tree: resourceVersion, labels, the
// values of its type's extra field-selector labels and, for Events, when they were last seen.
// A boost::json tree of a 4.7 KB Server takes about 13 KB in 290 allocations; the paths that
// need one (updates, patches, Tables, conversions) parse the text when they run.
// Text, store key and index are one allocation (StoredObject), and the resource's set holds
// only a pointer to it: with 50,000 Events the separate index, key, map node and holder took
// about as much as the texts themselves.
#pragma once

#include <boost/json/object.hpp>
#include <boost/smart_ptr/intrusive_ptr.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ironboot::kube {

using ObjectPtr = std::shared_ptr<const boost::json::object>;

// What the Indexer adds to a version's index besides resourceVersion and labels.
struct ObjectIndex {
  // The values of the field labels the Indexer was asked for, each followed by '\0'.
  std::string fields;
  std::optional<std::chrono::system_clock::time_point> last_seen;  // Events only
};

class StoredObject;
using StoredPtr = boost::intrusive_ptr<const StoredObject>;

// One stored version: its text (metadata.resourceVersion included), its store key and its
// index, in one immutable allocation shared by the store, the history, watch catch-ups, a
// compaction snapshot on the log's thread (so the count is atomic) and the informers.
class StoredObject {
 public:
  // `labels`: metadata.labels with string values, each key and value followed by '\0'.
  static StoredPtr make(std::string_view key, std::string_view json, std::uint64_t rv, std::string_view labels,
                        const ObjectIndex& index);
  StoredObject(const StoredObject&) = delete;
  StoredObject& operator=(const StoredObject&) = delete;

  std::string_view json() const { return {data(), json_size_}; }
  std::string_view key() const { return {data() + json_size_, key_size_}; }
  std::uint64_t rv() const { return rv_; }
  // The value of label `name` (nullopt when the object has no such label).
  std::optional<std::string_view> label(std::string_view name) const;
  // The i-th value of the index's fields ("" past the end).
  std::string_view field(std::size_t i) const;
  std::optional<std::chrono::system_clock::time_point> last_seen() const;
  // The tree, parsed from the text.
  boost::json::object parse() const;
  // How many pointers hold this version (for tests).
  std::uint32_t owners() const { return refs_.load(std::memory_order_relaxed); }

 private:
  StoredObject() = default;
  ~StoredObject() = default;
  const char* data() const { return reinterpret_cast<const char*>(this + 1); }
  std::string_view labels() const { return {data() + json_size_ + key_size_, labels_size_}; }
  std::string_view fields() const { return {data() + json_size_ + key_size_ + labels_size_, fields_size_}; }
  friend void intrusive_ptr_add_ref(const StoredObject* p) noexcept { p->refs_.fetch_add(1, std::memory_order_relaxed); }
  friend void intrusive_ptr_release(const StoredObject* p) noexcept;

  mutable std::atomic<std::uint32_t> refs_{0};
  std::uint32_t json_size_ = 0;
  std::uint32_t key_size_ = 0;
  std::uint32_t labels_size_ = 0;
  std::uint32_t fields_size_ = 0;
  bool has_last_seen_ = false;
  std::uint64_t rv_ = 0;
  std::chrono::system_clock::duration::rep last_seen_ = 0;
};

// The text of `stored` under a shared_ptr that keeps the version alive (the informers hold
// texts that way, their own or the store's).
std::shared_ptr<const std::string_view> shared_json(StoredPtr stored);

// A resource's objects, ordered by store key; lookups take the key itself.
struct StoreKeyLess {
  using is_transparent = void;
  bool operator()(const StoredPtr& a, const StoredPtr& b) const { return a->key() < b->key(); }
  bool operator()(const StoredPtr& a, std::string_view b) const { return a->key() < b; }
  bool operator()(std::string_view a, const StoredPtr& b) const { return a < b->key(); }
};
using ObjectSet = std::set<StoredPtr, StoreKeyLess>;

enum class ChangeType { Added, Modified, Deleted };

struct Change {
  ChangeType type = ChangeType::Added;
  std::string resource;  // plural, e.g. "servers"
  std::string name;      // the store key: "name", or "namespace/name" for namespaced objects
  StoredPtr object;      // the new version (for Deleted: the last state, with the deleting RV)
  StoredPtr previous;    // the version it replaced; null for Added
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
// The namespace part of a store key ("" for a cluster-scoped object).
std::string_view namespace_of_key(std::string_view key);

class Store {
 public:
  using Listener = std::function<void(const Change&)>;
  // Fills the type-specific part of an object's index (fields, last_seen); rv and labels are
  // set by the store.
  using Indexer = std::function<void(const std::string& resource, const boost::json::object& object, ObjectIndex& index)>;

  // The history keeps at most `history_limit` changes and about `history_bytes` of the text
  // of versions no longer current (a watcher further behind relists: 410). 8 MiB is some
  // 1,700 replaced Servers: watchers that keep up never need more, and 32 MiB was a fifth of
  // the daemon's memory with 10,000 Servers. Each change kept costs 32 bytes besides texts.
  explicit Store(std::size_t history_limit = 10000, std::size_t history_bytes = 8u << 20)
      : history_limit_(history_limit), history_bytes_limit_(history_bytes) {}

  void set_indexer(Indexer indexer) { indexer_ = std::move(indexer); }

  std::uint64_t resource_version() const { return rv_; }
  // By store key (store_key()): the tree, parsed from the text (null when absent).
  ObjectPtr get(const std::string& resource, const std::string& key) const;
  // Null when there is no such object.
  StoredPtr find(const std::string& resource, const std::string& key) const;
  bool contains(const std::string& resource, const std::string& key) const { return find(resource, key) != nullptr; }
  // Sorted by store key. An unknown resource is an empty set.
  const ObjectSet& objects(const std::string& resource) const;
  std::size_t size() const;

  // Commits a create or update: assigns the next resourceVersion (also written into
  // metadata.resourceVersion), journals it, keeps it in the history and notifies listeners.
  StoredPtr put(const std::string& resource, boost::json::object object);
  // Removes an object (by store key); returns its last state stamped with the deleting
  // resourceVersion (null when there was none).
  StoredPtr erase(const std::string& resource, const std::string& key);

  // Changes with rv > since, oldest first. False when `since` is older than the history.
  bool changes_since(std::uint64_t since, std::vector<Change>& out) const;
  std::uint64_t history_floor() const { return history_floor_; }

  int add_listener(Listener listener);
  void remove_listener(int id);
  // With a journal, every change is also kept in an undo list until mark_durable() covers it.
  void set_journal(Journal* journal) { journal_ = journal; }

  // Every change up to `rv` is in the durable log: it can no longer be rolled back.
  void mark_durable(std::uint64_t rv);
  // Undoes every change after `rv` that was not marked durable, newest first: the objects
  // return to their earlier versions, the changes leave the history, listeners hear nothing
  // (they were never published). The counter does not go back: a resourceVersion is never
  // reused. Returns how many changes were undone.
  std::size_t roll_back_to(std::uint64_t rv);

  // Loading from the log: no journal, no history, no listeners.
  void restore_put(const std::string& resource, boost::json::object object, std::uint64_t rv);
  void restore_erase(const std::string& resource, const std::string& name, std::uint64_t rv);
  void restore_resource_version(std::uint64_t rv);
  // Called once loading is done: watches may start from the loaded resourceVersion.
  void finish_restore() { history_floor_ = rv_; }

 private:
  // What the history keeps of a change (the rest is in the versions).
  struct Entry {
    StoredPtr object;
    StoredPtr previous;
    const std::string* resource;  // the key of objects_
    ChangeType type;
  };
  StoredPtr make_stored(const std::string& resource, boost::json::object& object, std::uint64_t rv) const;
  // The resource's set, created on first use; `name` is its key (stable).
  ObjectSet& objects_of(const std::string& resource, const std::string** name = nullptr);
  // Puts `stored` in place of the object with its key (or adds it); returns the one replaced.
  static StoredPtr replace(ObjectSet& set, StoredPtr stored);
  void commit(const std::string& resource, ChangeType type, StoredPtr object, StoredPtr previous);
  // Text only the history holds (replaced versions, deletions' last states) of an entry.
  static std::size_t history_only_bytes(const Entry& e);
  void trim_history();

  struct Undo {
    std::uint64_t rv;
    std::string resource;
    std::string key;
    StoredPtr before;  // null: the change created the object
  };
  void remember(std::uint64_t rv, const std::string& resource, const std::string& key, StoredPtr before);

  std::map<std::string, ObjectSet> objects_;
  std::deque<Undo> undo_;
  std::uint64_t rv_ = 0;
  std::deque<Entry> history_;
  std::size_t history_limit_;
  std::size_t history_bytes_limit_;
  // Text held only by the history (versions replaced or deleted since).
  std::size_t history_bytes_ = 0;
  std::uint64_t history_floor_ = 0;
  std::map<int, Listener> listeners_;
  int next_listener_ = 1;
  Journal* journal_ = nullptr;
  Indexer indexer_;
};

}  // namespace ironboot::kube
