#include "http/router.hpp"

#include <gtest/gtest.h>

namespace ironboot::http {
namespace {

Request req(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(Router, ExactPrefixHeadAnd405) {
  Router router;
  router.add("GET", "/ipxe", [](const Request&) { return text_response(200, "ipxe"); });
  router.add("POST", "/agent/v1/register", [](const Request& r) { return text_response(201, r.body); });
  router.add_prefix("GET", "/assets/", [](const Request&) { return text_response(200, "short"); });
  router.add_prefix("GET", "/assets/agent/", [](const Request&) { return text_response(200, "long"); });

  EXPECT_EQ(router.handle(req("GET", "/ipxe")).body, "ipxe");
  EXPECT_EQ(router.handle(req("HEAD", "/ipxe")).body, "ipxe");  // the server drops the body
  EXPECT_EQ(router.handle(req("GET", "/ipxe/")).status, 404);
  EXPECT_EQ(router.handle(req("GET", "/nothing")).status, 404);
  EXPECT_EQ(router.handle(req("GET", "/assets/agent/vmlinuz")).body, "long");
  EXPECT_EQ(router.handle(req("GET", "/assets/tftp/x")).body, "short");

  auto r = router.handle(req("POST", "/ipxe"));
  EXPECT_EQ(r.status, 405);
  bool allow = false;
  for (const auto& h : r.headers) allow = allow || (h.name == "Allow" && h.value == "GET, HEAD");
  EXPECT_TRUE(allow);
  auto p = req("POST", "/agent/v1/register");
  p.body = "{}";
  EXPECT_EQ(router.handle(p).status, 201);
  EXPECT_EQ(router.handle(req("GET", "/agent/v1/register")).status, 405);
  EXPECT_EQ(router.handle(req("DELETE", "/assets/agent/x")).status, 405);
}

TEST(Router, AsyncHandlers) {
  Router router;
  Responder saved;
  router.add_async("GET", "/later", [&](const Request&, Responder respond) { saved = std::move(respond); });
  router.add_async("GET", "/now", [](const Request&, Responder respond) { respond(text_response(200, "now")); });
  EXPECT_EQ(router.handle(req("GET", "/now")).body, "now");
  EXPECT_EQ(router.handle(req("GET", "/later")).status, 500);  // did not answer synchronously
  int got = 0;
  router.dispatch(req("GET", "/later"), [&](Response r) { got = r.status; });
  ASSERT_TRUE(saved);
  saved(text_response(204, ""));
  EXPECT_EQ(got, 204);
}

}  // namespace
}  // namespace ironboot::http

namespace ironboot::http {
namespace {

TEST(Router, AGuardsFindingsReachTheHandlerOnce) {
  Router router;
  int guard_runs = 0;
  router.guard_prefix("/agent/", [&](Request& head) -> std::optional<Response> {
    ++guard_runs;
    if (head.header("Authorization").empty()) return text_response(401, "no\n");
    head.guarded = std::string("claims of ") + std::string(head.header("Authorization"));
    return std::nullopt;
  });
  router.add("POST", "/agent/x", [](const Request& r) {
    const auto* claims = std::any_cast<std::string>(&r.guarded);
    return text_response(200, claims ? *claims : "none");
  });
  Request r;
  r.method = "POST";
  r.path = "/agent/x";
  r.headers.push_back({"Authorization", "t"});
  // As the server does: the head first, then the request with its body.
  ASSERT_FALSE(router.check_head(r));
  EXPECT_EQ(router.handle(r).body, "claims of t");
  EXPECT_EQ(guard_runs, 1) << "not checked twice";
  // A request whose head was never checked passes the guard in dispatch.
  Request fresh;
  fresh.method = "POST";
  fresh.path = "/agent/x";
  EXPECT_EQ(router.handle(fresh).status, 401);
  EXPECT_EQ(guard_runs, 2);
}

TEST(Message, PeerAddressAndQueryValue) {
  Request r;
  r.peer = "10.0.0.5:49152";
  EXPECT_EQ(r.peer_address(), "10.0.0.5");
  r.peer = "[fe80::1]:80";
  EXPECT_EQ(r.peer_address(), "fe80::1");
  r.peer = "fe80::1";
  EXPECT_EQ(r.peer_address(), "fe80::1");
  EXPECT_EQ(query_value("wait=30&ticket=k2.a.b", "ticket"), "k2.a.b");
  EXPECT_EQ(query_value("wait&x=1", "wait"), "");
  EXPECT_FALSE(query_value("waiting=1", "wait"));
  EXPECT_FALSE(query_value("", "wait"));
}

}  // namespace
}  // namespace ironboot::http
