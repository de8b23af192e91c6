#include "kube/store.hpp"

#include <boost/json.hpp>

namespace ironboot::kube {

namespace json = boost::json;

namespace {

std::string name_of(const json::object& o) {
  const auto* m = o.if_contains("metadata");
  if (!m || !m->is_object()) return {};
  const auto* n = m->as_object().if_contains("name");
  return n && n->is_string() ? std::string(n->as_string()) : std::string();
}

}  // namespace

ObjectPtr Store::get(const std::string& resource, const std::string& name) const {
  auto r = objects_.find(resource);
  if (r == objects_.end()) return nullptr;
  auto it = r->second.find(name);
  return it == r->second.end() ? nullptr : it->second;
}

const std::map<std::string, ObjectPtr>& Store::objects(const std::string& resource) const {
  static const std::map<std::string, ObjectPtr> empty;
  auto r = objects_.find(resource);
  return r == objects_.end() ? empty : r->second;
}

std::size_t Store::size() const {
  std::size_t n = 0;
  for (const auto& [r, m] : objects_) n += m.size();
  return n;
}

ObjectPtr Store::put(const std::string& resource, json::object object) {
  const std::uint64_t rv = rv_ + 1;
  object["metadata"].as_object()["resourceVersion"] = std::to_string(rv);
  Change change;
  change.resource = resource;
  change.name = name_of(object);
  change.rv = rv;
  auto& slot = objects_[resource][change.name];
  change.previous = slot;
  change.type = slot ? ChangeType::Modified : ChangeType::Added;
  change.object = std::make_shared<const json::object>(std::move(object));
  slot = change.object;
  commit(std::move(change));
  return slot;
}

ObjectPtr Store::erase(const std::string& resource, const std::string& name) {
  auto& m = objects_[resource];
  auto it = m.find(name);
  if (it == m.end()) return nullptr;
  const std::uint64_t rv = rv_ + 1;
  json::object last = *it->second;
  last["metadata"].as_object()["resourceVersion"] = std::to_string(rv);
  Change change;
  change.type = ChangeType::Deleted;
  change.resource = resource;
  change.name = name;
  change.previous = it->second;
  change.object = std::make_shared<const json::object>(std::move(last));
  change.rv = rv;
  m.erase(it);
  ObjectPtr result = change.object;
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
  const std::string name = name_of(object);
  objects_[resource][name] = std::make_shared<const json::object>(std::move(object));
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
