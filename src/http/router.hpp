// Routes requests to handlers. Handlers are pure functions of the request (plus whatever
// read-only state they captured); the server owns sockets, timeouts and limits.
//
// Other libraries register routes without seeing Beast or Asio:
//   router.add("POST", "/agent/v1/register", [&](const http::Request& r) { ... });
// A handler that must answer later (a long poll) uses add_async and calls the Responder
// exactly once, on the io_context thread; if the client went away meanwhile the call is a
// no-op. Such a handler must bound its own wait with a timer.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.hpp"

namespace ironboot::http {

using Handler = std::function<Response(const Request&)>;
using Responder = std::function<void(Response)>;
using AsyncHandler = std::function<void(const Request&, Responder)>;
// Sees a request's head (its body is still unread and empty here): a response refuses the
// request without reading the body, nullopt lets it through. What it sets in `head.guarded`
// reaches the handler (the server carries it from the head to the full request).
using HeadGuard = std::function<std::optional<Response>(Request& head)>;

class Router {
 public:
  // Exact path match ("/ipxe"). A GET route also answers HEAD (the server drops the body).
  void add(std::string method, std::string path, Handler handler);
  // Every path starting with `prefix` ("/assets/"), longest prefix wins.
  void add_prefix(std::string method, std::string prefix, Handler handler);
  void add_async(std::string method, std::string path, AsyncHandler handler);
  void add_async_prefix(std::string method, std::string prefix, AsyncHandler handler);

  // Every request whose path starts with `prefix` passes `guard` once its head is read,
  // before the server reads its body (the agent API checks Authorization so, so an
  // unauthenticated client cannot make it read a megabyte). Longest prefix wins.
  void guard_prefix(std::string prefix, HeadGuard guard);
  // The refusal of the guard for this path, or nullopt (also when no guard applies); marks
  // `head` checked.
  std::optional<Response> check_head(Request& head) const;

  // Calls the matching handler; 404 when no path matches, 405 (with Allow) when the path
  // matches under another method. `respond` may be called before dispatch returns. A
  // request whose head was not checked (a test calling handle()) passes its guard first.
  void dispatch(const Request& request, Responder respond) const;

  // Synchronous convenience for tests and sync-only routes; an async handler that does not
  // answer immediately yields 500.
  Response handle(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    bool prefix = false;
    AsyncHandler handler;
  };
  void insert(Route route);
  std::vector<Route> routes_;
  std::vector<std::pair<std::string, HeadGuard>> guards_;  // longest prefix first
};

}  // namespace ironboot::http
