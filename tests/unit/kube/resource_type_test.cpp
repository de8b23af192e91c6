#include "kube/resource_type.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "common/time.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

TEST(Crds, ShippedFilesAreTheEmbeddedSchema) {
  // The four CRDs, then the eight built-in types of src/kube/types.
  ASSERT_EQ(builtin_resource_types().size(), 12u);
  for (const char* f : {"assets/crds/server.yaml", "assets/crds/serverclass.yaml", "assets/crds/environment.yaml",
                        "assets/crds/baremetalhost.yaml"}) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    ResourceType t = parse_crd(ss.str());
    const ResourceType* builtin = find_resource_type(t.group, t.version, t.plural);
    ASSERT_NE(builtin, nullptr) << f;
    EXPECT_EQ(json::value(builtin->schema), json::value(t.schema)) << f;
    EXPECT_TRUE(builtin->status_subresource);
  }
  const auto* server = find_resource_type("servers");
  std::vector<std::string> names;
  for (const auto& c : server->columns) names.push_back(c.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Hostname", "BMC", "State", "Accepted", "Cordoned", "Allocated", "Clean", "Power",
                                             "Age"}));
  EXPECT_EQ(server->columns[1].priority, 0) << "BMC is shown by default";
  EXPECT_EQ(server->columns[7].priority, 0) << "Power is shown by default";
}

TEST(Crds, BareMetalHostIsMetal3sNamespacedTypeWithItsColumns) {
  const auto* bmh = find_resource_type("metal3.io", "v1alpha1", "baremetalhosts");
  ASSERT_NE(bmh, nullptr);
  EXPECT_EQ(bmh->kind, "BareMetalHost");
  EXPECT_TRUE(bmh->namespaced);
  EXPECT_EQ(bmh->short_names, (std::vector<std::string>{"bmh", "bmhost"}));
  std::vector<std::string> shown;
  for (const auto& c : bmh->columns)
    if (c.priority == 0) shown.push_back(c.name);
  EXPECT_EQ(shown, (std::vector<std::string>{"State", "Consumer", "Online", "Error", "Age"}));

  // The course material's host: validates as is; what Metal3 has and ironboot does not keep
  // is pruned and reported; wrong types and unknown states are refused.
  auto host = json::parse(R"({"apiVersion":"metal3.io/v1alpha1","kind":"BareMetalHost",
      "metadata":{"name":"worker-0","namespace":"metal3"},
      "spec":{"online":true,"bootMACAddress":"52:54:00:12:34:56",
              "bmc":{"address":"ipmi://10.0.100.10","credentialsName":"worker-0-bmc-secret"},
              "rootDeviceHints":{"deviceName":"/dev/sda","minSizeGigabytes":100},"firmware":{"sriovEnabled":false}}})")
                  .as_object();
  auto r = validate_and_prune(*bmh, host);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.unknown_fields, (std::vector<std::string>{"spec.firmware"}));
  EXPECT_EQ(host["spec"].at("bmc").at("credentialsName"), "worker-0-bmc-secret");

  auto bad = json::parse(R"({"apiVersion":"metal3.io/v1alpha1","kind":"BareMetalHost","metadata":{"name":"w"},
      "spec":{"online":"yes","bmc":{"address":"ipmi://h"}},"status":{"provisioning":{"state":"sleeping"}}})")
                 .as_object();
  r = validate_and_prune(*bmh, bad);
  std::string all;
  for (const auto& p : r.problems) all += p.message + "\n";
  EXPECT_NE(all.find("spec.online"), std::string::npos) << all;
  EXPECT_NE(all.find("spec.bmc.credentialsName"), std::string::npos) << all;
  EXPECT_NE(all.find("status.provisioning.state"), std::string::npos) << all;
}

json::object server(const char* spec) {
  return json::parse(std::string(R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"Server","metadata":{"name":"s1"},"spec":)") +
                     spec + "}")
      .as_object();
}

