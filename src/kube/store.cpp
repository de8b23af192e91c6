#include "kube/store.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cstring>
#include <new>

namespace ironboot::kube {

namespace json = boost::json;

namespace {

std::string meta_string(const json::object& o, const char* key) {
  const auto* m = o.if_contains("metadata");
  if (!m || !m->is_object()) return {};
  const auto* n = m->as_object().if_contains(key);
  return n && n->is_string() ? std::string(n->as_string()) : std::string();
}

void set_resource_version(json::object& object, std::uint64_t rv) {
  auto& meta = object["metadata"];
  if (!meta.is_object()) meta = json::object{};
  meta.as_object()["resourceVersion"] = std::to_string(rv);
}

// The i-th of the '\0'-terminated values in `list` ("" past the end).
std::string_view nth_value(std::string_view list, std::size_t i) {
  std::size_t pos = 0;
  for (; i > 0; --i) {
    const auto end = list.find('\0', pos);
    if (end == std::string_view::npos) return {};
    pos = end + 1;
  }
  const auto end = list.find('\0', pos);
  return end == std::string_view::npos ? std::string_view{} : list.substr(pos, end - pos);
}

// Serializes into a buffer kept between calls: the store's texts are allocated once at their
// final size, with no growing buffer freed between them.
std::string_view serialize_to_scratch(const json::object& object, std::string& scratch) {
  scratch.clear();
  json::serializer sr;
  sr.reset(&object);
  char buf[4096];
  while (!sr.done()) scratch.append(sr.read(buf));
  return scratch;
}

}  // namespace

StoredPtr StoredObject::make(std::string_view key, std::string_view json, std::uint64_t rv, std::string_view labels,
                             const ObjectIndex& index) {
  const std::size_t tail = json.size() + key.size() + labels.size() + index.fields.size();
  void* block = ::operator new(sizeof(StoredObject) + tail);
  auto* o = new (block) StoredObject();
  o->json_size_ = static_cast<std::uint32_t>(json.size());
  o->key_size_ = static_cast<std::uint32_t>(key.size());
  o->labels_size_ = static_cast<std::uint32_t>(labels.size());
  o->fields_size_ = static_cast<std::uint32_t>(index.fields.size());
  o->rv_ = rv;
  o->has_last_seen_ = index.last_seen.has_value();
  if (index.last_seen) o->last_seen_ = index.last_seen->time_since_epoch().count();
  char* out = reinterpret_cast<char*>(o + 1);
  for (std::string_view part : {json, key, labels, std::string_view(index.fields)}) {
    if (!part.empty()) std::memcpy(out, part.data(), part.size());
    out += part.size();
  }
  return StoredPtr(o);
}

void intrusive_ptr_release(const StoredObject* p) noexcept {
  if (p->refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  p->~StoredObject();
  ::operator delete(const_cast<StoredObject*>(p));
}

std::optional<std::string_view> StoredObject::label(std::string_view name) const {
  const std::string_view all = labels();
  for (std::size_t pos = 0; pos < all.size();) {
    const auto key_end = all.find('\0', pos);
    const auto value_end = all.find('\0', key_end + 1);
    if (all.substr(pos, key_end - pos) == name) return all.substr(key_end + 1, value_end - key_end - 1);
    pos = value_end + 1;
  }
  return std::nullopt;
}

std::string_view StoredObject::field(std::size_t i) const { return nth_value(fields(), i); }

std::optional<std::chrono::system_clock::time_point> StoredObject::last_seen() const {
  if (!has_last_seen_) return std::nullopt;
  return std::chrono::system_clock::time_point(std::chrono::system_clock::duration(last_seen_));
}

std::shared_ptr<const std::string_view> shared_json(StoredPtr stored) {
  struct Held {
    StoredPtr stored;
    std::string_view text;
  };
  const std::string_view text = stored->json();
  auto held = std::make_shared<const Held>(Held{std::move(stored), text});
  return std::shared_ptr<const std::string_view>(held, &held->text);
}

json::object StoredObject::parse() const {
  boost::system::error_code ec;
  json::value v = json::parse(json(), ec);
  // The text was serialized from an object by the store: it always parses to one.
  return !ec && v.is_object() ? std::move(v.as_object()) : json::object{};
}

std::string store_key(const std::string& namespace_name, const std::string& name) {
  return namespace_name.empty() ? name : namespace_name + "/" + name;
}

std::string store_key_of(const json::object& object) {
  return store_key(meta_string(object, "namespace"), meta_string(object, "name"));
}

std::string_view namespace_of_key(std::string_view key) {
  const auto slash = key.find('/');
  return slash == std::string_view::npos ? std::string_view{} : key.substr(0, slash);
}

StoredPtr Store::make_stored(const std::string& resource, json::object& object, std::uint64_t rv) const {
  set_resource_version(object, rv);
  std::string labels;
  if (const auto* m = object.if_contains("metadata"); m && m->is_object()) {
    if (const auto* l = m->as_object().if_contains("labels"); l && l->is_object()) {
      // A label is there when it has a string value (the API only stores strings).
      for (const auto& kv : l->as_object()) {
        if (!kv.value().is_string()) continue;
        labels.append(kv.key()).push_back('\0');
        labels.append(kv.value().get_string()).push_back('\0');
      }
    }
  }
  ObjectIndex index;
  if (indexer_) indexer_(resource, object, index);
  thread_local std::string scratch;
  const std::string_view text = serialize_to_scratch(object, scratch);
  StoredPtr stored = StoredObject::make(store_key_of(object), text, rv, labels, index);
  if (scratch.capacity() > (1u << 20)) std::string().swap(scratch);  // keep no huge buffer
  return stored;
}

ObjectSet& Store::objects_of(const std::string& resource, const std::string** name) {
  auto it = objects_.try_emplace(resource).first;
  if (name) *name = &it->first;
  return it->second;
}

StoredPtr Store::replace(ObjectSet& set, StoredPtr stored) {
  auto it = set.find(stored->key());
  if (it == set.end()) {
    set.insert(std::move(stored));
    return nullptr;
  }
  // The node is reused: same key, so the same place in the order.
  auto node = set.extract(it);
  StoredPtr before = std::move(node.value());
  node.value() = std::move(stored);
  set.insert(std::move(node));
  return before;
}

StoredPtr Store::find(const std::string& resource, const std::string& key) const {
  auto r = objects_.find(resource);
  if (r == objects_.end()) return {};
  auto it = r->second.find(std::string_view(key));
  return it == r->second.end() ? nullptr : *it;
}

ObjectPtr Store::get(const std::string& resource, const std::string& key) const {
  const StoredPtr stored = find(resource, key);
  return stored ? std::make_shared<const json::object>(stored->parse()) : nullptr;
}

const ObjectSet& Store::objects(const std::string& resource) const {
  static const ObjectSet empty;
  auto r = objects_.find(resource);
  return r == objects_.end() ? empty : r->second;
}

std::size_t Store::size() const {
  std::size_t n = 0;
  for (const auto& [r, m] : objects_) n += m.size();
  return n;
}

StoredPtr Store::put(const std::string& resource, json::object object) {
  const std::uint64_t rv = rv_ + 1;
  StoredPtr stored = make_stored(resource, object, rv);
  StoredPtr previous = replace(objects_of(resource), stored);
  remember(rv, resource, std::string(stored->key()), previous);
  commit(resource, previous ? ChangeType::Modified : ChangeType::Added, stored, std::move(previous));
  return stored;
}

StoredPtr Store::erase(const std::string& resource, const std::string& key) {
  auto& set = objects_of(resource);
  auto it = set.find(std::string_view(key));
  if (it == set.end()) return {};
  const std::uint64_t rv = rv_ + 1;
  StoredPtr previous = *it;
  set.erase(it);
  remember(rv, resource, key, previous);
  json::object last = previous->parse();
  StoredPtr gone = make_stored(resource, last, rv);
  commit(resource, ChangeType::Deleted, gone, std::move(previous));
  return gone;
}

std::size_t Store::history_only_bytes(const Entry& e) {
  std::size_t n = e.previous ? e.previous->json().size() : 0;
  if (e.type == ChangeType::Deleted) n += e.object->json().size();
  return n;
}

void Store::trim_history() {
  while (!history_.empty() && (history_.size() > history_limit_ || history_bytes_ > history_bytes_limit_)) {
    const Entry& front = history_.front();
    history_bytes_ -= std::min(history_bytes_, history_only_bytes(front));
    history_floor_ = front.object->rv();
    history_.pop_front();
  }
}

void Store::commit(const std::string& resource, ChangeType type, StoredPtr object, StoredPtr previous) {
  rv_ = object->rv();
  Change change{type, resource, std::string(object->key()), object, previous, rv_};
  if (journal_) journal_->record(change);
  const std::string* interned = nullptr;
  objects_of(resource, &interned);
  history_.push_back(Entry{std::move(object), std::move(previous), interned, type});
  history_bytes_ += history_only_bytes(history_.back());
  trim_history();
  // Copy: a listener may remove itself.
  auto listeners = listeners_;
  for (auto& [id, l] : listeners) l(change);
}

void Store::remember(std::uint64_t rv, const std::string& resource, const std::string& key, StoredPtr before) {
  if (journal_) undo_.push_back(Undo{rv, resource, key, std::move(before)});
}

void Store::mark_durable(std::uint64_t rv) {
  while (!undo_.empty() && undo_.front().rv <= rv) undo_.pop_front();
}

std::size_t Store::roll_back_to(std::uint64_t rv) {
  std::size_t undone = 0;
  while (!undo_.empty() && undo_.back().rv > rv) {
    Undo u = std::move(undo_.back());
    undo_.pop_back();
    auto& set = objects_of(u.resource);
    if (!history_.empty() && history_.back().object->rv() == u.rv) {
      history_bytes_ -= std::min(history_bytes_, history_only_bytes(history_.back()));
      history_.pop_back();
    }
    if (u.before) {
      replace(set, std::move(u.before));
    } else if (auto it = set.find(std::string_view(u.key)); it != set.end()) {
      set.erase(it);
    }
    ++undone;
  }
  return undone;
}

bool Store::changes_since(std::uint64_t since, std::vector<Change>& out) const {
  if (since < history_floor_) return false;
  // Entries are in rv order: skip to the first one after `since`.
  auto it = std::partition_point(history_.begin(), history_.end(),
                                 [since](const Entry& e) { return e.object->rv() <= since; });
  for (; it != history_.end(); ++it)
    out.push_back(Change{it->type, *it->resource, std::string(it->object->key()), it->object, it->previous, it->object->rv()});
  return true;
}

int Store::add_listener(Listener listener) {
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void Store::remove_listener(int id) { listeners_.erase(id); }

void Store::restore_put(const std::string& resource, json::object object, std::uint64_t rv) {
  replace(objects_of(resource), make_stored(resource, object, rv));
  if (rv > rv_) rv_ = rv;
}

void Store::restore_erase(const std::string& resource, const std::string& name, std::uint64_t rv) {
  auto& set = objects_of(resource);
  if (auto it = set.find(std::string_view(name)); it != set.end()) set.erase(it);
  if (rv > rv_) rv_ = rv;
}

void Store::restore_resource_version(std::uint64_t rv) {
  if (rv > rv_) rv_ = rv;
}

}  // namespace ironboot::kube
