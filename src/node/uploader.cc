#include "node/uploader.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "common/logging.h"
#include "mooncake/common/crc32c.h"
#include "node/task_runner.h"

namespace mooncake::node {

Status UploaderOptions::Validate() const {
  if (parallelism < 1 || parallelism > 64) {
    return InvalidParams("uploader: parallelism " + std::to_string(parallelism) + " outside 1..64");
  }
  if (max_queued == 0) return InvalidParams("uploader: max_queued must be > 0");
  if (memory_budget == 0) return InvalidParams("uploader: memory_budget must be > 0");
  return Status::Ok();
}

struct Uploader::State {
  std::unique_ptr<tier::ObjectStore> store;
  Status store_error;
  LocalReader reader;
  std::mutex stats_mutex;
  const Clock* clock = nullptr;
  Stats stats;  // running, queued and waiting_for_memory are kept elsewhere
  // Failures are logged at most once per kWarnInterval (an object store that is down fails
  // every upload, again at each retry); the rest are counted in the next warning.
  std::chrono::steady_clock::time_point last_warning{};
  uint64_t unlogged_failures = 0;
  static constexpr std::chrono::seconds kWarnInterval{5};
  std::unique_ptr<TaskRunner<UploadTask, UploadResult>> runner;
  // Object bytes held by running uploads (memory_budget).
  uint64_t memory_budget = 0;
  std::mutex memory_mutex;
  std::condition_variable memory_freed;
  uint64_t memory_in_use = 0;
  uint64_t waiting_for_memory = 0;

  // Waits until `bytes` fit the budget (or nothing else is held), then holds them.
  void HoldMemory(uint64_t bytes) {
    std::unique_lock lock(memory_mutex);
    auto fits = [&] { return memory_in_use == 0 || memory_in_use + bytes <= memory_budget; };
    if (!fits()) {
      ++waiting_for_memory;
      memory_freed.wait(lock, fits);
      --waiting_for_memory;
    }
    memory_in_use += bytes;
  }
  void ReleaseMemory(uint64_t bytes) {
    {
      std::lock_guard lock(memory_mutex);
      memory_in_use -= bytes;
    }
    memory_freed.notify_all();
  }

