#include "kube/store.hpp"

#include <boost/json.hpp>

namespace ironboot::kube {

namespace json = boost::json;

namespace {

std::string meta_string(const json::object& o, const char* key) {
  const auto* m = o.if_contains("metadata");
  if (!m || !m->is_object()) return {};
  const auto* n = m->as_object().if_contains(key);
  return n && n->is_string() ? std::string(n->as_string()) : std::string();
}

}  // namespace

std::string store_key(const std::string& namespace_name, const std::string& name) {
  return namespace_name.empty() ? name : namespace_name + "/" + name;
}

std::string store_key_of(const json::object& object) {
  return store_key(meta_string(object, "namespace"), meta_string(object, "name"));
}

StoredObject Store::find(const std::string& resource, const std::string& name) const {
  auto r = objects_.find(resource);
  if (r == objects_.end()) return {};
  auto it = r->second.find(name);
  return it == r->second.end() ? StoredObject{} : it->second;
}

ObjectPtr Store::get(const std::string& resource, const std::string& name) const { return find(resource, name).object; }

const std::map<std::string, StoredObject>& Store::objects(const std::string& resource) const {
  static const std::map<std::string, StoredObject> empty;
  auto r = objects_.find(resource);
  return r == objects_.end() ? empty : r->second;
}

std::size_t Store::size() const {
  std::size_t n = 0;
  for (const auto& [r, m] : objects_) n += m.size();
  return n;
}

StoredObject Store::put(const std::string& resource, json::object object) {
  const std::uint64_t rv = rv_ + 1;
  object["metadata"].as_object()["resourceVersion"] = std::to_string(rv);
  Change change;
  change.resource = resource;
  change.name = store_key_of(object);
  change.rv = rv;
  auto& slot = objects_[resource][change.name];
  change.previous = slot.object;
  change.type = slot.object ? ChangeType::Modified : ChangeType::Added;
  change.json = std::make_shared<const std::string>(json::serialize(object));
  change.object = std::make_shared<const json::object>(std::move(object));
  slot = StoredObject{change.object, change.json};
  StoredObject result = slot;
  commit(std::move(change));
  return result;
}

StoredObject Store::erase(const std::string& resource, const std::string& name) {
  auto& m = objects_[resource];
  auto it = m.find(name);
  if (it == m.end()) return {};
  const std::uint64_t rv = rv_ + 1;
  json::object last = *it->second.object;
  last["metadata"].as_object()["resourceVersion"] = std::to_string(rv);
  Change change;
  change.type = ChangeType::Deleted;
  change.resource = resource;
  change.name = name;
  change.previous = it->second.object;
  change.json = std::make_shared<const std::string>(json::serialize(last));
  change.object = std::make_shared<const json::object>(std::move(last));
  change.rv = rv;
  m.erase(it);
  StoredObject result{change.object, change.json};
  commit(std::move(change));
  return result;
}

void Store::commit(Change change) {
  rv_ = change.rv;
  if (journal_) journal_->record(change);
  history_.push_back(change);
  while (history_.size() > history_limit_) {
    history_floor_ = history_.front().rv;
    history_.pop_front();
  }
  // Copy: a listener may remove itself.
  auto listeners = listeners_;
  for (auto& [id, l] : listeners) l(history_.back());
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
  object["metadata"].as_object()["resourceVersion"] = std::to_string(rv);
  const std::string name = store_key_of(object);
  auto text = std::make_shared<const std::string>(json::serialize(object));
  objects_[resource][name] = StoredObject{std::make_shared<const json::object>(std::move(object)), std::move(text)};
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
