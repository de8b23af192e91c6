#include "kube/store.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "kube/api_handler.hpp"
#include "kube/store_log.hpp"
#include "store_fixtures.hpp"

#include <malloc.h>

namespace ironboot::kube {
namespace {

namespace json = boost::json;

using store_testing::obj;
using store_testing::TempDir;

TEST(Store, OneCounterHistoryAndListeners) {
  Store s(3);
  std::vector<std::string> seen;
  s.add_listener([&](const Change& c) { seen.push_back(c.name + "@" + std::to_string(c.rv)); });
  s.put("servers", obj("a", 1));
  s.put("serverclasses", obj("any", 1));
  auto a2 = s.put("servers", obj("a", 2));
  EXPECT_EQ(a2->parse().at("metadata").at("resourceVersion"), "3");
  EXPECT_EQ(a2->rv(), 3u);
  EXPECT_EQ(json::parse(a2->json()), json::value(*s.get("servers", "a"))) << "the text is the stored version";
  EXPECT_EQ(s.resource_version(), 3u);
  auto gone = s.erase("servers", "a");
  EXPECT_EQ(gone->parse().at("metadata").at("resourceVersion"), "4");
  EXPECT_EQ(gone->rv(), 4u);
  EXPECT_EQ(s.get("servers", "a"), nullptr);
  EXPECT_EQ(seen, (std::vector<std::string>{"a@1", "any@2", "a@3", "a@4"}));
  std::vector<Change> out;
  EXPECT_TRUE(s.changes_since(2, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].type, ChangeType::Deleted);
  out.clear();
  EXPECT_FALSE(s.changes_since(0, out)) << "history holds 3 changes: rv 0 is too old";
}

// The bench's Server (bench/kube/objects.py: 16 DIMMs, 4 NVMe, 4 NICs; 4.4 KB of JSON) with
// the name (and system uuid) "@NAME@".
constexpr const char* kFleetServer = R"({"apiVersion":"metal.sidero.dev/v1alpha2","kind":"Server","metadata":{"name":"@NAME@","labels":{"rack":"r7"}},"spec":{"accepted":false,"hostname":"node-7","hardware":{"system":{"uuid":"@NAME@","manufacturer":"Dell Inc.","productName":"PowerEdge R6525","version":"1.0","serialNumber":"SN00000007","skuNumber":"SKU=0A3E","family":"PowerEdge"},"compute":{"totalCoreCount":64,"totalThreadCount":128,"processorCount":2,"processors":[{"manufacturer":"AMD","productName":"AMD EPYC 7543 32-Core Processor","serialNumber":"9M0000070","speed":2800,"coreCount":32,"threadCount":64},{"manufacturer":"AMD","productName":"AMD EPYC 7543 32-Core Processor","serialNumber":"9M0000071","speed":2800,"coreCount":32,"threadCount":64}]},"memory":{"totalSize":"512 GB","moduleCount":16,"modules":[{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000700","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000701","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000702","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000703","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000704","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000705","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000706","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000707","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000708","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"00000709","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"0000070A","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"0000070B","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"0000070C","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"0000070D","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"0000070E","type":"DDR4","size":32768,"speed":3200},{"manufacturer":"Samsung","productName":"M393A4K40EB3-CWE","serialNumber":"0000070F","type":"DDR4","size":32768,"speed":3200}]},"storage":{"totalSize":"3.8 TB","deviceCount":4,"devices":[{"type":"NVMe","size":960197124096,"productName":"SAMSUNG MZQL2960HCJR-00A07","serialNumber":"S64FNE0R0000070","name":"nvme0n1","deviceName":"/dev/nvme0n1","uuid":"","wwid":"eui.363446305290000070"},{"type":"NVMe","size":960197124096,"productName":"SAMSUNG MZQL2960HCJR-00A07","serialNumber":"S64FNE0R0000071","name":"nvme1n1","deviceName":"/dev/nvme1n1","uuid":"","wwid":"eui.363446305290000071"},{"type":"NVMe","size":960197124096,"productName":"SAMSUNG MZQL2960HCJR-00A07","serialNumber":"S64FNE0R0000072","name":"nvme2n1","deviceName":"/dev/nvme2n1","uuid":"","wwid":"eui.363446305290000072"},{"type":"NVMe","size":960197124096,"productName":"SAMSUNG MZQL2960HCJR-00A07","serialNumber":"S64FNE0R0000073","name":"nvme3n1","deviceName":"/dev/nvme3n1","uuid":"","wwid":"eui.363446305290000073"}]},"network":{"interfaceCount":4,"interfaces":[{"index":2,"name":"eno1","flags":"up|broadcast|multicast","mtu":1500,"mac":"b4:96:91:00:00:07","addresses":["10.0.0.7/16","fe80::b696:91ff:fe00:0700/64"]},{"index":3,"name":"eno2","flags":"up|broadcast|multicast","mtu":1500,"mac":"b4:96:91:00:00:06","addresses":["10.1.0.7/16","fe80::b696:91ff:fe00:0701/64"]},{"index":4,"name":"eno3","flags":"up|broadcast|multicast","mtu":1500,"mac":"b4:96:91:00:00:05","addresses":["10.2.0.7/16","fe80::b696:91ff:fe00:0702/64"]},{"index":5,"name":"eno4","flags":"up|broadcast|multicast","mtu":1500,"mac":"b4:96:91:00:00:04","addresses":["10.3.0.7/16","fe80::b696:91ff:fe00:0703/64"]}]}}}})";

