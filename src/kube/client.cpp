#include "kube/client.hpp"

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "kube/json_ops.hpp"
#include "kube/resource_type.hpp"

namespace ironboot::kube {

namespace json = boost::json;

namespace {

std::string q(const std::string& v) { return boost::urls::encode(v, boost::urls::unreserved_chars); }

std::string name_of(const json::object& o) {
  const auto* m = o.if_contains("metadata");
  const auto* n = m && m->is_object() ? m->as_object().if_contains("name") : nullptr;
  return n && n->is_string() ? std::string(n->as_string()) : std::string();
}

}  // namespace

ResourcePath ResourcePath::metal(std::string resource) { return {kGroup, kVersion, std::move(resource), {}}; }

std::string ResourcePath::collection() const {
  std::string out = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (!namespace_.empty()) out += "/namespaces/" + q(namespace_);
  return out + "/" + resource;
}

std::string ResourcePath::item(std::string_view name) const {
  return collection() + "/" + boost::urls::encode(name, boost::urls::unreserved_chars);
}

KubeClient::KubeClient(std::shared_ptr<Transport> transport) : transport_(std::move(transport)) {}

ApiReply KubeClient::decode(HttpReply reply) {
  ApiReply r;
  r.status = reply.status;
  r.retry_after = reply.retry_after;
  if (reply.status == 0) {
    r.reason = "Transport";
    r.message = reply.error;
    return r;
  }
  if (auto v = parse_json(reply.body)) r.body = std::move(*v);
  if (const auto* o = r.object(); o && o->contains("kind") && o->at("kind") == "Status") {
    if (const auto* reason = o->if_contains("reason"); reason && reason->is_string()) r.reason = std::string(reason->as_string());
    if (const auto* msg = o->if_contains("message"); msg && msg->is_string()) r.message = std::string(msg->as_string());
  }
  if (!r.ok() && r.message.empty()) r.message = "HTTP " + std::to_string(reply.status);
  return r;
}

void KubeClient::get(const ResourcePath& path, const std::string& name, ReplyHandler done) {
  transport_->send({"GET", path.item(name), "", ""}, [done = std::move(done)](HttpReply r) { done(decode(std::move(r))); });
}

void KubeClient::list(const ResourcePath& path, const ListOptions& o, ReplyHandler done) {
  std::string target = path.collection() + "?limit=" + std::to_string(o.limit);
  if (!o.label_selector.empty()) target += "&labelSelector=" + q(o.label_selector);
  if (!o.field_selector.empty()) target += "&fieldSelector=" + q(o.field_selector);
  if (!o.continue_token.empty()) target += "&continue=" + q(o.continue_token);
  transport_->send({"GET", target, "", ""}, [done = std::move(done)](HttpReply r) { done(decode(std::move(r))); });
}

void KubeClient::create(const ResourcePath& path, const json::object& object, ReplyHandler done) {
  transport_->send({"POST", path.collection() + "?fieldManager=ironboot", "application/json", json::serialize(object)},
                   [done = std::move(done)](HttpReply r) { done(decode(std::move(r))); });
}

void KubeClient::update(const ResourcePath& path, const json::object& object, ReplyHandler done, bool status) {
  transport_->send({"PUT", path.item(name_of(object)) + (status ? "/status" : "") + "?fieldManager=ironboot", "application/json",
                    json::serialize(object)},
                   [done = std::move(done)](HttpReply r) { done(decode(std::move(r))); });
}

void KubeClient::patch(const ResourcePath& path, const std::string& name, PatchType type, const json::value& patch,
                       ReplyHandler done, bool status, const std::string& field_manager) {
  std::string ct = type == PatchType::Merge ? "application/merge-patch+json"
                   : type == PatchType::Json ? "application/json-patch+json"
                                             : "application/apply-patch+yaml";
  std::string target = path.item(name) + (status ? "/status" : "") + "?fieldManager=" + q(field_manager);
  if (type == PatchType::Apply) target += "&force=true";
  transport_->send({"PATCH", target, ct, json::serialize(patch)},
                   [done = std::move(done)](HttpReply r) { done(decode(std::move(r))); });
}

void KubeClient::remove(const ResourcePath& path, const std::string& name, ReplyHandler done) {
  transport_->send({"DELETE", path.item(name), "application/json", "{\"propagationPolicy\":\"Background\"}"},
                   [done = std::move(done)](HttpReply r) { done(decode(std::move(r))); });
}

std::shared_ptr<StreamHandle> KubeClient::watch(const ResourcePath& path, const WatchOptions& o,
                                                std::function<void(WatchEvent)> on_event, std::function<void(ApiReply)> on_end) {
  std::string target = path.collection() + "?watch=true&timeoutSeconds=" + std::to_string(o.timeout.count());
  if (!o.resource_version.empty()) target += "&resourceVersion=" + q(o.resource_version);
  if (o.bookmarks) target += "&allowWatchBookmarks=true";
  if (!o.label_selector.empty()) target += "&labelSelector=" + q(o.label_selector);
  return transport_->stream(
      {"GET", target, "", ""},
      [on_event](std::string_view line) {
        auto v = parse_json(line);
        if (!v || !v->is_object()) return;
        auto& event = v->as_object();
        const auto* type = event.if_contains("type");
        auto* obj = event.if_contains("object");
        if (!type || !type->is_string() || !obj || !obj->is_object()) return;
        WatchEvent e{std::string(type->as_string()), std::move(obj->as_object()), {}};
        // {"type":"T","object":…} and nothing else: the object's text is the rest of the line.
        const std::string prefix = "{\"type\":\"" + e.type + "\",\"object\":";
        if (event.size() == 2 && line.size() > prefix.size() + 1 && line.substr(0, prefix.size()) == prefix &&
            line.back() == '}')
          e.object_text = line.substr(prefix.size(), line.size() - prefix.size() - 1);
        on_event(std::move(e));
      },
      [on_end](HttpReply r) { on_end(decode(std::move(r))); });
}

void KubeClient::get(const std::string& resource, const std::string& name, ReplyHandler done) {
  get(ResourcePath::metal(resource), name, std::move(done));
}
void KubeClient::list(const std::string& resource, const ListOptions& options, ReplyHandler done) {
  list(ResourcePath::metal(resource), options, std::move(done));
}
void KubeClient::create(const std::string& resource, const json::object& object, ReplyHandler done) {
  create(ResourcePath::metal(resource), object, std::move(done));
}
void KubeClient::update(const std::string& resource, const json::object& object, ReplyHandler done, bool status) {
  update(ResourcePath::metal(resource), object, std::move(done), status);
}
void KubeClient::patch(const std::string& resource, const std::string& name, PatchType type, const json::value& patch,
                       ReplyHandler done, bool status, const std::string& field_manager) {
  this->patch(ResourcePath::metal(resource), name, type, patch, std::move(done), status, field_manager);
}
void KubeClient::remove(const std::string& resource, const std::string& name, ReplyHandler done) {
  remove(ResourcePath::metal(resource), name, std::move(done));
}
std::shared_ptr<StreamHandle> KubeClient::watch(const std::string& resource, const WatchOptions& options,
                                                std::function<void(WatchEvent)> on_event, std::function<void(ApiReply)> on_end) {
  return watch(ResourcePath::metal(resource), options, std::move(on_event), std::move(on_end));
}

}  // namespace ironboot::kube
