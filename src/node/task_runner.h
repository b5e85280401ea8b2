#pragma once

// Runs a storage node's tasks from the master — copies (CopyWorker), uploads (Uploader) — on a
// fixed set of threads, and collects their results for the node to report with its heartbeats.
// A task id already queued or running is ignored (the master may hand a task out again when a
// reply was lost); beyond `max_queued` waiting tasks, a task is refused at once (its result
// says so). Reports are made by one reporting thread, one `on_result` call at a time for
// whatever results were queued by then: a report is a master RPC (~0.3–0.7 ms under load), and
// made on the task threads it kept each from its next task (up to ~40% of the copy rate of
// small objects).
//
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

namespace mooncake::node {

// Task: has a uint64_t task_id.
template <typename Task, typename Result>
class TaskRunner {
 public:
  struct Callbacks {
    // Runs one task, on a runner thread, with no lock held.
    std::function<Result(const Task&)> run;
    // The result of a task refused because `max_queued` tasks already wait.
    std::function<Result(const Task&, size_t max_queued)> refuse;
    // Called for every result that is kept (run or refused; not those Forget drops), as it is
    // queued, with the runner's lock held: for the owner's counters. May be empty.
    std::function<void(const Task&, const Result&)> count;
    // Called after results were queued, on the reporting thread (see the file comment). May
    // be empty.
    std::function<void()> on_result;
  };

  // Starts `parallelism` (>= 1) task threads, and the reporting thread when on_result is set.
  TaskRunner(size_t parallelism, size_t max_queued, Callbacks callbacks)
      : max_queued_(max_queued), callbacks_(std::move(callbacks)) {
    for (size_t i = 0; i < parallelism; ++i) threads_.emplace_back([this] { Loop(); });
    if (callbacks_.on_result) reporter_ = std::thread([this] { ReportLoop(); });
  }
  ~TaskRunner() { Stop(); }

  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // Queues `tasks` (ids already queued or running are ignored; nothing after Stop).
  void Submit(std::vector<Task> tasks) {
    if (tasks.empty()) return;
    bool refused = false;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      for (Task& task : tasks) {
        if (!known_.insert(task.task_id).second) continue;
        if (queue_.size() >= max_queued_) {
          known_.erase(task.task_id);
          Keep(task, callbacks_.refuse(task, max_queued_));
          refused = true;
          continue;
        }
        queue_.push_back(std::move(task));
      }
      if (refused) report_pending_ = true;
    }
    wake_.notify_all();
    if (refused) report_wake_.notify_one();
  }

  // The results queued since the last call, oldest first.
  std::vector<Result> TakeResults() {
    std::lock_guard lock(mutex_);
    return std::exchange(results_, {});
  }

  // Puts back results whose report failed, to be taken again (before newer ones).
  void PutBack(std::vector<Result> results) {
    if (results.empty()) return;
    std::lock_guard lock(mutex_);
    results_.insert(results_.begin(), std::make_move_iterator(results.begin()),
                    std::make_move_iterator(results.end()));
  }

  // Drops every queued task and result; the results of tasks running now will be dropped too.
  // Then waits up to `wait` for the running tasks to end: true when none runs any more.
  bool Forget(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    ++generation_;
    for (const Task& task : queue_) known_.erase(task.task_id);
    queue_.clear();
    results_.clear();
    return idle_.wait_for(lock, wait, [&] { return running_ == 0; });
  }

  // Drops the queued tasks, waits for the running ones, makes the last report, and ends the
  // threads. Idempotent.
  void Stop() {
    std::call_once(stop_once_, [&] {
      {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        queue_.clear();
      }
      wake_.notify_all();
      for (std::thread& t : threads_) t.join();
      {
        std::lock_guard lock(mutex_);
        stop_reporting_ = true;
      }
      report_wake_.notify_all();
      if (reporter_.joinable()) reporter_.join();
    });
  }

  size_t running() const {
    std::lock_guard lock(mutex_);
    return running_;
  }
  size_t queued() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

 private:
  // Queues `result` of `task`. mutex_ held.
  void Keep(const Task& task, Result result) {
    if (callbacks_.count) callbacks_.count(task, result);
    results_.push_back(std::move(result));
  }

  void Loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Task task = std::move(queue_.front());
      queue_.pop_front();
      const uint64_t started_in = generation_;
      ++running_;
      lock.unlock();
      Result result = callbacks_.run(task);
      lock.lock();
      --running_;
      known_.erase(task.task_id);
      idle_.notify_all();
      if (started_in != generation_) continue;  // forgotten meanwhile: nobody wants it
      Keep(task, std::move(result));
      if (callbacks_.on_result) {
        report_pending_ = true;
        report_wake_.notify_one();
      }
    }
  }

  void ReportLoop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      report_wake_.wait(lock, [&] { return report_pending_ || stop_reporting_; });
      if (!report_pending_) return;
      report_pending_ = false;
      lock.unlock();
      callbacks_.on_result();
      lock.lock();
    }
  }

  const size_t max_queued_;
  const Callbacks callbacks_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;         // a task was queued, or stopping
  std::condition_variable idle_;         // a task ended
  std::condition_variable report_wake_;  // report_pending_ was set, or stop_reporting_
  bool stopping_ = false;
  // Results were queued since the reporting thread last began an on_result call.
  bool report_pending_ = false;
  // Set once the task threads have ended: the reporting thread makes its last call and ends.
  bool stop_reporting_ = false;
  // Bumped by Forget: a task that began under an older generation drops its result.
  uint64_t generation_ = 0;
  std::deque<Task> queue_;
  std::set<uint64_t> known_;  // ids queued or running
  size_t running_ = 0;
  std::vector<Result> results_;
  std::vector<std::thread> threads_;
  std::thread reporter_;  // only with an on_result
  std::once_flag stop_once_;
};

}  // namespace mooncake::node
