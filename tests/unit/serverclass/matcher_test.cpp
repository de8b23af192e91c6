#include "serverclass/matcher.hpp"

#include "yaml_json.hpp"

#include <gtest/gtest.h>

namespace ironboot::serverclass {
namespace {

using testing::yaml_object;
namespace json = boost::json;

// A Dell with two processors: only the second is an AMD EPYC.
const char* kDellServer = R"(
apiVersion: metal.sidero.dev/v1alpha2
kind: Server
metadata:
  name: 4c4c4544-0042-3510-8051-b7c04f4e4d32
  labels: {rack: rack-a, zone: z1}
spec:
  accepted: true
  hardware:
    system: {manufacturer: "Dell Inc.", productName: PowerEdge R6525, serialNumber: 8N4MD32}
    compute:
      totalCoreCount: 64
      processorCount: 2
      processors:
        - {manufacturer: Intel, productName: "Intel(R) Xeon(R) Gold 6338", coreCount: 32}
        - {manufacturer: AMD, productName: "AMD EPYC 7543 32-Core Processor", coreCount: 32, speed: 2800}
    memory:
      totalSize: 512 GB
      modules:
        - {type: DDR4, size: 32768, speed: 3200}
    storage:
      devices:
        - {type: SSD, size: 480103981056, name: sda}
        - {type: NVMe, size: 960197124096, name: nvme0n1}
    network:
      interfaces:
        - {index: 2, name: eth0, mac: "52:54:00:12:34:56", addresses: ["10.0.0.50/24"]}
)";

json::object dell() { return yaml_object(kDellServer); }

std::shared_ptr<const CompiledClass> compile_yaml(const std::string& yaml) {
  return CompiledClass::compile(yaml_object(yaml));
}

TEST(Matcher, CourseClassVerbatim) {
  const auto cls = compile_yaml(R"(
apiVersion: metal.sidero.dev/v1alpha2
kind: ServerClass
metadata:
  name: amd-dell-rack-a
spec:
  qualifiers:
    cpu:
      - manufacturer: AMD
        version: "EPYC.*"
    systemInformation:
      - manufacturer: "Dell Inc."
  selector:
    matchLabels:
      rack: rack-a
)");
  ASSERT_TRUE(cls->valid()) << cls->error()->text();
  EXPECT_EQ(cls->name(), "amd-dell-rack-a");
  EXPECT_TRUE(cls->matches(dell()));

  auto other_rack = dell();
  other_rack["metadata"].as_object()["labels"].as_object()["rack"] = "rack-b";
  EXPECT_FALSE(cls->matches(other_rack));

  auto hp = dell();
  hp["spec"].as_object()["hardware"].as_object()["system"].as_object()["manufacturer"] = "HPE";
  EXPECT_FALSE(cls->matches(hp));
}

TEST(Matcher, SecondOfTwoCpusMatchesAnyPosition) {
  const auto epyc = compile_yaml(R"(
metadata: {name: epyc}
spec: {qualifiers: {cpu: [{manufacturer: AMD, version: "EPYC"}]}}
)");
  EXPECT_TRUE(epyc->matches(dell()));
  // manufacturer and version must hold for the same processor.
  const auto mixed = compile_yaml(R"(
metadata: {name: mixed}
spec: {qualifiers: {cpu: [{manufacturer: Intel, version: "EPYC"}]}}
)");
  EXPECT_FALSE(mixed->matches(dell()));
  auto one_cpu = dell();
  one_cpu["spec"].as_object()["hardware"].as_object()["compute"].as_object()["processors"].as_array().pop_back();
  EXPECT_FALSE(epyc->matches(one_cpu));
}

TEST(Matcher, StringsAreUnanchoredRegexSearches) {
  // "Dell Inc." has a metacharacter ('.'): it still matches literally-equal text (Sidero
  // compatibility) and, being a search, any text containing "Dell Inc" plus one character.
  const auto dell_class = compile_yaml(R"(
metadata: {name: d}
spec: {qualifiers: {systemInformation: [{manufacturer: "Dell Inc."}]}}
)");
  EXPECT_TRUE(dell_class->matches(dell()));
  auto s = dell();
  auto& system = s["spec"].as_object()["hardware"].as_object()["system"].as_object();
  system["manufacturer"] = "Dell Inc";  // the '.' needs one more character
  EXPECT_FALSE(dell_class->matches(s));
  system["manufacturer"] = "Dell Inc,";
  EXPECT_TRUE(dell_class->matches(s));

  const auto exact = compile_yaml(R"(
metadata: {name: e}
spec: {qualifiers: {systemInformation: [{manufacturer: "^Dell Inc\\.$"}]}}
)");
  system["manufacturer"] = "Dell Inc.";
  EXPECT_TRUE(exact->matches(s));
  system["manufacturer"] = "Dell Inc. (OEM)";
  EXPECT_FALSE(exact->matches(s));

  const auto product = compile_yaml(R"Y(
metadata: {name: p}
spec: {qualifiers: {systemInformation: [{productName: "R65(15|25)"}]}}
)Y");
  EXPECT_TRUE(product->matches(dell()));
}

TEST(Matcher, SideroExactStringsWithMetacharactersStillMatch) {
  // As a regex "(R)" is a group matching "R", so the search alone would miss the text it spells;
  // the literal comparison keeps every Sidero (exact-string) qualifier working.
  const auto xeon = compile_yaml(R"Y(
metadata: {name: xeon}
spec: {qualifiers: {cpu: [{manufacturer: Intel, version: "Intel(R) Xeon(R) Gold 6338"}]}}
)Y");
  ASSERT_TRUE(xeon->valid());
  EXPECT_TRUE(xeon->matches(dell()));
  const auto plus = compile_yaml(R"Y(
metadata: {name: plus}
spec: {qualifiers: {systemInformation: [{productName: "PowerEdge R6525+"}]}}
)Y");
  EXPECT_TRUE(plus->matches(dell())) << "regex search: R652 followed by one or more 5";
  auto s = dell();
  s["spec"].as_object()["hardware"].as_object()["system"].as_object()["productName"] = "PowerEdge R6515";
  EXPECT_FALSE(plus->matches(s));
}

TEST(Matcher, V1alpha2HardwareForms) {
  const auto nvme = compile_yaml(R"(
metadata: {name: nvme}
spec:
  qualifiers:
    hardware:
      - storage:
          devices:
            - {type: NVMe, size: 960197124096}
        memory:
          modules: [{size: 32768}]
)");
  ASSERT_TRUE(nvme->valid()) << nvme->error()->text();
  EXPECT_TRUE(nvme->matches(dell()));

  const auto wrong_size = compile_yaml(R"(
metadata: {name: w}
spec: {qualifiers: {hardware: [{storage: {devices: [{type: NVMe, size: 480103981056}]}}]}}
)");
  EXPECT_FALSE(wrong_size->matches(dell())) << "type and size must hold for the same device";

  // OR within hardware[]: the first entry fails, the second matches.
  const auto either = compile_yaml(R"(
metadata: {name: either}
spec:
  qualifiers:
    hardware:
      - system: {manufacturer: Supermicro}
      - compute: {totalCoreCount: 64, processors: [{coreCount: 32}]}
)");
  EXPECT_TRUE(either->matches(dell()));

  const auto cores = compile_yaml(R"(
metadata: {name: c}
spec: {qualifiers: {hardware: [{compute: {totalCoreCount: 16}}]}}
)");
  EXPECT_FALSE(cores->matches(dell()));

  const auto iface = compile_yaml(R"(
metadata: {name: i}
spec: {qualifiers: {hardware: [{network: {interfaces: [{mac: "^52:54:00:", addresses: ["^10\\.0\\.0\\."]}]}}]}}
)");
  EXPECT_TRUE(iface->matches(dell()));
  const auto other_net = compile_yaml(R"(
metadata: {name: o}
spec: {qualifiers: {hardware: [{network: {interfaces: [{addresses: ["^192\\.168\\."]}]}}]}}
)");
  EXPECT_FALSE(other_net->matches(dell()));
}

TEST(Matcher, KindsAreAnded) {
  const auto cls = compile_yaml(R"(
metadata: {name: and}
spec:
  qualifiers:
    cpu: [{manufacturer: AMD}]
    hardware: [{memory: {totalSize: "^1024 GB$"}}]
)");
  EXPECT_FALSE(cls->matches(dell())) << "cpu matches, hardware does not";
  const auto cls2 = compile_yaml(R"(
metadata: {name: and2}
spec:
  qualifiers:
    cpu: [{manufacturer: Ampere}, {manufacturer: AMD}]
    hardware: [{memory: {totalSize: "^512 GB$"}}]
)");
  EXPECT_TRUE(cls2->matches(dell()));
}

TEST(Matcher, EmptyFieldsAreWildcardsButNeedHardware) {
  const auto cls = compile_yaml(R"(
metadata: {name: w}
spec: {qualifiers: {cpu: [{manufacturer: "", version: ""}], systemInformation: [{}]}}
)");
  ASSERT_TRUE(cls->valid());
  EXPECT_TRUE(cls->matches(dell()));
  auto bare = yaml_object("metadata: {name: bare}\nspec: {accepted: true}\n");
  EXPECT_FALSE(cls->matches(bare)) << "no reported hardware matches no hardware qualifier";
  auto empty_hw = yaml_object("metadata: {name: e}\nspec: {accepted: true, hardware: {}}\n");
  EXPECT_FALSE(cls->matches(empty_hw));
  // A class without hardware qualifiers still matches a bare server.
  const auto labels_only = compile_yaml("metadata: {name: l}\nspec: {selector: {}}\n");
  EXPECT_TRUE(labels_only->matches(bare));
  // Empty lists are the same as no qualifier.
  const auto empty_lists = compile_yaml("metadata: {name: x}\nspec: {qualifiers: {cpu: [], hardware: []}}\n");
  EXPECT_TRUE(empty_lists->matches(bare));
}

TEST(Matcher, SelectorExpressions) {
  const auto cls = compile_yaml(R"(
metadata: {name: s}
spec:
  selector:
    matchExpressions:
      - {key: rack, operator: In, values: [rack-a, rack-b]}
      - {key: zone, operator: NotIn, values: [z2]}
      - {key: zone, operator: Exists}
      - {key: retired, operator: DoesNotExist}
)");
  ASSERT_TRUE(cls->valid()) << cls->error()->text();
  EXPECT_TRUE(cls->matches(dell()));
  auto s = dell();
  auto& labels = s["metadata"].as_object()["labels"].as_object();
  labels["retired"] = "yes";
  EXPECT_FALSE(cls->matches(s));
  labels.erase("retired");
  labels["zone"] = "z2";
  EXPECT_FALSE(cls->matches(s));
  labels.erase("zone");
  EXPECT_FALSE(cls->matches(s)) << "Exists";
  labels["zone"] = "z3";
  labels["rack"] = "rack-c";
  EXPECT_FALSE(cls->matches(s)) << "In";
  s["metadata"].as_object().erase("labels");
  EXPECT_FALSE(cls->matches(s));
}

TEST(Matcher, LabelSelectorsAreOred) {
  const auto cls = compile_yaml(R"(
metadata: {name: ls}
spec:
  qualifiers:
    labelSelectors:
      - {rack: rack-z}
      - {rack: rack-a, zone: z1}
)");
  EXPECT_TRUE(cls->matches(dell()));
  auto s = dell();
  s["metadata"].as_object()["labels"].as_object()["zone"] = "z9";
  EXPECT_FALSE(cls->matches(s));
}

TEST(Matcher, InvalidClassesNameTheFieldAndMatchNothing) {
  struct Case {
    const char* yaml;
    const char* field;
    const char* message_part;
  };
  const Case cases[] = {
      {"spec: {qualifiers: {cpu: [{version: \"EPYC(\"}]}}", "spec.qualifiers.cpu[0].version", "missing )"},
      {"spec: {qualifiers: {cpu: [{manufacturer: \"[\"}]}}", "spec.qualifiers.cpu[0].manufacturer", "missing ]"},
      {"spec: {qualifiers: {systemInformation: [{}, {family: \"(?P<x\"}]}}",
       "spec.qualifiers.systemInformation[1].family", "invalid regular expression"},
      {"spec: {qualifiers: {hardware: [{storage: {devices: [{type: \"*\"}]}}]}}",
       "spec.qualifiers.hardware[0].storage.devices[0].type", "no argument for repetition operator"},
      {"spec: {qualifiers: {hardware: [{compute: {totalCoreCount: \"64\"}}]}}",
       "spec.qualifiers.hardware[0].compute.totalCoreCount", "must be an integer"},
      {"spec: {qualifiers: {hardware: [{sytem: {}}]}}", "spec.qualifiers.hardware[0].sytem", "unknown field"},
      {"spec: {qualifiers: {cpu: [{vendor: AMD}]}}", "spec.qualifiers.cpu[0].vendor", "unknown field"},
      {"spec: {qualifiers: {cpu: {manufacturer: AMD}}}", "spec.qualifiers.cpu", "must be a list"},
      {"spec: {selector: {matchExpressions: [{key: rack, operator: Like, values: [a]}]}}",
       "spec.selector.matchExpressions[0].operator", "In, NotIn"},
      {"spec: {selector: {matchExpressions: [{key: rack, operator: In}]}}", "spec.selector.matchExpressions[0].values",
       "must not be empty"},
      {"spec: {selector: {matchExpressions: [{key: rack, operator: Exists, values: [x]}]}}",
       "spec.selector.matchExpressions[0].values", "must be empty"},
      {"spec: {qualifiers: {labelSelectors: [{rack: 5}]}}", "spec.qualifiers.labelSelectors[0].rack", "string"},
  };
  for (const auto& c : cases) {
    auto obj = yaml_object(std::string("metadata: {name: bad}\n") + c.yaml);
    const auto cls = CompiledClass::compile(obj);
    ASSERT_FALSE(cls->valid()) << c.yaml;
    EXPECT_EQ(cls->error()->field, c.field) << c.yaml;
    EXPECT_NE(cls->error()->message.find(c.message_part), std::string::npos)
        << c.yaml << " -> " << cls->error()->message;
    EXPECT_FALSE(cls->matches(dell())) << c.yaml;
  }
}

TEST(Matcher, AnyClassMatchesEverything) {
  const auto any = compile_yaml("metadata: {name: any}\nspec: {qualifiers: {cpu: [{manufacturer: Nope}]}}\n");
  EXPECT_TRUE(any->matches(dell()));
  EXPECT_TRUE(any->matches(yaml_object("metadata: {name: bare}\nspec: {accepted: true}\n")));
}

TEST(MatcherCache, CompilesOncePerVersion) {
  MatcherCache cache;
  auto cls = yaml_object("metadata: {name: c, resourceVersion: '7'}\nspec: {qualifiers: {cpu: [{manufacturer: AMD}]}}\n");
  const auto first = cache.get(cls);
  EXPECT_EQ(cache.get(cls), first);
  EXPECT_EQ(cache.compilations(), 1u);
  cls["metadata"].as_object()["resourceVersion"] = "8";
  cls["spec"].as_object()["qualifiers"].as_object()["cpu"].as_array()[0].as_object()["manufacturer"] = "Intel";
  const auto second = cache.get(cls);
  EXPECT_NE(second, first);
  EXPECT_EQ(cache.compilations(), 2u);
  EXPECT_FALSE(second->matches(yaml_object(R"(
metadata: {name: s}
spec: {hardware: {compute: {processors: [{manufacturer: AMD}]}}}
)")));

  // generation wins over resourceVersion: status writes bump only the latter.
  auto with_generation =
      yaml_object("metadata: {name: g, generation: 3, resourceVersion: '10'}\nspec: {qualifiers: {}}\n");
  cache.get(with_generation);
  with_generation["metadata"].as_object()["resourceVersion"] = "11";
  cache.get(with_generation);
  EXPECT_EQ(cache.compilations(), 3u);
  with_generation["metadata"].as_object()["generation"] = 4;
  cache.get(with_generation);
  EXPECT_EQ(cache.compilations(), 4u);
  cache.retain_only({"c"});

  // Without resourceVersion/generation the spec itself is the version.
  auto local = yaml_object("metadata: {name: l}\nspec: {qualifiers: {}}\n");
  cache.get(local);
  cache.get(local);
  EXPECT_EQ(cache.compilations(), 5u);
  local["spec"].as_object()["selector"] = json::object{};
  cache.get(local);
  EXPECT_EQ(cache.compilations(), 6u);
  cache.retain_only({"l"});
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace ironboot::serverclass
