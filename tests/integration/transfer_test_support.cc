#include "transfer_test_support.h"

#include <cstdio>
#include <cstring>
#include <future>
#include <random>
#include <sstream>
#include <thread>

#include "testing/binary_path.h"
#include "testing/free_port.h"

namespace mooncake::integration {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Prefaulting and filling a few hundred MiB takes well under a second; a loaded 2-core CI
// machine gets generous slack.
constexpr milliseconds kReadyTimeout{20000};
constexpr int kPortAttempts = 3;

std::string& TargetProtocol() {
  static std::string protocol;
  return protocol;
}

std::string& TargetFile() {
  static std::string path;
  return path;
}

std::vector<std::string>& TargetExtraArgs() {
  static std::vector<std::string> args;
  return args;
}

// Parses "READY segment=<name> buffer=0x<hex> size=<n> ..." into `target`.
Status ParseReadyLine(const std::string& log, TargetProcess* target) {
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("READY ", 0) != 0) continue;
    std::istringstream words(line.substr(6));
    std::string word, segment, buffer, size, file_base, file_size;
    while (words >> word) {
      auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      std::string key = word.substr(0, eq), value = word.substr(eq + 1);
      if (key == "segment") segment = value;
      if (key == "buffer") buffer = value;
      if (key == "size") size = value;
      if (key == "file_base") file_base = value;
      if (key == "file_size") file_size = value;
    }
    if (segment.empty() || buffer.rfind("0x", 0) != 0 || size.empty()) break;
    target->name = segment;
    target->buffer = std::stoull(buffer.substr(2), nullptr, 16);
    target->size = std::stoull(size);
    if (file_base.rfind("0x", 0) == 0 && !file_size.empty()) {
      target->file_base = std::stoull(file_base.substr(2), nullptr, 16);
      target->file_size = std::stoull(file_size);
    }
    return Status::Ok();
  }
  return InternalError("no well-formed READY line in the target's log:\n" + log);
}

Result<TargetProcess> StartTargetOnce(uint64_t buffer_size, uint16_t port,
                                      const std::vector<std::string>& launcher) {
  testing::ProcessOptions options;
  options.binary = testing::BinaryPath("transfer_engine_bench");
  options.args = {"--mode=target", "--local_server_name=127.0.0.1:" + std::to_string(port),
                  "--buffer_size=" + std::to_string(buffer_size)};
  if (!TargetProtocol().empty()) options.args.push_back("--protocol=" + TargetProtocol());
  if (!TargetFile().empty()) options.args.push_back("--target_file=" + TargetFile());
  options.args.insert(options.args.end(), TargetExtraArgs().begin(), TargetExtraArgs().end());
  if (!launcher.empty()) {
    options.args.insert(options.args.begin(), options.binary);
    options.args.insert(options.args.begin(), launcher.begin() + 1, launcher.end());
    options.binary = launcher[0];
  }
  TargetProcess target;
  MC_ASSIGN_OR_RETURN(target.process, testing::ChildProcess::Start(std::move(options)));
  MC_RETURN_IF_ERROR(target.process->WaitForLine("READY", kReadyTimeout));
  MC_RETURN_IF_ERROR(ParseReadyLine(target.process->ReadLog(), &target));
  target.port = port;
  const std::string expected = "127.0.0.1:" + std::to_string(port);
  const uint64_t served = TargetFile().empty() ? target.size : target.file_size;
  if (target.name != expected || served != buffer_size || target.buffer == 0) {
    return InternalError("target announced segment=" + target.name +
                         " size=" + std::to_string(target.size) + ", expected " + expected +
                         " size=" + std::to_string(buffer_size));
  }
  return target;
}

}  // namespace

Result<TargetProcess> StartTarget(uint64_t buffer_size, uint16_t port,
                                  const std::vector<std::string>& launcher) {
  if (port != 0) return StartTargetOnce(buffer_size, port, launcher);
  Status last;
  for (int attempt = 0; attempt < kPortAttempts; ++attempt) {
    MC_ASSIGN_OR_RETURN(uint16_t free_port, testing::PickFreeTcpPort());
    auto target = StartTargetOnce(buffer_size, free_port, launcher);
    if (target.ok()) return target;
    last = target.status();
    // Only a lost port race is worth another try.
    if (last.message().find("cannot listen") == std::string::npos) break;
  }
  return last;
}

void SetTargetProtocol(std::string protocol) { TargetProtocol() = std::move(protocol); }

void SetTargetFile(std::string path) { TargetFile() = std::move(path); }

