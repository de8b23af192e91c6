#include "kube/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "kube/store_log.hpp"

namespace ironboot::kube {
namespace {

namespace json = boost::json;

json::object obj(const std::string& name, int v) {
  return json::object{{"metadata", json::object{{"name", name}}}, {"spec", json::object{{"v", v}}}};
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/kube-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

TEST(Store, OneCounterHistoryAndListeners) {
  Store s(3);
  std::vector<std::string> seen;
  s.add_listener([&](const Change& c) { seen.push_back(c.name + "@" + std::to_string(c.rv)); });
  s.put("servers", obj("a", 1));
  s.put("serverclasses", obj("any", 1));
  auto a2 = s.put("servers", obj("a", 2));
  EXPECT_EQ(a2.object->at("metadata").at("resourceVersion"), "3");
  EXPECT_EQ(json::parse(*a2.json), json::value(*a2.object)) << "the text is the stored version";
  EXPECT_EQ(s.resource_version(), 3u);
  auto gone = s.erase("servers", "a");
  EXPECT_EQ(gone.object->at("metadata").at("resourceVersion"), "4");
  EXPECT_EQ(json::parse(*gone.json), json::value(*gone.object));
  EXPECT_EQ(s.get("servers", "a"), nullptr);
  EXPECT_EQ(seen, (std::vector<std::string>{"a@1", "any@2", "a@3", "a@4"}));
  std::vector<Change> out;
  EXPECT_TRUE(s.changes_since(2, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type, ChangeType::Deleted);
  out.clear();
  EXPECT_FALSE(s.changes_since(0, out)) << "history holds 3 changes: rv 0 is too old";
}

TEST(StoreLog, ReplaysAndKeepsResourceVersionsAcrossRestarts) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  {
    Store s;
    StoreLog log(path, s);
    s.set_journal(&log);
    s.put("servers", obj("a", 1));
    s.put("servers", obj("b", 1));
    s.erase("servers", "b");  // the highest rv is a delete
    EXPECT_EQ(log.flush(), "");
  }
  Store s;
  StoreLog log(path, s);
  EXPECT_EQ(s.resource_version(), 3u);
  EXPECT_EQ(s.objects("servers").size(), 1u);
  EXPECT_EQ(s.get("servers", "a")->at("metadata").at("resourceVersion"), "1");
  EXPECT_EQ(json::parse(*s.find("servers", "a").json), json::value(*s.get("servers", "a"))) << "loaded objects have their text";
  EXPECT_EQ(log.load_stats().dropped_bytes, 0u);
  std::vector<Change> out;
  EXPECT_TRUE(s.changes_since(3, out));
  EXPECT_FALSE(s.changes_since(2, out)) << "history before a restart is gone: 410";
}

TEST(StoreLog, DropsTornAndCorruptTails) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  {
    Store s;
    StoreLog log(path, s);
    s.set_journal(&log);
    for (int i = 0; i < 5; ++i) s.put("servers", obj("s" + std::to_string(i), i));
    ASSERT_EQ(log.flush(), "");
  }
  const auto good_size = std::filesystem::file_size(path);
  // Every possible cut inside an appended record is detected and dropped.
  const std::string extra = StoreLog::encode_record(R"({"rv":6,"r":"servers","o":{"metadata":{"name":"x"}}})");
  for (std::size_t cut = 1; cut < extra.size(); cut += 7) {
    std::filesystem::resize_file(path, good_size);
    {
      std::ofstream out(path, std::ios::app | std::ios::binary);
      out << extra.substr(0, cut);
    }
    Store s;
    StoreLog log(path, s);
    EXPECT_EQ(s.objects("servers").size(), 5u) << cut;
    EXPECT_EQ(log.load_stats().dropped_bytes, cut);
    EXPECT_EQ(std::filesystem::file_size(path), good_size);
  }
  // A flipped byte in the middle: that record and everything after it are dropped.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(good_size / 2));
    f.put('#');
  }
  Store s;
  StoreLog log(path, s);
  EXPECT_LT(s.objects("servers").size(), 5u);
  EXPECT_EQ(log.load_stats().drop_reason, "checksum mismatch");
}

TEST(StoreLog, CompactionKeepsLiveObjectsAndTheCounter) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  {
    Store s;
    StoreLog log(path, s);
    s.set_journal(&log);
    for (int i = 0; i < 100; ++i) s.put("servers", obj("a", i));
    s.put("servers", obj("b", 1));
    s.erase("servers", "b");
    ASSERT_EQ(log.flush(), "");
    const auto before = log.file_bytes();
    ASSERT_EQ(log.compact(), "");
    EXPECT_LT(log.file_bytes(), before / 10);
    s.put("servers", obj("c", 1));
    ASSERT_EQ(log.flush(), "");
  }
  Store s;
  StoreLog log(path, s);
  EXPECT_EQ(s.resource_version(), 103u);
  EXPECT_EQ(s.objects("servers").size(), 2u);
  EXPECT_EQ(s.get("servers", "a")->at("spec").at("v"), 99);
}

}  // namespace
}  // namespace ironboot::kube
