#include "kube/strategic_merge.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace ironboot::kube {
namespace {

namespace json = boost::json;

json::value patched(const char* doc, const char* patch) {
  json::value d = json::parse(doc);
  auto err = apply_strategic_merge_patch(d, json::parse(patch));
  EXPECT_FALSE(err) << *err;
  return d;
}

TEST(StrategicMerge, MapsMergeAndNullDeletes) {
  EXPECT_EQ(patched(R"({"data":{"a":"1","b":"2"},"type":"Opaque"})", R"({"data":{"b":null,"c":"3"}})"),
            json::parse(R"({"data":{"a":"1","c":"3"},"type":"Opaque"})"));
}

TEST(StrategicMerge, FinalizersMergeAsASet) {
  EXPECT_EQ(patched(R"({"metadata":{"finalizers":["a","b"]}})", R"({"metadata":{"finalizers":["b","c"]}})"),
            json::parse(R"({"metadata":{"finalizers":["a","b","c"]}})"));
  EXPECT_EQ(patched(R"({"metadata":{"finalizers":["a","b"]}})",
                    R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"$setElementOrder/finalizers":["b"]}})"),
            json::parse(R"({"metadata":{"finalizers":["b"]}})"));
}

TEST(StrategicMerge, OwnerReferencesMergeByUid) {
  auto d = patched(R"({"metadata":{"ownerReferences":[{"uid":"1","name":"x"},{"uid":"2","name":"y"}]}})",
                   R"({"metadata":{"ownerReferences":[{"uid":"2","name":"z"},{"uid":"3","name":"w"},{"uid":"1","$patch":"delete"}]}})");
  EXPECT_EQ(d, json::parse(R"({"metadata":{"ownerReferences":[{"uid":"2","name":"z"},{"uid":"3","name":"w"}]}})"));
}

TEST(StrategicMerge, OtherListsAreReplaced) {
  // Namespace spec.finalizers has no patch strategy: replaced, like a JSON merge patch.
  EXPECT_EQ(patched(R"({"spec":{"finalizers":["kubernetes"]}})", R"({"spec":{"finalizers":[]}})"),
            json::parse(R"({"spec":{"finalizers":[]}})"));
  // A "finalizers" key outside metadata is not ObjectMeta's.
  EXPECT_EQ(patched(R"({"x":{"finalizers":["a"]}})", R"({"x":{"finalizers":["b"]}})"),
            json::parse(R"({"x":{"finalizers":["b"]}})"));
}

TEST(StrategicMerge, ReplaceDeleteAndRetainKeysDirectives) {
  EXPECT_EQ(patched(R"({"data":{"a":"1","b":"2"}})", R"({"data":{"$patch":"replace","c":"3"}})"),
            json::parse(R"({"data":{"c":"3"}})"));
  EXPECT_EQ(patched(R"({"data":{"a":"1"},"type":"t"})", R"({"data":{"$patch":"delete"}})"),
            json::parse(R"({"data":{},"type":"t"})"));
  EXPECT_EQ(patched(R"({"spec":{"a":1,"b":2}})", R"({"spec":{"$retainKeys":["b","c"],"c":3}})"),
            json::parse(R"({"spec":{"b":2,"c":3}})"));
}

TEST(StrategicMerge, MalformedPatchesAreErrors) {
  for (const char* bad : {R"([1])", R"({"data":{"$patch":"explode"}})", R"({"$unknown":1})",
                          R"({"metadata":{"ownerReferences":[{"name":"no-uid"}]}})",
                          R"({"metadata":{"$deleteFromPrimitiveList/finalizers":"a"}})"}) {
    json::value d = json::parse(R"({"metadata":{"ownerReferences":[]}})");
    EXPECT_TRUE(apply_strategic_merge_patch(d, json::parse(bad))) << bad;
  }
  // Deep nesting is refused, not recursed without bound.
  json::value deep = 1;
  for (int i = 0; i < 100; ++i) deep = json::object{{"a", std::move(deep)}};
  json::value d = json::object{};
  EXPECT_TRUE(apply_strategic_merge_patch(d, deep));
}

}  // namespace
}  // namespace ironboot::kube