void SetTargetExtraArgs(std::vector<std::string> args) { TargetExtraArgs() = std::move(args); }

std::string TargetProtocolFor(const std::string& initiator_protocol) {
  return initiator_protocol == "ucx" || initiator_protocol == "rdma" ? "ucx" : "";
}

Status ProtocolAvailable(const std::string& protocol) {
  transfer::TransferEngineOptions options;
  options.protocol = protocol;
  return options.Validate();
}

Result<std::unique_ptr<transfer::TransferEngine>> StartInitiator(
    transfer::TransferEngineOptions options) {
  options.local_server_name = "127.0.0.1:0";
  options.prefault_buffers = false;
  return transfer::TransferEngine::Create(std::move(options));
}

std::vector<transfer::TransferStatus> WaitForTasks(transfer::TransferEngine& engine,
                                                   transfer::BatchId batch, size_t n,
                                                   milliseconds timeout) {
  // Woken when the batch's last task finishes (a timeout shows in the states collected below).
  engine.WaitBatch(batch, Clock::now() + timeout).IgnoreError();
  std::vector<transfer::TransferStatus> statuses(n);
  for (size_t i = 0; i < n; ++i) {
    auto status = engine.GetTransferStatus(batch, i);
    if (!status.ok()) {
      statuses[i].state = transfer::TransferState::kFailed;
      statuses[i].error = status.status().WithContext("GetTransferStatus");
    } else {
      statuses[i] = *status;
    }
  }
  return statuses;
}

bool AllFinished(const std::vector<transfer::TransferStatus>& statuses) {
  for (const auto& s : statuses) {
    if (s.state != transfer::TransferState::kCompleted &&
        s.state != transfer::TransferState::kFailed)
      return false;
  }
  return true;
}

Status RunBatch(transfer::TransferEngine& engine,
                std::span<const transfer::TransferRequest> requests, milliseconds timeout) {
  MC_ASSIGN_OR_RETURN(transfer::BatchId batch, engine.AllocateBatchId(requests.size()));
  Status submitted = engine.SubmitTransfer(batch, requests);
  // Even a failed submit may have started tasks (transport errors fail them); wait for them.
  auto statuses = WaitForTasks(engine, batch, submitted.ok() ? requests.size() : 0, timeout);
  Status result = submitted;
  for (size_t i = 0; i < statuses.size() && result.ok(); ++i) {
    if (statuses[i].state == transfer::TransferState::kFailed) {
      result = statuses[i].error.WithContext("task " + std::to_string(i));
    } else if (statuses[i].state != transfer::TransferState::kCompleted) {
      result = Status(StatusCode::kRpcTimeout, "task " + std::to_string(i) + " still " +
                                                   StateName(statuses[i].state) + " after " +
                                                   std::to_string(timeout.count()) + " ms");
    } else if (statuses[i].transferred_bytes != requests[i].length) {
      result = InternalError("task " + std::to_string(i) + " COMPLETED with " +
                             std::to_string(statuses[i].transferred_bytes) + " of " +
                             std::to_string(requests[i].length) + " bytes");
    }
  }
  if (AllFinished(statuses)) {
    Status freed = engine.FreeBatchId(batch);
    if (result.ok()) result = freed;
  }
  return result;
}

void DestroyWithin(std::unique_ptr<transfer::TransferEngine> engine, std::chrono::seconds limit) {
  if (!engine) return;
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([engine = std::move(engine), done]() mutable {
    engine.reset();
    done->set_value();
  }).detach();
  if (finished.wait_for(limit) == std::future_status::ready) return;
  std::fprintf(stderr,
               "FATAL: TransferEngine destructor did not return within %lld s (deadlocked I/O "
               "thread?); ending the test process\n",
               static_cast<long long>(limit.count()));
  std::fflush(stderr);
  std::_Exit(3);  // child targets die with us (PR_SET_PDEATHSIG)
}

std::vector<char> RandomBytes(size_t length, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<char> out(length);
  size_t i = 0;
  for (; i + 8 <= length; i += 8) {
    uint64_t word = rng();
    std::memcpy(out.data() + i, &word, 8);
  }
  for (; i < length; ++i) out[i] = static_cast<char>(rng());
  return out;
}

const char* StateName(transfer::TransferState state) {
  switch (state) {
    case transfer::TransferState::kPending:
      return "PENDING";
    case transfer::TransferState::kWaiting:
      return "WAITING";
    case transfer::TransferState::kCompleted:
      return "COMPLETED";
    case transfer::TransferState::kFailed:
      return "FAILED";
  }
  return "UNKNOWN";
}

}  // namespace mooncake::integration