  // stats_mutex held.
  void NoteFailure(const Status& status) {
    const auto now = clock->Now();
    if (last_warning != std::chrono::steady_clock::time_point{} &&
        now - last_warning < kWarnInterval) {
      ++unlogged_failures;
      MC_LOG_DEBUG("{}", status.ToString());
      return;
    }
    if (unlogged_failures > 0) {
      MC_LOG_WARN("{} (and {} more upload failures in the last {} s)", status.ToString(),
                  unlogged_failures, kWarnInterval.count());
    } else {
      MC_LOG_WARN("{}", status.ToString());
    }
    last_warning = now;
    unlogged_failures = 0;
  }
};

Uploader::Uploader(std::unique_ptr<State> state) : state_(std::move(state)) {}

Uploader::~Uploader() { Stop(); }

Result<std::unique_ptr<Uploader>> Uploader::Create(std::unique_ptr<tier::ObjectStore> store,
                                                   Status store_error, LocalReader reader,
                                                   UploaderOptions options,
                                                   std::function<void()> on_result) {
  MC_RETURN_IF_ERROR(options.Validate());
  if (!reader) return InvalidParams("uploader: no local reader");
  auto state = std::make_unique<State>();
  state->store = std::move(store);
  state->store_error = store_error.ok() && state->store == nullptr
                           ? Status(StatusCode::kNotSupported, "no object store is configured")
                           : std::move(store_error);
  state->reader = std::move(reader);
  state->memory_budget = options.memory_budget;
  state->clock = options.clock != nullptr ? options.clock : &SystemClock::Instance();
  std::unique_ptr<Uploader> uploader(new Uploader(std::move(state)));
  State* s = uploader->state_.get();
  TaskRunner<UploadTask, UploadResult>::Callbacks callbacks;
  callbacks.run = [u = uploader.get()](const UploadTask& task) {
    UploadResult result{task.task_id, u->RunOne(task), {}, 0};
    // A successful upload names what it put there (the node's manifest keeps it).
    if (result.status.ok() && !task.remove_only) {
      result.key = task.key;
      result.version = task.version;
    }
    return result;
  };
  callbacks.refuse = [](const UploadTask& task, size_t max_queued) {
    return UploadResult{task.task_id,
                        Status(StatusCode::kNoAvailableHandle,
                               fmt::format("upload of '{}': {} uploads already wait on this node",
                                           task.key, max_queued)),
                        {},
                        0};
  };
  callbacks.count = [s](const UploadTask& task, const UploadResult& result) {
    std::lock_guard lock(s->stats_mutex);
    if (result.status.ok()) {
      ++s->stats.uploads_ok;
      if (!task.remove_only) s->stats.bytes_uploaded += task.size;
    } else {
      ++s->stats.uploads_failed;
      s->NoteFailure(result.status);
    }
  };
  callbacks.on_result = std::move(on_result);
  s->runner = std::make_unique<TaskRunner<UploadTask, UploadResult>>(
      options.parallelism, options.max_queued, std::move(callbacks));
  return uploader;
}

void Uploader::Submit(std::vector<UploadTask> tasks) { state_->runner->Submit(std::move(tasks)); }

std::vector<UploadResult> Uploader::TakeResults() { return state_->runner->TakeResults(); }

void Uploader::PutBack(std::vector<UploadResult> results) {
  state_->runner->PutBack(std::move(results));
}

void Uploader::Forget() { state_->runner->Forget(std::chrono::milliseconds(0)); }

void Uploader::Stop() { state_->runner->Stop(); }

Uploader::Stats Uploader::stats() const {
  Stats stats;
  {
    std::lock_guard lock(state_->stats_mutex);
    stats = state_->stats;
  }
  stats.running = state_->runner->running();
  stats.queued = state_->runner->queued();
  {
    std::lock_guard lock(state_->memory_mutex);
    stats.waiting_for_memory = state_->waiting_for_memory;
  }
  return stats;
}

Status Uploader::RunOne(const UploadTask& task) {
  State& s = *state_;
  const std::string what =
      fmt::format("upload task {} of '{}' (version {})", task.task_id, task.key, task.version);
  if (!s.store) return s.store_error.WithContext(what);
  if (task.remove_only) {
    return s.store->Delete(task.key).WithContext(what + ": deleting a late upload");
  }
  if (task.check_first) {
    auto there = s.store->Head(task.key);
    if (there.ok() && there->has_crc32c && there->size == task.size &&
        there->crc32c == task.checksum) {
      return Status::Ok();
    }
  }
  if (task.size > task.source.length) {
    return InvalidParams(fmt::format("{}: {} bytes do not fit the source range of {} bytes", what,
                                     task.size, task.source.length));
  }
  s.HoldMemory(task.size);
  struct Held {
    State& s;
    uint64_t bytes;
    ~Held() { s.ReleaseMemory(bytes); }
  } held{s, task.size};
  std::string bytes(task.size, '\0');
  MC_RETURN_IF_ERROR(s.reader(task.source, std::span<char>(bytes.data(), bytes.size()))
                         .WithContext(what + ": reading the replica"));
  const uint32_t crc = Crc32c(bytes.data(), bytes.size());
  if (crc != task.checksum) {
    // The replica was freed or replaced since the task was scheduled.
    return Status(StatusCode::kChecksumMismatch,
                  fmt::format("{}: the replica's bytes have CRC32C {:#010x}, the object's is "
                              "{:#010x} (replaced or freed meanwhile?)",
                              what, crc, task.checksum));
  }
  return s.store->Put(task.key, std::span<const char>(bytes.data(), bytes.size()))
      .WithContext(what);
}

}  // namespace mooncake::node
