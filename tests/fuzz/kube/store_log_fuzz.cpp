// libFuzzer target: store-log replay. Each input is written as store.log in a scratch data
// directory and opened with StoreLog, as the daemon does at start-up: framing, checksums,
// commit records, sealed Secrets, torn tails (truncated), bad records mid-log (start-up
// refused after a copy is moved aside). A refused log is a runtime_error, any other outcome a
// bug. What loads is written again (a put and a flush) and must load once more with the same
// objects. Corpus: tests/fuzz/corpus/kube_store_log/ (seeded from logs written by the daemon
// with the key below; regenerate with tests/fuzz/kube/seed_store_log.py).
#include <dirent.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>

#include <boost/json.hpp>

#include "common/log.hpp"
#include "kube/store.hpp"
#include "kube/store_log.hpp"

namespace {

using namespace ironboot::kube;

// The Secrets key the seed logs were written with (a test key, used nowhere else).
constexpr const char* kKeyFile =
    "# ironboot Secrets-at-rest keys\n"
    "fuzzkey1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";

const std::string& scratch_dir() {
  static const std::string dir = [] {
    // tmpfs when there is one: every load truncates and fsyncs, every flush fdatasyncs.
    char shm[] = "/dev/shm/ironboot-store-log-fuzz-XXXXXX";
    char tmp[] = "/tmp/ironboot-store-log-fuzz-XXXXXX";
    const char* d = ::mkdtemp(shm);
    if (d == nullptr) d = ::mkdtemp(tmp);
    if (d == nullptr) std::abort();
    return std::string(d);
  }();
  return dir;
}

void clear_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

const SecretKeyring& keys() {
  static const SecretKeyring k = [] {
    std::string error;
    auto parsed = SecretKeyring::parse(kKeyFile, error);
    if (!parsed) {
      std::fprintf(stderr, "fuzz key: %s\n", error.c_str());
      std::abort();
    }
    return *parsed;
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ironboot::init_logging("off");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string& dir = scratch_dir();
  clear_dir(dir);
  const std::string path = dir + "/store.log";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::size_t objects = 0;
  std::uint64_t rv = 0;
  try {
    Store store;
    StoreLog log(path, store, keys());
    store.set_journal(&log);
    objects = store.size();
    rv = store.resource_version();
    // What loaded takes a write on top, like the daemon's first change after start-up.
    store.put("servers", boost::json::parse(R"({"metadata":{"name":"fuzz-after-load"}})").as_object());
    if (!log.flush().empty()) std::abort();
  } catch (const std::runtime_error&) {
    clear_dir(dir);
    return 0;  // refused: a bad record before acknowledged data, or a record that does not authenticate
  }
  try {
    Store again;
    StoreLog reopened(path, again, keys());
    if (again.resource_version() <= rv) std::abort();
    if (again.size() < objects || again.size() > objects + 1) std::abort();
  } catch (const std::runtime_error& e) {
    std::fprintf(stderr, "a log written after a successful load does not load: %s\n", e.what());
    std::abort();
  }
  clear_dir(dir);
  return 0;
}
