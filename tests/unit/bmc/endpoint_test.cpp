// spec.bmc -> BmcEndpoint + credential sources: Sidero's fields, Metal3-style URLs, errors
// that name the field.
#include "bmc/endpoint.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace ironboot::bmc {
namespace {

namespace json = boost::json;

BmcSpec ok(const char* text) {
  auto parsed = parse_bmc_spec(json::parse(text).as_object());
  if (const auto* e = std::get_if<EndpointError>(&parsed)) ADD_FAILURE() << text << ": " << e->text();
  return std::holds_alternative<BmcSpec>(parsed) ? std::get<BmcSpec>(parsed) : BmcSpec{};
}

std::string bad(const char* text) {
  auto parsed = parse_bmc_spec(json::parse(text).as_object());
  if (std::holds_alternative<BmcSpec>(parsed)) {
    ADD_FAILURE() << text << " parsed";
    return {};
  }
  return std::get<EndpointError>(parsed).text();
}

TEST(BmcEndpoint, SideroHostIsIpmiOn623) {
  auto s = ok(R"({"endpoint":"10.0.0.5","user":"admin","pass":"secret"})");
  EXPECT_EQ(s.endpoint.protocol, Protocol::Ipmi);
  EXPECT_EQ(s.endpoint.host, "10.0.0.5");
  EXPECT_EQ(s.endpoint.port, 623);
  EXPECT_EQ(s.endpoint.cipher_suite, std::nullopt);
  EXPECT_EQ(s.user.value, "admin");
  EXPECT_EQ(s.pass.value, "secret");
  EXPECT_TRUE(s.plain_text_password());
  EXPECT_EQ(describe(s.endpoint), "ipmi://10.0.0.5:623");

  s = ok(R"({"endpoint":"bmc-7.rack1.example","port":6230,"interface":"lanplus","cipherSuite":17})");
  EXPECT_EQ(s.endpoint.host, "bmc-7.rack1.example");
  EXPECT_EQ(s.endpoint.port, 6230);
  EXPECT_EQ(s.endpoint.cipher_suite, 17);
  EXPECT_FALSE(s.plain_text_password());
}

TEST(BmcEndpoint, SecretKeyRefsDefaultToIronbootSystem) {
  auto s = ok(R"({"endpoint":"10.0.0.5",
    "userFrom":{"secretKeyRef":{"name":"s1-bmc","key":"username"}},
    "passFrom":{"secretKeyRef":{"namespace":"site","name":"s1-bmc","key":"password"}}})");
  ASSERT_TRUE(s.user.secret && s.pass.secret);
  EXPECT_EQ(*s.user.secret, (SecretKeyRef{"ironboot-system", "s1-bmc", "username"}));
  EXPECT_EQ(*s.pass.secret, (SecretKeyRef{"site", "s1-bmc", "password"}));
  EXPECT_FALSE(s.plain_text_password());
}

