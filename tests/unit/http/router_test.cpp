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
