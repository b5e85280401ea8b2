#include "node/copy_worker.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "common/logging.h"
#include "mooncake/common/crc32c.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake {

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
  TransferEngine* engine = nullptr;
  std::vector<CopyDestination> destinations;
  std::mutex bounce_mutex;
  std::vector<void*> idle_bounce;
  CopyWorkerOptions options;
  std::function<void()> on_result;

  mutable std::mutex mutex;
  std::condition_variable wake;         // a task was queued, or stopping
  std::condition_variable idle;         // a copy ended
  std::condition_variable report_wake;  // report_pending was set, or stop_reporting
  bool stopping = false;
  // A result was queued since the reporting thread last began an on_result call.
  bool report_pending = false;
  // Set once the copy threads have ended: the reporting thread makes its last call and ends.
  bool stop_reporting = false;
  // Bumped by Quiesce: a copy that began under an older generation drops its result.
  uint64_t generation = 0;
  std::deque<CopyTask> queue;
  std::set<uint64_t> known;  // ids queued or running
  size_t running = 0;
  std::vector<CopyResult> results;
  Stats stats;
  std::vector<std::thread> threads;
  std::thread reporter;  // only with an on_result
  std::once_flag stop_once;

  void Loop(CopyWorker& worker) {
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      CopyTask task = std::move(queue.front());
      queue.pop_front();
      const uint64_t started_in = generation;
      ++running;
      lock.unlock();
      Status status = worker.RunOne(task);
      lock.lock();
      --running;
      known.erase(task.task_id);
      idle.notify_all();
      if (started_in != generation) continue;  // quiesced meanwhile: nobody wants it
      if (status.ok()) {
        ++stats.copies_ok;
        stats.bytes_copied += task.size;
      } else {
        ++stats.copies_failed;
        MC_LOG_WARN("copy task {} of '{}' failed: {}", task.task_id, task.key, status.ToString());
      }
      results.push_back(CopyResult{task.task_id, std::move(status)});
      if (on_result) {
        report_pending = true;
        report_wake.notify_one();
      }
    }
  }

  // The reporting thread: one on_result call at a time, for whatever results were queued by
  // the time it begins. A report is a master RPC (~0.3-0.7 ms under load); made on the copy
  // threads, it kept each of them from its next copy, which cost small objects up to ~40% of
  // their copy rate.
  void ReportLoop() {
    std::unique_lock lock(mutex);
    for (;;) {
      report_wake.wait(lock, [&] { return report_pending || stop_reporting; });
      if (!report_pending) return;
      report_pending = false;
      lock.unlock();
      on_result();
      lock.lock();
    }
  }
};

CopyWorker::CopyWorker(std::unique_ptr<State> state) : state_(std::move(state)) {}

CopyWorker::~CopyWorker() { Stop(); }

Result<std::unique_ptr<CopyWorker>> CopyWorker::Create(TransferEngine& engine,
                                                       CopyDestination destination,
                                                       CopyWorkerOptions options,
                                                       std::function<void()> on_result) {
  std::vector<CopyDestination> destinations;
  destinations.push_back(std::move(destination));
  return Create(engine, std::move(destinations), options, std::move(on_result));
}

Result<std::unique_ptr<CopyWorker>> CopyWorker::Create(TransferEngine& engine,
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
  state->on_result = std::move(on_result);
  std::unique_ptr<CopyWorker> worker(new CopyWorker(std::move(state)));
  for (size_t i = 0; i < options.parallelism; ++i) {
    worker->state_->threads.emplace_back([w = worker.get()] { w->state_->Loop(*w); });
  }
  if (worker->state_->on_result) {
    worker->state_->reporter = std::thread([s = worker->state_.get()] { s->ReportLoop(); });
  }
  return worker;
}

void CopyWorker::Submit(std::vector<CopyTask> tasks) {
  if (tasks.empty()) return;
  State& s = *state_;
  std::vector<CopyResult> refused;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopping) return;
    for (CopyTask& task : tasks) {
      if (!s.known.insert(task.task_id).second) continue;
      if (s.queue.size() >= s.options.max_queued) {
        s.known.erase(task.task_id);
        ++s.stats.copies_failed;
        s.results.push_back(CopyResult{
            task.task_id, Status(StatusCode::kNoAvailableHandle,
                                 fmt::format("copy of '{}' refused: {} copies already queued",
                                             task.key, s.options.max_queued))});
        continue;
      }
      s.queue.push_back(std::move(task));
    }
  }
  s.wake.notify_all();
}

std::vector<CopyResult> CopyWorker::TakeResults() {
  std::lock_guard lock(state_->mutex);
  return std::exchange(state_->results, {});
}

void CopyWorker::PutBack(std::vector<CopyResult> results) {
  if (results.empty()) return;
  std::lock_guard lock(state_->mutex);
  state_->results.insert(state_->results.begin(), std::make_move_iterator(results.begin()),
                         std::make_move_iterator(results.end()));
}

