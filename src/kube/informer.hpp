// A cache of one resource kept current by list + watch, with add/update/delete handlers
// and a synced flag. The hot paths read it; they never wait on the API.
// Watch handling: bookmarks advance the resourceVersion; "too old" (HTTP 410 or an ERROR
// event with code 410) relists and replaces the cache; a stream that ends is resumed from
// the last resourceVersion; errors back off exponentially with jitter.
// The cache keeps each object's JSON text, not its tree (a tree is about three times the
// text: 10,000 Servers with hardware facts would take some 130 MB). get() parses on demand
// and keeps what it parsed until that object changes, at most kParsedHeld trees (more are
// dropped at the next change); for_each() parses one at a time. A boot storm changes some
// Server every few milliseconds while its agents' requests read their own: dropping every
// tree at each change re-parsed each one per request.
// With a TextSource (the embedded store, in the same process) a received version whose text
// equals the one the source holds keeps the source's string instead of a second copy.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.hpp"
#include "kube/store.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::kube {

class Informer {
 public:
  // old is null for an add; now is null for a delete.
  using Handler = std::function<void(const ObjectPtr& old, const ObjectPtr& now)>;

  Informer(boost::asio::io_context& io, KubeClient& client, std::string resource);
  // Any group/version (e.g. metal3.io/v1alpha1 baremetalhosts). A path without a namespace of
  // a namespaced type lists and watches every namespace; its objects are keyed
  // "namespace/name" (get(), for_each()), as client-go's cache keys them.
  Informer(boost::asio::io_context& io, KubeClient& client, ResourcePath path);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // The text a source already holds for `name` of `resource`, or null.
  using SharedText = std::shared_ptr<const std::string_view>;
  using TextSource = std::function<SharedText(const std::string& resource, const std::string& name)>;

  void add_handler(Handler handler) { handlers_.push_back(std::move(handler)); }
  void set_text_source(TextSource source) { text_source_ = std::move(source); }
  void start();
  void stop();

  bool synced() const { return synced_; }
  const std::string& resource() const { return resource_; }
  // The cached object, or null. The tree stays alive (the pointer held here too) until the
  // cache next changes, so a raw pointer into it is valid that long.
  static constexpr std::size_t kParsedHeld = 512;
  ObjectPtr get(const std::string& name) const;
  std::size_t size() const { return items_.size(); }
  // Every cached object in name order; each tree is parsed for the call and dropped after it
  // unless get() holds it. For large caches (Servers) that are walked whole. With `wanted`,
  // only the objects it accepts (by name and metadata.resourceVersion) are parsed and passed.
  using Visitor = std::function<void(const std::string& name, const ObjectPtr& object)>;
  using Wanted = std::function<bool(const std::string& name, const std::string& resource_version)>;
  void for_each(const Visitor& fn, const Wanted& wanted = {}) const;
  // Every cached object in name order, parsed and held like get()'s: for small caches
  // (ServerClasses, Environments) read whole on hot paths.
  std::vector<ObjectPtr> objects() const;
  const std::string& resource_version() const { return rv_; }
  // Counters for tests and metrics.
  std::uint64_t relists() const { return relists_; }
  std::uint64_t watches() const { return watches_; }

  // Backoff bounds (tests shorten them).
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::seconds watch_timeout{300};

 private:
  struct State;
  struct Item {
    SharedText text;   // the object's JSON (never null)
    std::string rv;    // its metadata.resourceVersion
  };

  void relist();
  void list_page(std::string continue_token, std::shared_ptr<std::map<std::string, Item>> acc);
  void replace(std::map<std::string, Item> fresh, std::string rv);
  void watch();
  void on_event(WatchEvent event);
  void retry(bool relist_next);
  void notify(const ObjectPtr& old, const ObjectPtr& now);
  ObjectPtr parsed(const std::string& name, std::string_view text) const;
  // `name` changed: its tree goes, and every tree when more than kParsedHeld are held.
  void forget_parsed(const std::string& name);
  // The object's text: the source's when it is the same, else a copy of `received` (the
  // text it came in, when known) or of its serialization.
  SharedText text_of(const std::string& name, const boost::json::object& object, std::string_view received = {}) const;

  boost::asio::io_context& io_;
  KubeClient& client_;
  std::string resource_;
  ResourcePath path_;
  std::map<std::string, Item> items_;
  // Trees handed out since the cache last changed (see get()).
  mutable std::map<std::string, ObjectPtr> parsed_;
  std::vector<Handler> handlers_;
  TextSource text_source_;
  std::string rv_;
  bool synced_ = false;
  bool running_ = false;
  bool need_relist_ = false;
  std::chrono::milliseconds backoff_{0};
  std::shared_ptr<StreamHandle> stream_;
  std::shared_ptr<State> state_;  // timer + liveness token for callbacks
  std::uint64_t relists_ = 0;
  std::uint64_t watches_ = 0;
};

}  // namespace ironboot::kube
