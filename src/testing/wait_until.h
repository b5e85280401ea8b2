#pragma once

// Bounded waits for what other threads do, without fixed sleeps: a test waits exactly as long
// as the condition takes to hold, and fails (instead of hanging) when it never does.
//
// WaitSignal is for conditions some callback can announce (a result reported, a callback
// entered): the callback calls Notify() after each change, and the test waits on it.
// PollUntil is for state no callback announces (a counter in a stats struct); it re-checks as
// fast as the scheduler allows, so use it only for conditions that hold within milliseconds.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace mooncake::testing {

// Thread-safe.
class WaitSignal {
 public:
  // Wakes every WaitUntil to check its condition again. Call it after the change it announces.
  void Notify() {
    { std::lock_guard lock(mutex_); }  // a waiter is either checking or waiting, not between
    changed_.notify_all();
  }

  // Waits until `done()` holds (checked at once and after every Notify) or `bound` passes.
  // Returns done()'s last value. `done` runs with this signal's lock held: it may take other
  // locks, but must not call Notify.
  bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds bound) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, bound, done);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
};

// Checks `done()` until it holds or `bound` passes, yielding the processor in between.
// Returns done()'s last value.
inline bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
}

}  // namespace mooncake::testing
