// What the store and store-log tests share: a minimal object and a temporary data dir.
#pragma once

#include <stdlib.h>

#include <boost/json/object.hpp>
#include <filesystem>
#include <string>

namespace ironboot::kube::store_testing {

inline boost::json::object obj(const std::string& name, int v) {
  return boost::json::object{{"metadata", boost::json::object{{"name", name}}},
                             {"spec", boost::json::object{{"v", v}}}};
}

// A fresh directory under /tmp, removed with everything in it at the end of the test.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/kube-store-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

}  // namespace ironboot::kube::store_testing
