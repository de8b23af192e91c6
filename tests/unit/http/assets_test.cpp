#include "http/assets.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace ironboot::http {
namespace {

namespace fs = std::filesystem;
using Kind = RangeResult::Kind;

TEST(Range, Forms) {
  auto r = parse_range("bytes=0-99", 1000);
  EXPECT_EQ(r.kind, Kind::partial);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 100u);
  r = parse_range("bytes=500-", 1000);
  EXPECT_EQ(r.offset, 500u);
  EXPECT_EQ(r.length, 500u);
  r = parse_range("bytes=-100", 1000);
  EXPECT_EQ(r.offset, 900u);
  EXPECT_EQ(r.length, 100u);
  r = parse_range("bytes=-5000", 1000);
  EXPECT_EQ(r.offset, 0u);
  EXPECT_EQ(r.length, 1000u);
  r = parse_range("bytes=990-5000", 1000);
  EXPECT_EQ(r.offset, 990u);
  EXPECT_EQ(r.length, 10u);
  EXPECT_EQ(parse_range("BYTES=1-1", 10).kind, Kind::partial);
}

TEST(Range, UnsatisfiableAndIgnored) {
  EXPECT_EQ(parse_range("bytes=1000-", 1000).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 1000).kind, Kind::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).kind, Kind::unsatisfiable);
  for (const char* h : {"bytes=5-1", "items=0-1", "bytes=0-1,5-6", "bytes=a-b", "bytes=", "bytes=-",
                        "bytes=99999999999999999999999-"})
    EXPECT_EQ(parse_range(h, 1000).kind, Kind::full) << h;
}