bool CopyWorker::Quiesce(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  ++s.generation;
  for (const CopyTask& task : s.queue) s.known.erase(task.task_id);
  s.queue.clear();
  s.results.clear();
  return s.idle.wait_for(lock, timeout, [&] { return s.running == 0; });
}

void CopyWorker::Stop() {
  State& s = *state_;
  std::call_once(s.stop_once, [&] {
    {
      std::lock_guard lock(s.mutex);
      s.stopping = true;
      s.queue.clear();
    }
    s.wake.notify_all();
    for (std::thread& t : s.threads) t.join();
    // The copies' last results get their report, then the reporting thread ends.
    {
      std::lock_guard lock(s.mutex);
      s.stop_reporting = true;
    }
    s.report_wake.notify_all();
    if (s.reporter.joinable()) s.reporter.join();
    // No copy runs any more (RunOne callers outside the threads must be done too).
    std::lock_guard lock(s.bounce_mutex);
    for (void* buffer : s.idle_bounce) s.engine->FreeBuffer(buffer).IgnoreError();
    s.idle_bounce.clear();
  });
}

CopyWorker::Stats CopyWorker::stats() const {
  std::lock_guard lock(state_->mutex);
  Stats stats = state_->stats;
  stats.running = state_->running;
  stats.queued = state_->queue.size();
  return stats;
}

namespace {

// Runs one transfer and waits for it until `deadline`.
// `abandoned` (optional) is set when the transfer was left in flight at the deadline: its
// local buffer may still be written by the engine.
Status RunTransfer(TransferEngine& engine, const TransferRequest& request,
                   std::chrono::steady_clock::time_point deadline, const std::string& what,
                   bool* abandoned = nullptr) {
  MC_ASSIGN_OR_RETURN(BatchId batch, engine.AllocateBatchId(1));
  if (Status submitted = engine.SubmitTransfer(batch, {&request, 1}); !submitted.ok()) {
    engine.FreeBatchId(batch).IgnoreError();
    return submitted.WithContext(what);
  }
  auto pause = std::chrono::microseconds(20);
  Status transferred;
  for (;;) {
    Result<TransferStatus> status = engine.GetTransferStatus(batch, 0);
    if (!status.ok()) {
      transferred = status.status();
      break;
    }
    if (status->state == TransferState::kCompleted) break;
    if (status->state == TransferState::kFailed) {
      transferred =
          status->error.ok() ? Status(StatusCode::kTransferFail, "transfer failed") : status->error;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      // Still in flight: the batch cannot be freed; the engine's own deadline ends it.
      if (abandoned != nullptr) *abandoned = true;
      return Status(StatusCode::kTransferFail, fmt::format("{}: not done in time", what));
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(2000));
  }
  engine.FreeBatchId(batch).IgnoreError();
  if (!transferred.ok()) return transferred.WithContext(what);
  return Status::Ok();
}

// Whether [address, address + length) lies in `d`.
bool Inside(const CopyDestination& d, uint64_t address, uint64_t length) {
  return address >= d.base && length <= d.size && address - d.base <= d.size - length;
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
  if (task.size > dst.length || task.size > src.length || !Inside(*own, dst.address, dst.length)) {
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
    TransferEngine& engine = *state_->engine;
    Result<SegmentHandle> source = engine.OpenSegment(std::string(TransferSegmentOf(src.segment)));
    if (!source.ok()) return source.status().WithContext(what + ": opening the source");
    const TransferRequest request{TransferOpcode::kRead, local, *source, src.address, task.size};
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
  TransferEngine& engine = *s.engine;
  const Allocation& src = task.source;
  const uint64_t dst = task.destination.address;
  const std::string what = fmt::format("copy task {} of '{}' from {}@{:#x} to SSD", task.task_id,
                                       task.key, src.segment, src.address);
  // The padding up to the next block is the object's allocation too (SsdAllocationBytes):
  // whole blocks go to the file with O_DIRECT, no read-modify-write.
  const uint64_t padded = (task.size + kSsdBlockBytes - 1) / kSsdBlockBytes * kSsdBlockBytes;
  if (!Inside(own, dst, padded)) {
    return InvalidParams(
        fmt::format("{}: {} bytes at {:#x} leave the SSD segment", what, padded, dst));
  }
  // A source in this node's own memory is read in place; others through the engine.
  const uint8_t* local_source = nullptr;
  for (const CopyDestination& d : s.destinations) {
    if (d.kind == CopyDestination::Kind::kMemory && d.name == src.segment &&
        Inside(d, src.address, task.size)) {
      local_source = reinterpret_cast<const uint8_t*>(src.address);
    }
  }
  MC_ASSIGN_OR_RETURN(SegmentHandle self, engine.OpenSegment(engine.local_server_name()));
  SegmentHandle source{};
  if (local_source == nullptr && task.size > 0) {
    Result<SegmentHandle> opened = engine.OpenSegment(std::string(TransferSegmentOf(src.segment)));
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
      status = RunTransfer(engine, {TransferOpcode::kRead, bounce, source, src.address + offset, n},
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
    status = RunTransfer(engine, {TransferOpcode::kWrite, bounce, self, dst + offset, write},
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

}  // namespace mooncake
