#pragma once

// Shared pieces of the Transfer Engine integration tests: starting `transfer_engine_bench
// --mode=target` processes on real loopback ports, an in-process initiator engine, and bounded
// waits on batches. Every wait here has a deadline; nothing may hang a test.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_engine.h"
#include "testing/process_launcher.h"

namespace mooncake::integration {

// What a target started by transfer_engine_bench holds: FillPattern(buffer, size, kTargetSeed)
// with offsets relative to the buffer's start (apps/transfer_engine_bench/main.cc).
inline constexpr uint64_t kTargetSeed = 0x7a7a;

inline Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

// A running `transfer_engine_bench --mode=target`; SIGKILLed when destroyed.
struct TargetProcess {
  std::unique_ptr<testing::ChildProcess> process;
  std::string name;  // "127.0.0.1:<port>", the segment name
  uint16_t port = 0;
  uint64_t buffer = 0;  // address of its buffer, as printed on its READY line
  uint64_t size = 0;
  // Its file segment "bench" (targets started after SetTargetFile): base address and size.
  uint64_t file_base = 0;
  uint64_t file_size = 0;
};

// Starts a target with a `buffer_size`-byte buffer and waits for its READY line. `port` 0
// picks a free port (and retries with another when a racing process took it); a given port
// is used as is, once. A non-empty `launcher` (e.g. {"/usr/bin/prlimit", "--nofile=32", "--"})
// runs the target through that command, which must exec it in the same process.
Result<TargetProcess> StartTarget(uint64_t buffer_size, uint16_t port = 0,
                                  const std::vector<std::string>& launcher = {});

// The protocol targets started from now on serve (passed as --protocol; "" = the bench's
// default, auto). A ucx initiator needs ucx targets: fixtures set this from their parameter
// (TargetProtocolFor). Not thread-safe; set it from the test's thread.
void SetTargetProtocol(std::string protocol);
// Targets started from now on also serve `path` as file segment "bench" of `buffer_size`
// bytes (--target_file; their memory buffer is then at most 4 MiB). "" = no file (default).
void SetTargetFile(std::string path);
// Targets started from now on also get these flags (e.g. {"--auth_secret_file=..."}); {} =
// none (default). Not thread-safe; set it from the test's thread.
void SetTargetExtraArgs(std::vector<std::string> args);
// "ucx" for a "ucx" initiator, "" (auto) for the others.
std::string TargetProtocolFor(const std::string& initiator_protocol);
// OK when this build can run `protocol`; else why not (e.g. built without UCX), for
// GTEST_SKIP.
Status ProtocolAvailable(const std::string& protocol);

// An in-process initiator listening on 127.0.0.1:0, with buffers not prefaulted (faster
// start; the tests touch only what they use). `options` fields other than those two are kept.
Result<std::unique_ptr<transfer::TransferEngine>> StartInitiator(
    transfer::TransferEngineOptions options = {});

// Waits (TransferEngine::WaitBatch) until every task of `batch` is COMPLETED or FAILED or
// `timeout` passed; returns the statuses of its first `n` tasks (a task still PENDING/WAITING
// means the wait timed out).
std::vector<transfer::TransferStatus> WaitForTasks(transfer::TransferEngine& engine,
                                                   transfer::BatchId batch, size_t n,
                                                   std::chrono::milliseconds timeout);

// True when every status is COMPLETED or FAILED.
bool AllFinished(const std::vector<transfer::TransferStatus>& statuses);

// Allocates a batch, submits `requests`, waits (bounded) and frees the batch. OK when every
// task COMPLETED; otherwise the submit error, the first task error, or a timeout.
Status RunBatch(transfer::TransferEngine& engine,
                std::span<const transfer::TransferRequest> requests,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Destroys `engine` on another thread and ends the whole test process with a clear message if
// that takes longer than `limit`: a destructor that never returns is a deadlock in the engine,
// and a hung test would only be reported as a ctest timeout.
void DestroyWithin(std::unique_ptr<transfer::TransferEngine> engine, std::chrono::seconds limit);

// `length` pseudo-random bytes from `seed`.
std::vector<char> RandomBytes(size_t length, uint64_t seed);

const char* StateName(transfer::TransferState state);

// Test-name suffix of a transport-parametrised test: the protocol itself ("tcp", "shm", "ucx").
inline std::string TransportName(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace mooncake::integration

// Fails the current test (and returns) when `expr`, a Status or Result, is not OK.
#define MC_ASSERT_OK(expr)                                                                \
  do {                                                                                    \
    const ::mooncake::Status mc_assert_status_ = ::mooncake::integration::StatusOf(expr); \
    ASSERT_TRUE(mc_assert_status_.ok()) << #expr << ": " << mc_assert_status_.ToString(); \
  } while (0)
