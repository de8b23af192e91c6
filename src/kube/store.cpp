#include "kube/store.hpp"

#include <boost/json.hpp>

#include <algorithm>

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

}  // namespace

std::string_view ObjectIndex::field(std::size_t i) const {
  std::size_t pos = 0;
  for (; i > 0; --i) {
    const auto end = fields.find('\0', pos);
    if (end == std::string::npos) return {};
    pos = end + 1;
  }
  const auto end = fields.find('\0', pos);
  if (end == std::string::npos) return {};
  return std::string_view(fields).substr(pos, end - pos);
}

json::object StoredObject::parse() const {
  boost::system::error_code ec;
  json::value v = json::parse(json, ec);
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
  auto index = std::make_shared<ObjectIndex>();
  index->rv = rv;
  if (const auto* m = object.if_contains("metadata"); m && m->is_object()) {
    if (const auto* l = m->as_object().if_contains("labels"); l && l->is_object()) index->labels = l->as_object();
  }
  if (indexer_) indexer_(resource, object, *index);
  auto stored = std::make_shared<StoredObject>();
  stored->json = json::serialize(object);
  stored->json.shrink_to_fit();  // serialize grows by doubling: up to twice the text otherwise
  stored->index = std::move(index);
  return stored;
}

StoredPtr Store::find(const std::string& resource, const std::string& name) const {
  auto r = objects_.find(resource);
  if (r == objects_.end()) return {};
  auto it = r->second.find(name);
  return it == r->second.end() ? nullptr : it->second;
}

ObjectPtr Store::get(const std::string& resource, const std::string& name) const {
  const StoredPtr stored = find(resource, name);
  return stored ? std::make_shared<const json::object>(stored->parse()) : nullptr;
}

const std::map<std::string, StoredPtr>& Store::objects(const std::string& resource) const {
  static const std::map<std::string, StoredPtr> empty;
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
  Change change;
  change.resource = resource;
  change.name = store_key_of(object);
  change.rv = rv;
  change.object = make_stored(resource, object, rv);
  auto& slot = objects_[resource][change.name];
  change.type = slot ? ChangeType::Modified : ChangeType::Added;
  remember(rv, resource, change.name, slot);
  if (slot) {
    change.previous = slot->index;
    if (slot->index->rv > history_floor_) history_bytes_ += slot->json.size();  // now only the history holds it
  }
  slot = change.object;
  StoredPtr result = slot;
  commit(std::move(change));
  return result;
}

StoredPtr Store::erase(const std::string& resource, const std::string& name) {
  auto& m = objects_[resource];
  auto it = m.find(name);
  if (it == m.end()) return {};
  const std::uint64_t rv = rv_ + 1;
  remember(rv, resource, name, it->second);
  json::object last = it->second->parse();
  Change change;
  change.type = ChangeType::Deleted;
  change.resource = resource;
  change.name = name;
  change.previous = it->second->index;
  if (it->second->index->rv > history_floor_) history_bytes_ += it->second->json.size();
  change.object = make_stored(resource, last, rv);
  history_bytes_ += change.object->json.size();
  change.rv = rv;
  m.erase(it);
  StoredPtr result = change.object;
  commit(std::move(change));
  return result;
}

void Store::trim_history() {
  while (!history_.empty() && (history_.size() > history_limit_ || history_bytes_ > history_bytes_limit_)) {
    const Change& front = history_.front();
    // Its text counted once it stopped being current (replaced, or a deletion's last state).
    if (front.type == ChangeType::Deleted || find(front.resource, front.name) != front.object)
      history_bytes_ -= std::min(history_bytes_, front.object->json.size());
    history_floor_ = front.rv;
    history_.pop_front();
  }
}

void Store::commit(Change change) {
  rv_ = change.rv;
  if (journal_) journal_->record(change);
  history_.push_back(change);
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
    auto& m = objects_[u.resource];
    if (!history_.empty() && history_.back().rv == u.rv) {
      const Change& c = history_.back();
      if (c.type == ChangeType::Deleted) history_bytes_ -= std::min(history_bytes_, c.object->json.size());
      history_.pop_back();
    }
    if (u.before) {
      // Current again: no longer counted as text only the history holds.
      if (u.before->index->rv > history_floor_) history_bytes_ -= std::min(history_bytes_, u.before->json.size());
      m[u.key] = std::move(u.before);
    } else {
      m.erase(u.key);
    }
    ++undone;
  }
  return undone;
}

bool Store::changes_since(std::uint64_t since, std::vector<Change>& out) const {
  if (since < history_floor_) return false;
  for (const auto& c : history_)
    if (c.rv > since) out.push_back(c);
  return true;
}

int Store::add_listener(Listener listener) {
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void Store::remove_listener(int id) { listeners_.erase(id); }

void Store::restore_put(const std::string& resource, json::object object, std::uint64_t rv) {
  const std::string name = store_key_of(object);
  objects_[resource][name] = make_stored(resource, object, rv);
  if (rv > rv_) rv_ = rv;
}

void Store::restore_erase(const std::string& resource, const std::string& name, std::uint64_t rv) {
  objects_[resource].erase(name);
  if (rv > rv_) rv_ = rv;
}

void Store::restore_resource_version(std::uint64_t rv) {
  if (rv > rv_) rv_ = rv;
}

}  // namespace ironboot::kube
