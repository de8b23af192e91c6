#include "kube/informer.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <random>

#include "common/log.hpp"

namespace ironboot::kube {

namespace json = boost::json;

struct Informer::State {
  explicit State(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
  bool alive = true;
};

namespace {

std::string meta_string(const json::object& o, const char* key) {
  const auto* m = o.if_contains("metadata");
  const auto* v = m && m->is_object() ? m->as_object().if_contains(key) : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The cache key: "namespace/name" for a namespaced object, the name for a cluster-scoped one.
std::string key_of(const json::object& o) {
  std::string ns = meta_string(o, "namespace");
  return ns.empty() ? meta_string(o, "name") : ns + "/" + meta_string(o, "name");
}

}  // namespace

Informer::Informer(boost::asio::io_context& io, KubeClient& client, std::string resource)
    : Informer(io, client, ResourcePath::metal(std::move(resource))) {}

Informer::Informer(boost::asio::io_context& io, KubeClient& client, ResourcePath path)
    : io_(io), client_(client), resource_(path.resource), path_(std::move(path)), state_(std::make_shared<State>(io)) {}

Informer::~Informer() { stop(); }

void Informer::start() {
  if (running_) return;
  running_ = true;
  relist();
}

void Informer::stop() {
  running_ = false;
  state_->alive = false;
  state_->timer.cancel();
  if (stream_) stream_->cancel();
  stream_.reset();
  state_ = std::make_shared<State>(io_);
}

ObjectPtr Informer::parsed(const std::string& name, std::string_view text) const {
  auto held = parsed_.find(name);
  if (held != parsed_.end()) return held->second;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  // The text was serialized here from an object: it always parses to one.
  return std::make_shared<const json::object>(!ec && v.is_object() ? std::move(v.as_object()) : json::object{});
}

Informer::SharedText Informer::text_of(const std::string& name, const json::object& object,
                                       std::string_view received) const {
  // The text as received parses to the same object: no second serialization.
  std::string text = received.empty() ? json::serialize(object) : std::string(received);
  if (text_source_) {
    SharedText held = text_source_(resource_, name);
    if (held && *held == text) return held;
  }
  struct Owned {
    std::string text;
    std::string_view view;
  };
  text.shrink_to_fit();
  auto owned = std::make_shared<Owned>();
  owned->text = std::move(text);
  owned->view = owned->text;
  return SharedText(owned, &owned->view);
}

void Informer::forget_parsed(const std::string& name) {
  parsed_.erase(name);
  if (parsed_.size() > kParsedHeld) parsed_.clear();
}

ObjectPtr Informer::get(const std::string& name) const {
  auto it = items_.find(name);
  if (it == items_.end()) return nullptr;
  ObjectPtr tree = parsed(name, *it->second.text);
  parsed_.emplace(name, tree);
  return tree;
}

void Informer::for_each(const Visitor& fn, const Wanted& wanted) const {
  for (const auto& [name, item] : items_)
    if (!wanted || wanted(name, item.rv)) fn(name, parsed(name, *item.text));
}

std::vector<ObjectPtr> Informer::objects() const {
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& entry : items_) out.push_back(get(entry.first));
  return out;
}

void Informer::notify(const ObjectPtr& old, const ObjectPtr& now) {
  for (auto& h : handlers_) h(old, now);
}

void Informer::relist() {
  ++relists_;
  list_page("", std::make_shared<std::map<std::string, Item>>());
}

void Informer::list_page(std::string continue_token, std::shared_ptr<std::map<std::string, Item>> acc) {
  ListOptions opts;
  opts.continue_token = std::move(continue_token);
  std::weak_ptr<State> weak = state_;
  client_.list(path_, opts, [this, weak, acc](ApiReply r) {
    auto s = weak.lock();
    if (!s || !s->alive) return;
    if (!r.ok() || !r.object()) {
      logger("kube")->warn("list failed resource={} status={} error=\"{}\"", resource_, r.status, r.message);
      // An expired continue token means starting over, which retry(true) does.
      retry(true);
      return;
    }
    const auto& body = *r.object();
    if (const auto* items = body.if_contains("items"); items && items->is_array()) {
      for (const auto& item : items->as_array()) {
        if (!item.is_object()) continue;
        json::object o = item.as_object();
        // List items carry no kind; fill it like client-go does for typed caches.
        if (const auto* kind = body.if_contains("kind"); kind && kind->is_string() && !o.contains("kind")) {
          std::string k(kind->as_string());
          if (k.size() > 4 && k.compare(k.size() - 4, 4, "List") == 0) o["kind"] = k.substr(0, k.size() - 4);
          if (const auto* av = body.if_contains("apiVersion")) o["apiVersion"] = *av;
        }
        const std::string name = key_of(o);
        (*acc)[name] = Item{text_of(name, o), meta_string(o, "resourceVersion")};
      }
    }
    const auto* meta = body.if_contains("metadata");
    std::string cont = meta && meta->is_object() && meta->as_object().contains("continue") &&
                               meta->as_object().at("continue").is_string()
                           ? std::string(meta->as_object().at("continue").as_string())
                           : std::string();
    if (!cont.empty()) {
      list_page(std::move(cont), acc);
      return;
    }
    std::string rv = meta && meta->is_object() && meta->as_object().contains("resourceVersion")
                         ? std::string(meta->as_object().at("resourceVersion").as_string())
                         : std::string();
    replace(std::move(*acc), std::move(rv));
    watch();
  });
}

void Informer::replace(std::map<std::string, Item> fresh, std::string rv) {
  auto old = std::move(items_);
  auto old_parsed = std::move(parsed_);
  parsed_.clear();
  items_ = std::move(fresh);
  rv_ = std::move(rv);
  auto tree = [&](const std::string& name, std::string_view text) {
    auto held = old_parsed.find(name);
    return held != old_parsed.end() ? held->second : parsed(name, text);
  };
  for (const auto& [name, item] : old)
    if (!items_.count(name)) notify(tree(name, *item.text), nullptr);
  for (const auto& [name, item] : items_) {
    auto it = old.find(name);
    if (it == old.end()) {
      notify(nullptr, parsed(name, *item.text));
    } else if (*it->second.text != *item.text) {
      // Same text is the same object (both serialized here); different text may still be.
      ObjectPtr before = tree(name, *it->second.text), after = parsed(name, *item.text);
      if (*before != *after) notify(before, after);
    }
  }
  if (!synced_) logger("kube")->info("informer synced resource={} objects={} resource_version={}", resource_, items_.size(), rv_);
  synced_ = true;
}

void Informer::watch() {
  ++watches_;
  WatchOptions opts;
  opts.resource_version = rv_;
  opts.timeout = watch_timeout;
  std::weak_ptr<State> weak = state_;
  need_relist_ = false;
  stream_ = client_.watch(
      path_, opts,
      [this, weak](WatchEvent e) {
        auto s = weak.lock();
        if (s && s->alive) on_event(std::move(e));
      },
      [this, weak](ApiReply end) {
        auto s = weak.lock();
        if (!s || !s->alive) return;
        stream_.reset();
        if (need_relist_ || end.status == 410) {
          logger("kube")->info("watch expired resource={} resource_version={}: relisting", resource_, rv_);
          backoff_ = std::chrono::milliseconds(0);
          relist();
          return;
        }
        if (end.status == 200) {
          backoff_ = std::chrono::milliseconds(0);
          watch();  // ended normally (timeout): resume from the last resourceVersion
          return;
        }
        logger("kube")->warn("watch failed resource={} status={} error=\"{}\"", resource_, end.status, end.message);
        retry(false);
      });
}

void Informer::on_event(WatchEvent e) {
  backoff_ = std::chrono::milliseconds(0);
  if (e.type == "ERROR") {
    const auto* code = e.object.if_contains("code");
    if (code && code->is_number() && code->to_number<int>() == 410) {
      need_relist_ = true;
    }
    logger("kube")->info("watch error event resource={} message=\"{}\"", resource_,
                         e.object.contains("message") ? json::serialize(e.object.at("message")) : "");
    if (stream_) stream_->cancel();
    stream_.reset();
    // cancel() suppresses the end callback: continue here.
    if (need_relist_) relist();
    else retry(false);
    return;
  }
  const std::string rv = meta_string(e.object, "resourceVersion");
  if (!rv.empty()) rv_ = rv;
  if (e.type == "BOOKMARK") return;
  const std::string name = key_of(e.object);
  if (e.type == "DELETED") {
    auto it = items_.find(name);
    if (it == items_.end()) return;
    ObjectPtr old = parsed(name, *it->second.text);
    items_.erase(it);
    forget_parsed(name);
    notify(old, nullptr);
    return;
  }
  auto it = items_.find(name);
  ObjectPtr old = it == items_.end() ? nullptr : parsed(name, *it->second.text);
  Item item{text_of(name, e.object, e.object_text), rv};
  auto obj = std::make_shared<const json::object>(std::move(e.object));
  items_[name] = std::move(item);
  forget_parsed(name);
  // The tree just received is the one the handlers (and the next get) read.
  parsed_.emplace(name, obj);
  notify(old, obj);
}

void Informer::retry(bool relist_next) {
  static std::mt19937 rng{std::random_device{}()};
  backoff_ = backoff_.count() == 0 ? min_backoff : std::min(max_backoff, backoff_ * 2);
  // Full jitter in [backoff/2, backoff]: many appliances must not retry in lockstep.
  std::uniform_int_distribution<long> jitter(backoff_.count() / 2, backoff_.count());
  state_->timer.expires_after(std::chrono::milliseconds(jitter(rng)));
  std::weak_ptr<State> weak = state_;
  state_->timer.async_wait([this, weak, relist_next](const boost::system::error_code& ec) {
    auto s = weak.lock();
    if (ec || !s || !s->alive) return;
    if (relist_next || rv_.empty()) relist();
    else watch();
  });
}

}  // namespace ironboot::kube
