// libFuzzer target: kubeconfig YAML and ExecCredential JSON parsing (parse parts only, no
// files read: base_dir does not exist). Corpus: tests/fuzz/corpus/kube_kubeconfig/.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kube/kubeconfig.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  std::string error;
  (void)ironboot::kube::parse_kubeconfig(in, "/nonexistent-fuzz-dir", &error);
  (void)ironboot::kube::parse_exec_credential(in, &error);
  return 0;
}
