#include "testing/process_launcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include "testing/temp_dir.h"

namespace mooncake::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<ChildProcess> StartShell(const std::string& script, ProcessOptions options = {}) {
  options.binary = "/bin/sh";
  options.args = {"-c", script};
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(std::move(options));
  EXPECT_TRUE(child.ok()) << child.status().ToString();
  return child.ok() ? std::move(child).value() : nullptr;
}

// True once `pid` is gone or a zombie (a dead grandchild waits for init to reap it).
bool ProcessIsDead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

TEST(ChildProcessTest, WaitForLineSeesReadyAndKillStopsTheChild) {
  auto child = StartShell("echo starting; echo READY port=1; sleep 30");
  ASSERT_NE(child, nullptr);
  EXPECT_GT(child->pid(), 0);
  ASSERT_TRUE(child->WaitForLine("READY", seconds(10)).ok());
  EXPECT_TRUE(child->Running());
  child->Kill();
  EXPECT_FALSE(child->Running());
  Result<int> status = child->Wait(seconds(1));
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(*status, 128 + SIGKILL);
}

TEST(ChildProcessTest, WaitForLineMatchesOnlyAtLineStart) {
  auto child = StartShell("echo 'not READY'; echo READY; sleep 30");
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("READY", seconds(10)).ok());
  Status status = child->WaitForLine("not READY", seconds(10));
  EXPECT_TRUE(status.ok()) << status.ToString();
  status = child->WaitForLine("ADY", milliseconds(50));
  EXPECT_FALSE(status.ok());
}

TEST(ChildProcessTest, ChildExitingBeforeReadyFailsFastWithItsLog) {
  auto child = StartShell("echo 'config error: bad port' >&2; exit 2");
  ASSERT_NE(child, nullptr);
  const auto start = std::chrono::steady_clock::now();
  Status status = child->WaitForLine("READY", seconds(30));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), AllOf(HasSubstr("/bin/sh"), HasSubstr("exited with status 2"),
                                      HasSubstr("'READY'"), HasSubstr("config error: bad port")));
}

TEST(ChildProcessTest, WaitForLineTimesOutWithItsLog) {
  auto child = StartShell("echo still loading; sleep 30");
  ASSERT_NE(child, nullptr);
  Status status = child->WaitForLine("READY", milliseconds(200));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), AllOf(HasSubstr("within 200 ms"), HasSubstr("still loading")));
  EXPECT_TRUE(child->Running());
}

TEST(ChildProcessTest, WaitReturnsTheExitCode) {
  auto child = StartShell("exit 3");
  ASSERT_NE(child, nullptr);
  Result<int> status = child->Wait(seconds(10));
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(*status, 3);
  EXPECT_FALSE(child->Running());
}

TEST(ChildProcessTest, WaitTimeoutKillsTheChild) {
  auto child = StartShell("sleep 30");
  ASSERT_NE(child, nullptr);
  Result<int> status = child->Wait(milliseconds(50));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.status().message(), HasSubstr("did not exit within 50 ms"));
  EXPECT_FALSE(child->Running());
}

TEST(ChildProcessTest, SigtermIsDeliveredAndReportedAsSignalExit) {
  auto child = StartShell("echo READY; exec sleep 30");
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("READY", seconds(10)).ok());
  child->Kill(SIGTERM);
  Result<int> status = child->Wait(seconds(10));
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(*status, 128 + SIGTERM);
}

TEST(ChildProcessTest, KillReachesTheWholeProcessGroup) {
  auto child = StartShell("sleep 30 & echo \"GRANDCHILD $!\"; wait");
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->WaitForLine("GRANDCHILD", seconds(10)).ok());
  std::string log = child->ReadLog();
  const pid_t grandchild = std::stoi(log.substr(log.find("GRANDCHILD ") + 11));
  ASSERT_FALSE(ProcessIsDead(grandchild));
  child->Kill();
  // The grandchild dies asynchronously; poll, bounded.
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!ProcessIsDead(grandchild) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(ProcessIsDead(grandchild));
}

