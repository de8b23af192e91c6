// Named readiness checks behind GET /readyz. Other areas register theirs (the cluster area:
// "informer cache synced"); /readyz answers 200 only when every check passes.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ironboot::http {

class Readiness {
 public:
  using Check = std::function<bool()>;
  // Checks run on the event loop for every /readyz request: keep them cheap and non-blocking.
  void add(std::string name, Check check) { checks_.emplace_back(std::move(name), std::move(check)); }

  struct Result {
    bool ready = true;
    std::vector<std::pair<std::string, bool>> checks;
  };
  Result evaluate() const {
    Result r;
    for (const auto& [name, check] : checks_) {
      const bool ok = check();
      r.ready = r.ready && ok;
      r.checks.emplace_back(name, ok);
    }
    return r;
  }

 private:
  std::vector<std::pair<std::string, Check>> checks_;
};

}  // namespace ironboot::http