TEST(Validation, PrunesUnknownFieldsAndReportsThem) {
  auto o = server(R"({"accepted":true,"colour":"blue","hardware":{"system":{"uuid":"x","extra":1}}})");
  o["metadata"].as_object()["bogus"] = 1;
  auto r = validate_and_prune(*find_resource_type("servers"), o);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.unknown_fields, (std::vector<std::string>{"spec.colour", "spec.hardware.system.extra", "metadata.bogus"}));
  EXPECT_FALSE(o["spec"].as_object().contains("colour"));
  EXPECT_FALSE(o["metadata"].as_object().contains("bogus"));
  EXPECT_EQ(o["spec"].at("hardware").at("system").at("uuid"), "x");
}

TEST(Validation, TypesEnumsRequired) {
  auto o = server(R"({"accepted":"yes","bootFromDiskMethod":"pxe","hardware":{"compute":{"processors":[{"speed":"fast"}]}}})");
  auto r = validate_and_prune(*find_resource_type("servers"), o);
  ASSERT_EQ(r.problems.size(), 3u);
  EXPECT_EQ(r.problems[0].message, "spec.accepted: Invalid value: \"string\": spec.accepted in body must be of type boolean: \"yes\"");
  EXPECT_NE(r.problems[1].message.find("supported values: \"ipxe-exit\", \"http-404\", \"ipxe-sanboot\""), std::string::npos);
  EXPECT_EQ(r.problems[2].field, "spec.hardware.compute.processors[0].speed");
  auto missing = server(R"({"hostname":"a"})");
  r = validate_and_prune(*find_resource_type("servers"), missing);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].message, "spec.accepted: Required value");
}

TEST(Validation, ServerClassAcceptsBothQualifierForms) {
  auto o = json::parse(R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"ServerClass","metadata":{"name":"c"},
    "spec":{"qualifiers":{"cpu":[{"manufacturer":"AMD","version":"EPYC.*"}],
                          "systemInformation":[{"manufacturer":"Dell Inc."}],
                          "hardware":[{"system":{"manufacturer":"Dell.*"},"compute":{"processors":[{"productName":"EPYC"}]}}],
                          "labelSelectors":[{"rack":"a"}]},
            "selector":{"matchLabels":{"a":"b"},"matchExpressions":[{"key":"x","operator":"In","values":["y"]}]}}})").as_object();
  const auto before = o;
  auto r = validate_and_prune(*find_resource_type("serverclasses"), o);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(r.unknown_fields.empty());
  EXPECT_EQ(o, before);
}

TEST(Table, ColumnsAndHumanAges) {
  auto now = *parse_rfc3339("2026-01-02T03:04:05Z");
  auto o = server(R"({"accepted":true,"hostname":"h1","bmc":{"endpoint":"10.0.0.5"}})");
  o["metadata"].as_object()["creationTimestamp"] = "2026-01-02T03:00:00Z";
  o["status"] = json::parse(R"({"power":"on","isClean":false})");
  auto t = render_table(*find_resource_type("servers"), {std::make_shared<const json::object>(o)}, now);
  EXPECT_EQ(t["kind"], "Table");
  EXPECT_EQ(t["columnDefinitions"].as_array().size(), 10u);
  EXPECT_EQ(t["columnDefinitions"].at(0).at("format"), "name");
  auto cells = t["rows"].at(0).at("cells");
  EXPECT_EQ(cells, json::parse(R"(["s1","h1","10.0.0.5",null,true,null,null,false,"on","4m5s"])"));
  EXPECT_EQ(t["rows"].at(0).at("object").at("kind"), "PartialObjectMetadata");
}

TEST(Table, HumanDuration) {
  using std::chrono::seconds;
  EXPECT_EQ(human_duration(seconds(45)), "45s");
  EXPECT_EQ(human_duration(seconds(119)), "119s");
  EXPECT_EQ(human_duration(seconds(200)), "3m20s");
  EXPECT_EQ(human_duration(seconds(3600 * 2)), "120m");  // as kubectl: minutes up to 3 hours
  EXPECT_EQ(human_duration(seconds(3600 * 4)), "4h");
  EXPECT_EQ(human_duration(seconds(3600 * 4 + 60 * 5)), "4h5m");
  EXPECT_EQ(human_duration(seconds(86400 * 5 + 3600 * 3)), "5d3h");
  EXPECT_EQ(human_duration(seconds(86400 * 30)), "30d");
}

}  // namespace
}  // namespace ironboot::kube