TEST(BmcEndpoint, Metal3Urls) {
  auto s = ok(R"({"endpoint":"ipmi://10.0.100.10"})");
  EXPECT_EQ(s.endpoint.protocol, Protocol::Ipmi);
  EXPECT_EQ(s.endpoint.port, 623);
  s = ok(R"({"endpoint":"ipmi://10.0.100.10:6231","port":999})");
  EXPECT_EQ(s.endpoint.port, 6231) << "the URL's port wins";
  s = ok(R"({"endpoint":"ipmi://[fd00::10]:6232"})");
  EXPECT_EQ(s.endpoint.host, "fd00::10");
  EXPECT_EQ(s.endpoint.port, 6232);
  EXPECT_EQ(describe(s.endpoint), "ipmi://[fd00::10]:6232");

  s = ok(R"({"endpoint":"redfish://bmc.example/redfish/v1/Systems/1","insecureSkipVerify":true})");
  EXPECT_EQ(s.endpoint.protocol, Protocol::Redfish);
  EXPECT_TRUE(s.endpoint.tls);
  EXPECT_EQ(s.endpoint.port, 443);
  EXPECT_EQ(s.endpoint.system_path, "/redfish/v1/Systems/1");
  EXPECT_TRUE(s.endpoint.insecure_skip_verify);

  s = ok(R"({"endpoint":"redfish+https://10.1.1.1:8443/"})");
  EXPECT_TRUE(s.endpoint.tls);
  EXPECT_EQ(s.endpoint.port, 8443);
  EXPECT_EQ(s.endpoint.system_path, "") << "no path: the first member of Systems";

  s = ok(R"({"endpoint":"redfish+http://[fe80::1]/redfish/v1/Systems/System.Embedded.1/"})");
  EXPECT_FALSE(s.endpoint.tls);
  EXPECT_EQ(s.endpoint.port, 80);
  EXPECT_EQ(s.endpoint.host, "fe80::1");
  EXPECT_EQ(s.endpoint.system_path, "/redfish/v1/Systems/System.Embedded.1");
  EXPECT_EQ(describe(s.endpoint), "redfish+http://[fe80::1]:80/redfish/v1/Systems/System.Embedded.1");
}

TEST(BmcEndpoint, BareIpv6WithOrWithoutBrackets) {
  EXPECT_EQ(ok(R"({"endpoint":"fd00::5"})").endpoint.host, "fd00::5");
  EXPECT_EQ(ok(R"({"endpoint":"[fd00::5]"})").endpoint.host, "fd00::5");
}

TEST(BmcEndpoint, ErrorsNameTheField) {
  EXPECT_EQ(bad(R"({})"), "spec.bmc.endpoint: required");
  EXPECT_EQ(bad(R"({"endpoint":7})"), "spec.bmc.endpoint: must be a string");
  EXPECT_EQ(bad(R"({"endpoint":"ftp://h"})"),
            "spec.bmc.endpoint: unknown scheme 'ftp' (ipmi, redfish, redfish+https, redfish+http)");
  EXPECT_EQ(bad(R"({"endpoint":"ipmi://admin:pw@h"})"),
            "spec.bmc.endpoint: must not carry credentials: use userFrom / passFrom");
  EXPECT_EQ(bad(R"({"endpoint":"ipmi://h/x"})"), "spec.bmc.endpoint: an ipmi:// endpoint has no path");
  EXPECT_EQ(bad(R"({"endpoint":"redfish://h/Systems/1"})"),
            "spec.bmc.endpoint: the path must name a system under /redfish/v1/ (e.g. /redfish/v1/Systems/1)");
  EXPECT_EQ(bad(R"({"endpoint":"redfish://h:0/"})"), "spec.bmc.endpoint: port must be 1..65535");
  EXPECT_EQ(bad(R"({"endpoint":"10.0.0.5:623"})"),
            "spec.bmc.endpoint: '10.0.0.5:623' has a port: use spec.bmc.port, or ipmi://host:port");
  EXPECT_EQ(bad(R"({"endpoint":"[10.0.0.5]"})"), "spec.bmc.endpoint: '[10.0.0.5]' is not an IPv6 address");
  EXPECT_EQ(bad(R"({"endpoint":"a b"})"), "spec.bmc.endpoint: 'a b' is not a host name or IP address");
  EXPECT_EQ(bad(R"({"endpoint":"h","port":70000})"), "spec.bmc.port: must be 1..65535, not 70000");
  EXPECT_EQ(bad(R"({"endpoint":"h","port":"623"})"), "spec.bmc.port: must be an integer");
  EXPECT_EQ(bad(R"({"endpoint":"h","cipherSuite":1})"), "spec.bmc.cipherSuite: must be 3 or 17 (absent: 17, then 3), not 1");
  EXPECT_EQ(bad(R"({"endpoint":"h","interface":"lan"})"),
            "spec.bmc.interface: lan (IPMI 1.5) is not supported: ironboot speaks IPMI 2.0 (lanplus)");
  EXPECT_EQ(bad(R"({"endpoint":"h","insecureSkipVerify":"yes"})"), "spec.bmc.insecureSkipVerify: must be true or false");
  EXPECT_EQ(bad(R"({"endpoint":"h","passFrom":{"secretKeyRef":{"name":"s"}}})"),
            "spec.bmc.passFrom.secretKeyRef.key: required");
  EXPECT_EQ(bad(R"({"endpoint":"h","userFrom":{}})"), "spec.bmc.userFrom.secretKeyRef: required (an object with name and key)");
  EXPECT_EQ(bad(R"({"endpoint":"h","pass":"x","passFrom":{"secretKeyRef":{"name":"s","key":"k"}}})"),
            "spec.bmc.pass: must be empty when passFrom is set");
}

TEST(BmcEndpoint, OfServer) {
  EXPECT_EQ(bmc_of_server(json::parse(R"({"spec":{"accepted":true}})").as_object()), std::nullopt);
  auto parsed = bmc_of_server(json::parse(R"({"spec":{"bmc":{"endpoint":"ipmi://h"}}})").as_object());
  ASSERT_TRUE(parsed && std::holds_alternative<BmcSpec>(*parsed));
  parsed = bmc_of_server(json::parse(R"({"spec":{"bmc":"h"}})").as_object());
  ASSERT_TRUE(parsed && std::holds_alternative<EndpointError>(*parsed));
}

}  // namespace
}  // namespace ironboot::bmc
