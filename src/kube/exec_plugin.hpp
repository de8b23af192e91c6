// Runs a kubeconfig exec credential plugin (client.authentication.k8s.io ExecCredential) as a
// child process without blocking the event loop: posix_spawn, its stdout read through a
// stream_descriptor, its exit observed through a pidfd, SIGKILL at the timeout. The child's
// stdin is /dev/null and KUBERNETES_EXEC_INFO is set as client-go sets it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "kube/kubeconfig.hpp"

namespace boost::asio {
class io_context;
}

namespace ironboot::kube {

// `done` runs once on the io_context thread: the credential, or nullopt and the reason
// ("exec plugin timed out", "exec plugin failed (exit 3)", a parse error, ...).
using ExecPluginDone = std::function<void(std::optional<ExecCredential>, std::string error)>;
void run_exec_plugin_async(boost::asio::io_context& io, const ExecPlugin& plugin, std::chrono::milliseconds timeout,
                           ExecPluginDone done);

// The largest stdout accepted from a plugin; more fails the run.
inline constexpr std::size_t kMaxExecPluginOutput = 1024 * 1024;

}  // namespace ironboot::kube