TEST(ChildProcessTest, DestructorKillsARunningChild) {
  pid_t pid;
  {
    auto child = StartShell("sleep 30");
    ASSERT_NE(child, nullptr);
    pid = child->pid();
    ASSERT_FALSE(ProcessIsDead(pid));
  }
  // Reaped by the destructor, so the pid is gone (barring instant reuse).
  EXPECT_TRUE(ProcessIsDead(pid));
}

TEST(ChildProcessTest, ChildDiesWithTheProcessThatStartedIt) {
  // The log lives in a directory this process owns: the middle one never cleans up.
  auto dir = TempDir::Create("mc_launcher_test");
  ASSERT_TRUE(dir.ok());
  ProcessOptions logged;
  logged.log_path = dir->File("sh.log");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t middle = ::fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    // Stands in for a crashing test: starts a child, then vanishes without cleanup.
    auto child = StartShell("sleep 30", logged);
    pid_t pid = child ? child->pid() : -1;
    ssize_t written = ::write(fds[1], &pid, sizeof(pid));
    ::_exit(written == sizeof(pid) ? 0 : 1);
  }
  ::close(fds[1]);
  pid_t orphan = -1;
  ASSERT_EQ(::read(fds[0], &orphan, sizeof(orphan)), static_cast<ssize_t>(sizeof(orphan)));
  ::close(fds[0]);
  ASSERT_EQ(::waitpid(middle, nullptr, 0), middle);
  ASSERT_GT(orphan, 0);
  const auto deadline = std::chrono::steady_clock::now() + seconds(10);
  while (!ProcessIsDead(orphan) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(ProcessIsDead(orphan));
  if (!ProcessIsDead(orphan)) ::kill(orphan, SIGKILL);
}

TEST(ChildProcessTest, ExtraEnvironmentOverridesTheParents) {
  ::setenv("MC_LAUNCHER_TEST_KEEP", "kept", 1);
  ::setenv("MC_LAUNCHER_TEST_OVERRIDE", "old", 1);
  ProcessOptions options;
  // env(1) prints the raw environment, so a duplicated variable would show up twice.
  options.binary = "/usr/bin/env";
  options.extra_env = {{"MC_LAUNCHER_TEST_OVERRIDE", "new"}, {"MC_LAUNCHER_TEST_ADDED", "added"}};
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(std::move(options));
  ASSERT_TRUE(child.ok()) << child.status().ToString();
  ASSERT_TRUE((*child)->Wait(seconds(10)).ok());
  const std::string env = (*child)->ReadLog();
  EXPECT_THAT(env, HasSubstr("MC_LAUNCHER_TEST_KEEP=kept\n"));
  EXPECT_THAT(env, HasSubstr("MC_LAUNCHER_TEST_OVERRIDE=new\n"));
  EXPECT_THAT(env, HasSubstr("MC_LAUNCHER_TEST_ADDED=added\n"));
  EXPECT_THAT(env, Not(HasSubstr("MC_LAUNCHER_TEST_OVERRIDE=old")));
}

TEST(ChildProcessTest, StdoutAndStderrGoToTheGivenLogPath) {
  Result<TempDir> dir = TempDir::Create();
  ASSERT_TRUE(dir.ok());
  ProcessOptions options;
  options.log_path = dir->File("server.log");
  auto child = StartShell("echo out; echo err >&2", std::move(options));
  ASSERT_NE(child, nullptr);
  ASSERT_TRUE(child->Wait(seconds(10)).ok());
  EXPECT_EQ(child->log_path(), dir->File("server.log"));
  std::ifstream in(dir->File("server.log"));
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, "out\nerr\n");
}

TEST(ChildProcessTest, MissingBinaryFailsAtStart) {
  ProcessOptions options;
  options.binary = "/nonexistent/mc_server";
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(std::move(options));
  ASSERT_FALSE(child.ok());
  EXPECT_THAT(child.status().message(),
              AllOf(HasSubstr("/nonexistent/mc_server"), HasSubstr("No such file")));
}

TEST(ChildProcessTest, EmptyBinaryIsInvalid) {
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start({});
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.status().code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake::testing
