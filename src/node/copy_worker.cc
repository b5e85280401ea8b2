#include "node/copy_worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <utility>

#include "common/logging.h"
#include "mooncake/common/crc32c.h"
#include "mooncake/transfer/transfer_engine.h"
#include "node/task_runner.h"
#include "store_types/ssd_geometry.h"
#include "transfer/batch_runner.h"

namespace mooncake::node {

Status CopyWorkerOptions::Validate() const {
  if (parallelism < 1 || parallelism > 64) {
    return InvalidParams("copy worker: parallelism " + std::to_string(parallelism) +
                         " outside 1..64");
  }
  if (max_queued == 0) return InvalidParams("copy worker: max_queued must be > 0");
  if (default_timeout.count() <= 0) {
    return InvalidParams("copy worker: default_timeout must be > 0");
  }
  return Status::Ok();
}

namespace {

// Bounce buffers for copies into a file segment: registered, so the engine reads into them
// and writes from them; one per running copy, kept for reuse.
constexpr uint64_t kBounceBytes = 4 << 20;

}  // namespace

struct CopyWorker::State {
  transfer::TransferEngine* engine = nullptr;
  std::vector<CopyDestination> destinations;
  std::mutex bounce_mutex;
  std::vector<void*> idle_bounce;
  CopyWorkerOptions options;
  std::mutex stats_mutex;
  Stats stats;  // running and queued are the runner's
  std::unique_ptr<TaskRunner<CopyTask, CopyResult>> runner;
  std::once_flag stop_once;
};

CopyWorker::CopyWorker(std::unique_ptr<State> state) : state_(std::move(state)) {}

CopyWorker::~CopyWorker() { Stop(); }

Result<std::unique_ptr<CopyWorker>> CopyWorker::Create(transfer::TransferEngine& engine,
                                                       CopyDestination destination,
                                                       CopyWorkerOptions options,
                                                       std::function<void()> on_result) {
  std::vector<CopyDestination> destinations;
  destinations.push_back(std::move(destination));
  return Create(engine, std::move(destinations), options, std::move(on_result));
}

Result<std::unique_ptr<CopyWorker>> CopyWorker::Create(transfer::TransferEngine& engine,
                                                       std::vector<CopyDestination> destinations,
                                                       CopyWorkerOptions options,
                                                       std::function<void()> on_result) {
  MC_RETURN_IF_ERROR(options.Validate());
  if (destinations.empty()) return InvalidParams("copy worker: no destination segment");
  for (const CopyDestination& destination : destinations) {
    if (destination.name.empty() || destination.size == 0) {
      return InvalidParams("copy worker: destination segment has no name or size 0");
    }
  }
  auto state = std::make_unique<State>();
  state->engine = &engine;
  state->destinations = std::move(destinations);
  state->options = options;
  std::unique_ptr<CopyWorker> worker(new CopyWorker(std::move(state)));
  State* s = worker->state_.get();
  TaskRunner<CopyTask, CopyResult>::Callbacks callbacks;
  callbacks.run = [w = worker.get()](const CopyTask& task) {
    Status status = w->RunOne(task);
    if (!status.ok()) {
      MC_LOG_WARN("copy task {} of '{}' failed: {}", task.task_id, task.key, status.ToString());
    }
    return CopyResult{task.task_id, std::move(status)};
  };
  callbacks.refuse = [](const CopyTask& task, size_t max_queued) {
    return CopyResult{task.task_id,
                      Status(StatusCode::kNoAvailableHandle,
                             fmt::format("copy of '{}' refused: {} copies already queued", task.key,
                                         max_queued))};
  };
  callbacks.count = [s](const CopyTask& task, const CopyResult& result) {
    std::lock_guard lock(s->stats_mutex);
    if (result.status.ok()) {
      ++s->stats.copies_ok;
      s->stats.bytes_copied += task.size;
    } else {
      ++s->stats.copies_failed;
    }
  };
  callbacks.on_result = std::move(on_result);
  s->runner = std::make_unique<TaskRunner<CopyTask, CopyResult>>(
      options.parallelism, options.max_queued, std::move(callbacks));
  return worker;
}

void CopyWorker::Submit(std::vector<CopyTask> tasks) { state_->runner->Submit(std::move(tasks)); }

std::vector<CopyResult> CopyWorker::TakeResults() { return state_->runner->TakeResults(); }

void CopyWorker::PutBack(std::vector<CopyResult> results) {
  state_->runner->PutBack(std::move(results));
}

bool CopyWorker::Quiesce(std::chrono::milliseconds timeout) {
  return state_->runner->Forget(timeout);
}

void CopyWorker::Stop() {
  State& s = *state_;
  std::call_once(s.stop_once, [&] {
    s.runner->Stop();  // the copies' last results get their report
    // No copy runs any more (RunOne callers outside the threads must be done too).
    std::lock_guard lock(s.bounce_mutex);
    for (void* buffer : s.idle_bounce) s.engine->FreeBuffer(buffer).IgnoreError();
    s.idle_bounce.clear();
  });
}

CopyWorker::Stats CopyWorker::stats() const {
  Stats stats;
  {
    std::lock_guard lock(state_->stats_mutex);
    stats = state_->stats;
  }
  stats.running = state_->runner->running();
  stats.queued = state_->runner->queued();
  return stats;
}

namespace {

// Runs one transfer and waits for it until `deadline`.
// `abandoned` (optional) is set when the transfer was left in flight at the deadline: its
// local buffer may still be written by the engine.
Status RunTransfer(transfer::TransferEngine& engine, const transfer::TransferRequest& request,
                   std::chrono::steady_clock::time_point deadline, const std::string& what,
                   bool* abandoned = nullptr) {
  transfer::PendingBatch batch = transfer::PendingBatch::Start(engine, {&request, 1});
  Status transferred = batch.Wait(deadline)[0];
  if (abandoned != nullptr && batch.abandoned()) *abandoned = true;
  if (!transferred.ok()) return transferred.WithContext(what);
  return Status::Ok();
}

}  // namespace

Status CopyWorker::RunOne(const CopyTask& task) {
  const Allocation& dst = task.destination;
  const Allocation& src = task.source;
  const std::string what = fmt::format("copy task {} of '{}' from {}@{:#x}", task.task_id, task.key,
                                       src.segment, src.address);
  // Everything below comes from the network: check it before touching memory.
  const CopyDestination* own = nullptr;
  std::string names;
  for (const CopyDestination& d : state_->destinations) {
    if (d.name == dst.segment) own = &d;
    names += (names.empty() ? "'" : ", '") + d.name + "'";
  }
  if (own == nullptr) {
    return InvalidParams(fmt::format("{}: destination segment '{}' is not this node's ({})", what,
                                     dst.segment, names));
  }
  if (task.size > dst.length || task.size > src.length ||
      !own->range().Contains(dst.address, dst.length)) {
    return InvalidParams(fmt::format(
        "{}: {} bytes into [{:#x}, +{}) do not fit the source ({} bytes) or this segment "
        "[{:#x}, +{})",
        what, task.size, dst.address, dst.length, src.length, own->base, own->size));
  }
  const auto timeout = task.timeout.count() > 0 ? task.timeout : state_->options.default_timeout;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (own->kind == CopyDestination::Kind::kFileSegment) return CopyToFile(task, *own, deadline);
  auto* local = reinterpret_cast<uint8_t*>(dst.address);
  if (task.size > 0) {
    transfer::TransferEngine& engine = *state_->engine;
    Result<transfer::SegmentHandle> source =
        engine.OpenSegment(std::string(TransferSegmentOf(src.segment)));
    if (!source.ok()) return source.status().WithContext(what + ": opening the source");
    const transfer::TransferRequest request{transfer::TransferOpcode::kRead, local, *source,
                                            src.address, task.size};
    MC_RETURN_IF_ERROR(RunTransfer(engine, request, deadline, what));
  }
  const uint32_t crc = Crc32c(local, task.size);
  if (crc != task.checksum) {
    return Status(StatusCode::kTransferFail,
                  fmt::format("{}: checksum mismatch: the bytes read have CRC32C {:#010x}, the "
                              "object's is {:#010x} (the source changed or is not the object)",
                              what, crc, task.checksum));
  }
  return Status::Ok();
}

Status CopyWorker::CopyToFile(const CopyTask& task, const CopyDestination& own,
                              std::chrono::steady_clock::time_point deadline) {
  State& s = *state_;
  transfer::TransferEngine& engine = *s.engine;
  const Allocation& src = task.source;
  const uint64_t dst = task.destination.address;
  const std::string what = fmt::format("copy task {} of '{}' from {}@{:#x} to SSD", task.task_id,
                                       task.key, src.segment, src.address);
  // The padding up to the next block is the object's allocation too (SsdAllocationBytes):
  // whole blocks go to the file with O_DIRECT, no read-modify-write.
  const uint64_t padded = (task.size + kSsdBlockBytes - 1) / kSsdBlockBytes * kSsdBlockBytes;
  if (!own.range().Contains(dst, padded)) {
    return InvalidParams(
        fmt::format("{}: {} bytes at {:#x} leave the SSD segment", what, padded, dst));
  }
  // A source in this node's own memory is read in place; others through the engine.
  const uint8_t* local_source = nullptr;
  for (const CopyDestination& d : s.destinations) {
    if (d.kind == CopyDestination::Kind::kMemory && d.name == src.segment &&
        d.range().Contains(src.address, task.size)) {
      local_source = reinterpret_cast<const uint8_t*>(src.address);
    }
  }
  MC_ASSIGN_OR_RETURN(transfer::SegmentHandle self, engine.OpenSegment(engine.local_server_name()));
  transfer::SegmentHandle source{};
  if (local_source == nullptr && task.size > 0) {
    Result<transfer::SegmentHandle> opened =
        engine.OpenSegment(std::string(TransferSegmentOf(src.segment)));
    if (!opened.ok()) return opened.status().WithContext(what + ": opening the source");
    source = *opened;
  }
  void* buffer = nullptr;
  {
    std::lock_guard lock(s.bounce_mutex);
    if (!s.idle_bounce.empty()) {
      buffer = s.idle_bounce.back();
      s.idle_bounce.pop_back();
    }
  }
  if (buffer == nullptr) {
    MC_ASSIGN_OR_RETURN(buffer, engine.AllocateBuffer(kBounceBytes));
  }
  auto* bounce = static_cast<uint8_t*>(buffer);
  uint32_t crc = 0;
  Status status;
  bool abandoned = false;
  for (uint64_t offset = 0; offset < task.size && status.ok(); offset += kBounceBytes) {
    const uint64_t n = std::min<uint64_t>(kBounceBytes, task.size - offset);
    if (local_source != nullptr) {
      std::memcpy(bounce, local_source + offset, n);
    } else {
      status = RunTransfer(
          engine, {transfer::TransferOpcode::kRead, bounce, source, src.address + offset, n},
          deadline, what + ": reading the source", &abandoned);
      if (!status.ok()) break;
    }
    crc = Crc32cExtend(crc, bounce, n);
    if (offset + n == task.size && crc != task.checksum) {
      // Checked before the last piece goes to disk: a wrong object never lands whole.
      status = Status(StatusCode::kTransferFail,
                      fmt::format("{}: checksum mismatch: the bytes read have CRC32C {:#010x}, the "
                                  "object's is {:#010x}",
                                  what, crc, task.checksum));
      break;
    }
    const uint64_t write = std::min<uint64_t>(kBounceBytes, padded - offset);
    std::memset(bounce + n, 0, write - n);
    status =
        RunTransfer(engine, {transfer::TransferOpcode::kWrite, bounce, self, dst + offset, write},
                    deadline, what + ": writing the SSD segment", &abandoned);
  }
  if (task.size == 0 && task.checksum != Crc32c(nullptr, 0)) {
    status = Status(StatusCode::kTransferFail, what + ": checksum mismatch on an empty object");
  }
  // A buffer a transfer may still use is never reused (nor freed: the engine frees it last).
  if (abandoned) return status;
  std::lock_guard lock(s.bounce_mutex);
  s.idle_bounce.push_back(buffer);
  return status;
}

}  // namespace mooncake::node
