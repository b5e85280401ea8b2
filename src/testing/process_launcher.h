#pragma once

// Starts real processes (our servers, etcd, ...) for integration and fault tests and makes sure
// they never outlive the test: each child runs in its own process group, which is SIGKILLed
// when its ChildProcess is destroyed, and the kernel SIGKILLs the child if the test dies.

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mooncake/common/status.h"
#include "testing/temp_dir.h"

namespace mooncake::testing {

struct ProcessOptions {
  // Path of the executable (not searched in $PATH); also passed as argv[0]. Required.
  std::string binary;
  // argv[1..]. Default: none.
  std::vector<std::string> args;
  // Set in the child on top of the parent's environment, overriding same-named variables.
  std::vector<std::pair<std::string, std::string>> extra_env;
  // File receiving the child's stdout and stderr (truncated first). Default: "<name>.log" in a
  // temp dir owned (and deleted) by the ChildProcess. stdin is /dev/null.
  std::string log_path;
};

// One running child. Not thread-safe: use from one thread, the one that called Start() (the
// parent-death signal is tied to that thread).
class ChildProcess {
 public:
  // Forks and execs; fails, with errno text, when the binary cannot be executed.
  static Result<std::unique_ptr<ChildProcess>> Start(ProcessOptions options);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // SIGKILLs the whole process group and reaps the child.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // Waits until the log holds a line starting with `prefix` (the child must flush it). Fails
  // with the log's last lines if the child exits first or `timeout` passes.
  Status WaitForLine(std::string_view prefix, std::chrono::milliseconds timeout);

  // Sends `signal` to the child's process group. For SIGKILL, also waits (bounded) until the
  // child is dead, so Running() is false on return.
  void Kill(int signal = SIGKILL);

  // Waits for the child to exit; returns its exit code, or 128 + signal number if a signal
  // killed it (the shell's convention). On timeout, SIGKILLs the group and returns an error.
  Result<int> Wait(std::chrono::milliseconds timeout);

  // False once the child has exited (or been killed).
  bool Running();

  // The whole log so far; empty if it cannot be read.
  std::string ReadLog() const;

 private:
  ChildProcess(pid_t pid, std::string binary, std::string log_path, std::optional<TempDir> log_dir);

  // Polls for exit until `deadline`; true if the child has exited. Never reaps, so the pid (and
  // with it the process group id) stays reserved until the destructor.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline);
  std::string Describe() const;  // "'<binary>' (pid N)"
  std::string LogTail() const;

  pid_t pid_;
  std::string binary_;
  std::string log_path_;
  std::optional<TempDir> log_dir_;
  std::optional<int> exit_status_;  // Set once the child has exited.
};

}  // namespace mooncake::testing
