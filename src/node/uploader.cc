#include "node/uploader.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "common/logging.h"
#include "mooncake/common/crc32c.h"

namespace mooncake {

Status UploaderOptions::Validate() const {
  if (parallelism < 1 || parallelism > 64) {
    return InvalidParams("uploader: parallelism " + std::to_string(parallelism) +
                         " outside 1..64");
  }
  if (max_queued == 0) return InvalidParams("uploader: max_queued must be > 0");
  return Status::Ok();
}

struct Uploader::State {
  std::unique_ptr<tier::ObjectStore> store;
  Status store_error;
  LocalReader reader;
  UploaderOptions options;
  std::function<void()> on_result;

  mutable std::mutex mutex;
  std::condition_variable wake;  // a task was queued, or stopping
  bool stopping = false;
  // Bumped by Forget: an upload that began under an older generation drops its result.
  uint64_t generation = 0;
  std::deque<UploadTask> queue;
  std::set<uint64_t> known;  // ids queued or running
  size_t running = 0;
  std::vector<UploadResult> results;
  Stats stats;
  std::vector<std::thread> threads;
  std::once_flag stop_once;
  // Failures are logged at most once per kWarnInterval (an object store that is down fails
  // every upload, again at each retry); the rest are counted in the next warning.
  std::chrono::steady_clock::time_point last_warning{};
  uint64_t unlogged_failures = 0;
  static constexpr std::chrono::seconds kWarnInterval{5};

  void NoteFailure(const Status& status) {
    const auto now = std::chrono::steady_clock::now();
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

  void Loop(Uploader& uploader) {
    std::unique_lock lock(mutex);
    for (;;) {
      wake.wait(lock, [&] { return stopping || !queue.empty(); });
      if (stopping) return;
      UploadTask task = std::move(queue.front());
      queue.pop_front();
      const uint64_t started_in = generation;
      ++running;
      lock.unlock();
      Status status = uploader.RunOne(task);
      lock.lock();
      --running;
      known.erase(task.task_id);
      if (started_in != generation) continue;
      if (status.ok()) {
        ++stats.uploads_ok;
        if (!task.remove_only) stats.bytes_uploaded += task.size;
      } else {
        ++stats.uploads_failed;
        NoteFailure(status);
      }
      UploadResult result{task.task_id, std::move(status), {}, 0};
      if (result.status.ok() && !task.remove_only) {
        result.key = task.key;
        result.version = task.version;
      }
      results.push_back(std::move(result));
      if (on_result) {
        lock.unlock();
        on_result();
        lock.lock();
      }
    }
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
  state->options = options;
  state->on_result = std::move(on_result);
  std::unique_ptr<Uploader> uploader(new Uploader(std::move(state)));
  for (size_t i = 0; i < options.parallelism; ++i) {
    uploader->state_->threads.emplace_back(
        [u = uploader.get()] { u->state_->Loop(*u); });
  }
  return uploader;
}

void Uploader::Submit(std::vector<UploadTask> tasks) {
  if (tasks.empty()) return;
  State& s = *state_;
  bool refused = false;
  {
    std::lock_guard lock(s.mutex);
    if (s.stopping) return;
    for (UploadTask& task : tasks) {
      if (!s.known.insert(task.task_id).second) continue;
      if (s.queue.size() >= s.options.max_queued) {
        s.known.erase(task.task_id);
        ++s.stats.uploads_failed;
        s.results.push_back(UploadResult{
            task.task_id,
            Status(StatusCode::kNoAvailableHandle,
                   fmt::format("upload of '{}': {} uploads already wait on this node", task.key,
                               s.queue.size()))});
        refused = true;
        continue;
      }
      s.queue.push_back(std::move(task));
    }
  }
  s.wake.notify_all();
  if (refused && s.on_result) s.on_result();
}

std::vector<UploadResult> Uploader::TakeResults() {
  std::lock_guard lock(state_->mutex);
  return std::exchange(state_->results, {});
}

void Uploader::PutBack(std::vector<UploadResult> results) {
  if (results.empty()) return;
  std::lock_guard lock(state_->mutex);
  state_->results.insert(state_->results.begin(), std::make_move_iterator(results.begin()),
                         std::make_move_iterator(results.end()));
}

void Uploader::Forget() {
  std::lock_guard lock(state_->mutex);
  for (const UploadTask& task : state_->queue) state_->known.erase(task.task_id);
  state_->queue.clear();
  state_->results.clear();
  ++state_->generation;
}

void Uploader::Stop() {
  State& s = *state_;
  std::call_once(s.stop_once, [&] {
    {
      std::lock_guard lock(s.mutex);
      s.stopping = true;
      s.queue.clear();
    }
    s.wake.notify_all();
    for (std::thread& t : s.threads) t.join();
  });
}

Uploader::Stats Uploader::stats() const {
  std::lock_guard lock(state_->mutex);
  Stats stats = state_->stats;
  stats.running = state_->running;
  stats.queued = state_->queue.size();
  return stats;
}

Status Uploader::RunOne(const UploadTask& task) {
  State& s = *state_;
  const std::string what = fmt::format("upload task {} of '{}' (version {})", task.task_id,
                                       task.key, task.version);
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

}  // namespace mooncake
