#include "kube/exec_plugin.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <memory>
#include <vector>

extern char** environ;

namespace ironboot::kube {
namespace {

namespace net = boost::asio;

// One run: the child, its stdout, its pidfd and the timeout. Kept alive by the pending
// handlers; completes once when both EOF and the exit were seen, or at the timeout.
struct ExecRun : std::enable_shared_from_this<ExecRun> {
  ExecRun(net::io_context& io, pid_t child, int stdout_fd, int pid_fd, ExecPluginDone on_done)
      : pid(child), out(io, stdout_fd), exited(io, pid_fd), timer(io), done(std::move(on_done)) {}

  void start(std::chrono::milliseconds timeout) {
    timer.expires_after(timeout);
    timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->finish_timed_out();
    });
    read_more();
    // A pidfd becomes readable when the process exits.
    exited.async_wait(net::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (ec) return;
                        self->exit_seen = true;
                        self->maybe_finish();
                      });
  }

  void read_more() {
    out.async_read_some(net::buffer(chunk), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
      if (self->finished) return;
      self->output.append(self->chunk.data(), n);
      if (self->output.size() > kMaxExecPluginOutput) return self->fail_kill("exec plugin printed more than 1 MiB");
      if (ec) {
        self->eof_seen = true;
        return self->maybe_finish();
      }
      self->read_more();
    });
  }

  void maybe_finish() {
    if (finished || !eof_seen || !exit_seen) return;
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);  // exited: does not block
    if (r != pid) return fail_kill("exec plugin exit status unavailable");
    finished = true;
    cancel_all();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      const std::string how = WIFEXITED(status) ? "exit " + std::to_string(WEXITSTATUS(status))
                                                : "signal " + std::to_string(WTERMSIG(status));
      return done(std::nullopt, "exec plugin failed (" + how + ")");
    }
    std::string error;
    auto credential = parse_exec_credential(output, &error);
    done(std::move(credential), std::move(error));
  }

  void finish_timed_out() { fail_kill("exec plugin timed out"); }

  void fail_kill(std::string why) {
    if (finished) return;
    finished = true;
    cancel_all();
    ::kill(pid, SIGKILL);
    reap_later(out.get_executor());
    done(std::nullopt, std::move(why));
  }

  // The killed child exits at once; reap it from its pidfd without waiting here.
  void reap_later(const net::any_io_executor&) {
    exited.async_wait(net::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](const boost::system::error_code&) {
                        int status = 0;
                        ::waitpid(self->pid, &status, WNOHANG);
                      });
  }

  void cancel_all() {
    timer.cancel();
    boost::system::error_code ignored;
    out.cancel(ignored);
    exited.cancel(ignored);
  }

  pid_t pid;
  net::posix::stream_descriptor out;
  net::posix::stream_descriptor exited;
  net::steady_timer timer;
  ExecPluginDone done;
  std::array<char, 4096> chunk{};
  std::string output;
  bool eof_seen = false, exit_seen = false, finished = false;
};

}  // namespace

void run_exec_plugin_async(net::io_context& io, const ExecPlugin& plugin, std::chrono::milliseconds timeout,
                           ExecPluginDone done) {
  auto fail = [&](std::string why) {
    net::post(io, [done = std::move(done), why = std::move(why)] { done(std::nullopt, why); });
  };
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return fail("exec plugin: pipe failed");
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const auto& [k, v] : plugin.env) env_strings.push_back(k + "=" + v);
  env_strings.push_back("KUBERNETES_EXEC_INFO={\"apiVersion\":\"" + plugin.api_version +
                        "\",\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}");
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string cmd = plugin.command;
  std::vector<std::string> args = plugin.args;
  argv.push_back(cmd.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  // posix_spawn is a vfork and exec: it returns once the child has exec'd (or failed to).
  const int rc = posix_spawnp(&pid, cmd.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  if (rc != 0) {
    ::close(out[0]);
    return fail("cannot run exec plugin " + cmd);
  }
  const int pid_fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pid_fd < 0) {
    ::kill(pid, SIGKILL);
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);  // killed: returns at once
    return fail("exec plugin: pidfd_open failed");
  }
  ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
  auto run = std::make_shared<ExecRun>(io, pid, out[0], pid_fd, std::move(done));
  run->start(timeout);
}

}  // namespace ironboot::kube
