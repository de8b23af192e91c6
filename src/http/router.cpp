#include "http/router.hpp"

#include <algorithm>
#include <memory>

namespace ironboot::http {
namespace {

AsyncHandler wrap(Handler handler) {
  return [h = std::move(handler)](const Request& request, Responder respond) { respond(h(request)); };
}

bool path_matches(const std::string& route_path, bool prefix, const std::string& path) {
  if (!prefix) return route_path == path;
  return path.size() >= route_path.size() && path.compare(0, route_path.size(), route_path) == 0;
}

}  // namespace

void Router::add(std::string method, std::string path, Handler handler) {
  insert({std::move(method), std::move(path), false, wrap(std::move(handler))});
}

void Router::add_prefix(std::string method, std::string prefix, Handler handler) {
  insert({std::move(method), std::move(prefix), true, wrap(std::move(handler))});
}

void Router::add_async(std::string method, std::string path, AsyncHandler handler) {
  insert({std::move(method), std::move(path), false, std::move(handler)});
}

void Router::add_async_prefix(std::string method, std::string prefix, AsyncHandler handler) {
  insert({std::move(method), std::move(prefix), true, std::move(handler)});
}

void Router::insert(Route route) {
  routes_.push_back(std::move(route));
  // Exact routes first, then prefixes from longest to shortest: the first match wins.
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    if (a.prefix != b.prefix) return !a.prefix;
    return a.path.size() > b.path.size();
  });
}

void Router::guard_prefix(std::string prefix, HeadGuard guard) {
  guards_.emplace_back(std::move(prefix), std::move(guard));
  std::stable_sort(guards_.begin(), guards_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::optional<Response> Router::check_head(Request& head) const {
  head.head_checked = true;
  for (const auto& [prefix, guard] : guards_)
    if (path_matches(prefix, true, head.path)) return guard(head);
  return std::nullopt;
}

void Router::dispatch(const Request& request, Responder respond) const {
  if (!request.head_checked) {
    Request checked = request;
    if (auto refusal = check_head(checked)) return respond(std::move(*refusal));
    return dispatch(checked, std::move(respond));
  }
  const std::string& method = request.method;
  const Route* path_match = nullptr;
  for (const auto& r : routes_) {
    if (!path_matches(r.path, r.prefix, request.path)) continue;
    if (path_match == nullptr) path_match = &r;
    // Only routes of the best matching path count, so "/assets/x" under a longer prefix
    // with another method answers 405 instead of falling through to a shorter prefix.
    if (r.path != path_match->path || r.prefix != path_match->prefix) break;
    if (r.method == method || (method == "HEAD" && r.method == "GET")) {
      r.handler(request, std::move(respond));
      return;
    }
  }
  if (path_match == nullptr) {
    respond(text_response(404, "not found\n"));
    return;
  }
  std::string allow;
  for (const auto& r : routes_) {
    if (r.path != path_match->path || r.prefix != path_match->prefix) continue;
    if (!allow.empty()) allow += ", ";
    allow += r.method;
    if (r.method == "GET") allow += ", HEAD";
  }
  Response res = text_response(405, "method not allowed\n");
  res.set("Allow", allow);
  respond(std::move(res));
}

Response Router::handle(const Request& request) const {
  auto out = std::make_shared<std::optional<Response>>();
  dispatch(request, [out](Response r) { *out = std::move(r); });
  if (!*out) return text_response(500, "handler did not answer\n");
  return std::move(**out);
}

}  // namespace ironboot::http