TEST(Store, KeepsAboutTheTextOfEachObject) {
  // A boost::json tree of this Server takes about 13 KB in ~290 allocations; the store keeps
  // the text plus a small index, so 1,000 of them must fit well under twice their text.
  Store store;
  ApiHandler handler{store, [] { return std::chrono::system_clock::time_point{}; }, [] { return random_uid(); }};
  const std::string tmpl = kFleetServer;
  std::size_t text_bytes = 0;
  const std::size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 1000; ++i) {
    std::string body = tmpl;
    const std::string name = "00000000-0000-4000-8000-" + std::string(12 - std::to_string(i).size(), '0') + std::to_string(i);
    for (auto at = body.find("@NAME@"); at != std::string::npos; at = body.find("@NAME@")) body.replace(at, 6, name);
    auto r = handler.handle(ApiRequest{"POST", "/apis/metal.sidero.dev/v1alpha2/servers", "application/json",
                                       "application/json", body});
    ASSERT_EQ(r.response.status, 201u) << r.response.body;
    text_bytes += store.find("servers", name)->json().size();
  }
  const std::size_t used = mallinfo2().uordblks - before;
  const double per_object = static_cast<double>(used) / 1000, text = static_cast<double>(text_bytes) / 1000;
  std::printf("store heap per Server: %.0f bytes for %.0f bytes of text (history included)\n", per_object, text);
  EXPECT_LT(per_object, 1.5 * text);
}

// The bench's Events (0.56 KB each): text, index (the involvedObject field-selector values,
// last-seen time), map node and history entry.
TEST(Store, KeepsAboutTheTextOfEachEvent) {
  Store store;
  ApiHandler handler{store, [] { return std::chrono::system_clock::time_point{}; }, [] { return random_uid(); }};
  handler.ensure_initial_namespaces();
  std::size_t text_bytes = 0;
  const std::size_t before = mallinfo2().uordblks;
  for (int i = 0; i < 5000; ++i) {
    const std::string server = "00000000-0000-4000-8000-" + std::string(12 - std::to_string(i % 1000).size(), '0') + std::to_string(i % 1000);
    const std::string name = server + "." + std::to_string(1000000 + i);
    json::object involved{{"apiVersion", kApiVersion}, {"kind", "Server"}, {"name", server}, {"uid", random_uid()}};
    json::object event{{"apiVersion", "v1"}, {"kind", "Event"},
                       {"metadata", json::object{{"name", name}, {"namespace", "default"}}},
                       {"involvedObject", involved}, {"reason", "Registered"},
                       {"message", "Registered by the benchmark (event " + std::to_string(i) + ")"}, {"type", "Normal"},
                       {"source", json::object{{"component", "ironboot"}}}, {"count", 1},
                       {"firstTimestamp", "2026-12-03T09:00:00Z"}, {"lastTimestamp", "2026-12-03T09:00:00Z"},
                       {"reportingComponent", "ironboot"}, {"reportingInstance", "bench"}};
    auto r = handler.handle(ApiRequest{"POST", "/api/v1/namespaces/default/events", "application/json", "application/json",
                                       json::serialize(event)});
    ASSERT_EQ(r.response.status, 201u) << r.response.body;
    text_bytes += store.find("events", "default/" + name)->json().size();
  }
  const std::size_t used = mallinfo2().uordblks - before;
  const double per_object = static_cast<double>(used) / 5000, text = static_cast<double>(text_bytes) / 5000;
  std::printf("store heap per Event: %.0f bytes for %.0f bytes of text (history included)\n", per_object, text);
  EXPECT_LT(per_object, 2.5 * text);
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
  EXPECT_EQ(json::parse(s.find("servers", "a")->json()), json::value(*s.get("servers", "a"))) << "loaded objects have their text";
  EXPECT_EQ(s.find("servers", "a")->rv(), 1u);
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
  // A flipped byte in the middle of acknowledged records (a commit record follows) is not a
  // torn tail: start-up is refused, naming the offset, and a copy of the log goes aside.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(good_size / 2));
    f.put('#');
  }
  Store s;
  try {
    StoreLog log(path, s);
    FAIL() << "a corrupt log loaded";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("is corrupt at offset "), std::string::npos) << what;
    EXPECT_NE(what.find("checksum mismatch"), std::string::npos) << what;
    EXPECT_NE(what.find("a copy of the log is at " + path + ".corrupt-"), std::string::npos) << what;
  }
  EXPECT_EQ(std::filesystem::file_size(path), good_size) << "the log itself is left alone";
  int copies = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path))
    if (e.path().filename().string().rfind("store.log.corrupt-", 0) == 0) ++copies;
  EXPECT_EQ(copies, 1);
}

TEST(StoreLog, ABatchWithoutItsCommitRecordIsDropped) {
  TempDir dir;
  const std::string path = dir.path + "/store.log";
  {
    Store s;
    StoreLog log(path, s);
    s.set_journal(&log);
    s.put("servers", obj("a", 1));
    ASSERT_EQ(log.flush(), "");
  }
  const auto good_size = std::filesystem::file_size(path);
  {
    // Complete records, but the write was cut before the batch's commit record.
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << StoreLog::encode_record(StoreLog::put_payload(2, "servers", R"({"metadata":{"name":"b"}})"));
    out << StoreLog::encode_record(StoreLog::put_payload(3, "servers", R"({"metadata":{"name":"c"}})"));
  }
  Store s;
  StoreLog log(path, s);
  EXPECT_EQ(s.objects("servers").size(), 1u);
  EXPECT_EQ(log.load_stats().drop_reason, "batch without its commit record");
  EXPECT_EQ(std::filesystem::file_size(path), good_size);
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