TEST(Validators, EtagAndDates) {
  FileInfo i{10, 1700000000, 5, 42};
  const std::string etag = make_etag(i);
  EXPECT_TRUE(etag_matches(etag, etag));
  EXPECT_TRUE(etag_matches("\"x\", W/" + etag, etag));
  EXPECT_TRUE(etag_matches("*", etag));
  EXPECT_FALSE(etag_matches("\"x\"", etag));
  EXPECT_NE(make_etag({11, 1700000000, 5, 42}), etag);
  EXPECT_EQ(http_date(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"), 1700000000);
  EXPECT_FALSE(parse_http_date("yesterday"));
}

http::Request get(std::vector<http::Header> headers = {}) {
  http::Request r;
  r.method = "GET";
  r.path = "/assets/x/f";
  r.headers = std::move(headers);
  return r;
}

std::string header(const http::Response& r, const std::string& name) {
  for (const auto& h : r.headers)
    if (h.name == name) return h.value;
  return {};
}

TEST(FileResponse, ConditionalAndRange) {
  FileInfo info{1000, 1700000000, 0, 7};
  const std::string etag = make_etag(info);
  auto r = file_response(get(), nullptr, info, "vmlinuz");
  EXPECT_EQ(r.status, 200);
  ASSERT_TRUE(r.file);
  EXPECT_EQ(r.file->length, 1000u);
  EXPECT_EQ(header(r, "ETag"), etag);
  EXPECT_EQ(header(r, "Last-Modified"), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(header(r, "Content-Type"), "application/octet-stream");

  EXPECT_EQ(file_response(get({{"If-None-Match", etag}}), nullptr, info, "f").status, 304);
  EXPECT_EQ(file_response(get({{"if-none-match", "\"other\""}}), nullptr, info, "f").status, 200);
  EXPECT_EQ(file_response(get({{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"}}), nullptr, info, "f").status, 304);
  EXPECT_EQ(file_response(get({{"If-Modified-Since", "Tue, 14 Nov 2023 22:13:19 GMT"}}), nullptr, info, "f").status, 200);

  auto p = file_response(get({{"Range", "bytes=100-199"}}), nullptr, info, "f");
  EXPECT_EQ(p.status, 206);
  EXPECT_EQ(header(p, "Content-Range"), "bytes 100-199/1000");
  EXPECT_EQ(p.file->offset, 100u);
  EXPECT_EQ(p.file->length, 100u);

  auto u = file_response(get({{"Range", "bytes=1000-"}}), nullptr, info, "f");
  EXPECT_EQ(u.status, 416);
  EXPECT_EQ(header(u, "Content-Range"), "bytes */1000");
  EXPECT_FALSE(u.file);

  EXPECT_EQ(file_response(get({{"Range", "bytes=0-1"}, {"If-Range", "\"old\""}}), nullptr, info, "f").status, 200);
  EXPECT_EQ(file_response(get({{"Range", "bytes=0-1"}, {"If-Range", etag}}), nullptr, info, "f").status, 206);
}

TEST(AssetPath, Cleaning) {
  EXPECT_EQ(clean_asset_path("tftp/ipxe.efi"), "tftp/ipxe.efi");
  EXPECT_EQ(clean_asset_path("d/a%20b"), "d/a b");
  EXPECT_EQ(clean_asset_path("d/a..b"), "d/a..b");
  for (const char* bad : {"", "/etc/passwd", "d/../x", "d/%2e%2e/x", "d//x", "d/./x", "d/x/", "d/%00", "d/a\\b",
                          "d/%zz", "d/%2E%2E"})
    EXPECT_FALSE(clean_asset_path(bad)) << bad;
}

class AssetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("ipxe-assets-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "root/sub");
    fs::create_directories(base_ / "outside");
    write(base_ / "root/sub/file.bin", "hello");
    write(base_ / "outside/secret", "secret");
    fs::create_directories(base_ / "boot");
    write(base_ / "boot/ipxe.efi", "EFI");
    fs::create_symlink(base_ / "outside/secret", base_ / "root/escape");
    fs::create_symlink("../outside/secret", base_ / "root/escape-rel");
    fs::create_symlink("sub/file.bin", base_ / "root/inside");
    fs::create_symlink(base_ / "boot/ipxe.efi", base_ / "root/ipxe.efi");
  }
  void TearDown() override { fs::remove_all(base_); }
  static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }
  static std::string read_all(const Opened& o) {
    std::string s(o.info.size, '\0');
    EXPECT_EQ(::pread(o.file->fd(), s.data(), s.size(), 0), static_cast<ssize_t>(s.size()));
    return s;
  }
  fs::path base_;
};

TEST_F(AssetStoreTest, ServesInsideRefusesEscapes) {
  AssetStore store;
  ASSERT_EQ(store.add_dir("tftp", (base_ / "root").string()), "");
  auto ok = store.open("tftp/sub/file.bin");
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(read_all(ok), "hello");
  EXPECT_EQ(store.open("tftp/inside").status, 200);
  EXPECT_EQ(store.open("tftp/sub/%66ile.bin").status, 200);
  for (const char* bad : {"tftp/escape", "tftp/escape-rel", "tftp/../outside/secret", "tftp/%2e%2e/outside/secret",
                          "tftp/sub", "tftp/missing", "nomount/x", "tftp", "tftp/ipxe.efi"})
    EXPECT_EQ(store.open(bad).status, 404) << bad;
}

TEST_F(AssetStoreTest, SymlinksIntoFollowDirsAndNamedFiles) {
  AssetStore store;
  ASSERT_EQ(store.add_dir("tftp", (base_ / "root").string(), {(base_ / "boot").string()}), "");
  store.add_file("agent", "vmlinuz", (base_ / "outside/secret").string());
  auto efi = store.open("tftp/ipxe.efi");
  ASSERT_EQ(efi.status, 200);
  EXPECT_EQ(read_all(efi), "EFI");
  EXPECT_EQ(store.open("agent/vmlinuz").status, 200);
  EXPECT_EQ(store.open("agent/other").status, 404);
  EXPECT_EQ(store.open("tftp/escape").status, 404);
  EXPECT_EQ(store.open("tftp/escape-rel").status, 404);
  EXPECT_EQ(store.open("tftp/sub/file.bin").status, 200);
  EXPECT_NE(store.add_dir("tftp", (base_ / "root").string()), "");
  EXPECT_NE(store.add_dir("x", (base_ / "missing").string()), "");
}

TEST_F(AssetStoreTest, HandleAnswers404AndRanges) {
  AssetStore store;
  ASSERT_EQ(store.add_dir("d", (base_ / "root").string()), "");
  http::Request r;
  r.method = "GET";
  r.path = "/assets/d/sub/file.bin";
  r.headers = {{"Range", "bytes=1-2"}};
  auto res = store.handle(r);
  EXPECT_EQ(res.status, 206);
  ASSERT_TRUE(res.file);
  EXPECT_EQ(res.file->offset, 1u);
  r.path = "/assets/d/../../etc/passwd";
  EXPECT_EQ(store.handle(r).status, 404);
}

}  // namespace
}  // namespace ironboot::http
