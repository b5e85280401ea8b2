#pragma once

// A one-line progress display on stderr for the CLI's transfers: a bar with bytes, percent and
// rate while the size is known, a moving marker and elapsed time while it is not (one store
// call in flight, or stdin of unknown length). A ticker thread redraws it every 100 ms.
//
// Shown only when stderr is a terminal and the transfer is at least kMinBytes; otherwise every
// method is a cheap no-op, so scripts and pipes see nothing.
//
// Thread safety: Advance may be called from any thread; the rest from the owning thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace mooncake::cli {

class Progress {
 public:
  static constexpr uint64_t kMinBytes = uint64_t{4} << 20;

  // `expected_bytes`: the transfer's size as far as known before it starts (0 = unknown), to
  // decide whether to show anything.
  explicit Progress(uint64_t expected_bytes);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool shown() const { return shown_; }
  // Starts a phase: `label` (e.g. "reading big.bin"), `total` bytes (0 = unknown). Ends the
  // previous phase.
  void Phase(std::string label, uint64_t total);
  void Advance(uint64_t bytes) { done_.fetch_add(bytes, std::memory_order_relaxed); }
  // Clears the line and stops the ticker. Called by the destructor too.
  void Finish();

 private:
  void Tick();
  void Draw();

  bool shown_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::string label_;
  uint64_t total_ = 0;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point phase_start_;
  unsigned frame_ = 0;
  std::thread ticker_;
};

}  // namespace mooncake::cli
