#include "testing/process_launcher.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace mooncake::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// SIGKILL cannot be caught, so death follows promptly; this only bounds a wedged kernel.
constexpr auto kReapTimeout = std::chrono::seconds(10);
constexpr auto kMaxPollInterval = milliseconds(20);
constexpr int kTailLines = 20;

// Closes the descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string ErrnoText(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Polls with exponential backoff (1 ms .. 20 ms) but never sleeps past `deadline`.
void SleepBackoff(milliseconds* interval, steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
  std::this_thread::sleep_for(std::max(milliseconds(0), std::min(*interval, left)));
  *interval = std::min(*interval * 2, kMaxPollInterval);
}

std::vector<std::string> BuildEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    bool overridden =
        std::any_of(extra.begin(), extra.end(), [&](const auto& kv) { return kv.first == key; });
    if (!overridden) env.emplace_back(entry);
  }
  for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> CPointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void ExecChild(pid_t parent, int log_fd, int null_fd, int error_fd, char** argv,
                            char** envp) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // The parent died before prctl took effect.
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(log_fd, STDOUT_FILENO);
  ::dup2(log_fd, STDERR_FILENO);
  // Ignored signals and the signal mask survive exec; a server must start with defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
  ::execve(argv[0], argv, envp);
  int err = errno;
  ssize_t ignored = ::write(error_fd, &err, sizeof(err));
  (void)ignored;
  ::_exit(127);
}

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(ProcessOptions options) {
  if (options.binary.empty()) return InvalidParams("ProcessOptions.binary is empty");
  std::optional<TempDir> log_dir;
  if (options.log_path.empty()) {
    MC_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("mc_child"));
    std::string name = options.binary.substr(options.binary.find_last_of('/') + 1);
    options.log_path = dir.File(name + ".log");
    log_dir.emplace(std::move(dir));
  }

  std::vector<std::string> argv_strings{options.binary};
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env_strings = BuildEnvironment(options.extra_env);
  std::vector<char*> argv = CPointers(argv_strings);
  std::vector<char*> envp = CPointers(env_strings);

  Fd log_fd(
      ::open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
  if (log_fd.get() < 0) return InternalError(ErrnoText("cannot open log " + options.log_path));
  Fd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_fd.get() < 0) return InternalError(ErrnoText("cannot open /dev/null"));
  // The child reports a failed execve through this pipe; a successful exec closes it (CLOEXEC).
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return InternalError(ErrnoText("pipe2"));
  Fd error_read(pipe_fds[0]);
  Fd error_write(pipe_fds[1]);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return InternalError(ErrnoText("fork"));
  if (pid == 0) {
    ExecChild(parent, log_fd.get(), null_fd.get(), error_write.get(), argv.data(), envp.data());
  }
  error_write.Reset();
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(error_read.get(), &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    ::waitpid(pid, nullptr, 0);  // The child _exit()s right after writing.
    return InternalError("cannot execute '" + options.binary + "': " + std::strerror(child_errno));
  }
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(pid, options.binary, options.log_path, std::move(log_dir)));
}

ChildProcess::ChildProcess(pid_t pid, std::string binary, std::string log_path,
                           std::optional<TempDir> log_dir)
    : pid_(pid),
      binary_(std::move(binary)),
      log_path_(std::move(log_path)),
      log_dir_(std::move(log_dir)) {}

ChildProcess::~ChildProcess() {
  // Kill the group even if the leader already exited: its own children may still run. The
  // unreaped leader keeps the group id from being reused, so this cannot hit a stranger.
  ::kill(-pid_, SIGKILL);
  WaitUntil(steady_clock::now() + kReapTimeout);
  ::waitpid(pid_, nullptr, WNOHANG);
}

bool ChildProcess::Running() {
  if (exit_status_.has_value()) return false;
  siginfo_t info{};
  if (::waitid(P_PID, pid_, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == EINTR) return true;
    exit_status_ = -1;  // ECHILD: someone else reaped it; the status is lost.
    return false;
  }
  if (info.si_pid == 0) return true;
  exit_status_ = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  return false;
}

bool ChildProcess::WaitUntil(steady_clock::time_point deadline) {
  milliseconds interval(1);
  while (Running()) {
    if (steady_clock::now() >= deadline) return false;
    SleepBackoff(&interval, deadline);
  }
  return true;
}

void ChildProcess::Kill(int signal) {
  ::kill(-pid_, signal);
  if (signal == SIGKILL) WaitUntil(steady_clock::now() + kReapTimeout);
}

Result<int> ChildProcess::Wait(milliseconds timeout) {
  if (!WaitUntil(steady_clock::now() + timeout)) {
    Kill(SIGKILL);
    return InternalError(Describe() + " did not exit within " + std::to_string(timeout.count()) +
                         " ms and was killed; last log lines:\n" + LogTail());
  }
  if (*exit_status_ < 0) return InternalError(Describe() + " was reaped elsewhere");
  return *exit_status_;
}

Status ChildProcess::WaitForLine(std::string_view prefix, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  Fd fd(::open(log_path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return InternalError(ErrnoText("cannot open log " + log_path_));
  std::string pending;  // Read but not yet ended by '\n'.
  off_t offset = 0;
  milliseconds interval(1);
  for (;;) {
    // Checked before reading, so everything a dead child wrote is seen below.
    const bool exited = !Running();
    char buf[16384];
    ssize_t n;
    while ((n = ::pread(fd.get(), buf, sizeof(buf), offset)) > 0) {
      offset += n;
      pending.append(buf, static_cast<size_t>(n));
      size_t start = 0;
      for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
        if (std::string_view(pending).substr(start, end - start).starts_with(prefix)) {
          return Status::Ok();
        }
      }
      pending.erase(0, start);
    }
    // An unterminated last line counts too: the child may print "READY" without a newline.
    if (std::string_view(pending).starts_with(prefix)) return Status::Ok();
    std::string wanted = "a line starting with '" + std::string(prefix) + "'";
    if (exited) {
      return InternalError(Describe() + " exited with status " + std::to_string(*exit_status_) +
                           " before printing " + wanted + "; last log lines:\n" + LogTail());
    }
    if (steady_clock::now() >= deadline) {
      return InternalError(Describe() + " printed no " + wanted + " within " +
                           std::to_string(timeout.count()) + " ms; last log lines:\n" + LogTail());
    }
    SleepBackoff(&interval, deadline);
  }
}

std::string ChildProcess::ReadLog() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ChildProcess::LogTail() const {
  std::string log = ReadLog();
  size_t pos = log.size();
  if (pos > 0 && log[pos - 1] == '\n') --pos;
  for (int lines = 0; pos > 0; --pos) {
    if (log[pos - 1] == '\n' && ++lines == kTailLines) break;
  }
  return log.empty() ? "(log is empty)" : log.substr(pos);
}

std::string ChildProcess::Describe() const {
  return "'" + binary_ + "' (pid " + std::to_string(pid_) + ")";
}

}  // namespace mooncake::testing
