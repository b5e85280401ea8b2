#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "mooncake/common/size.h"

namespace mooncake::cli {
namespace {

constexpr int kBarWidth = 30;

}  // namespace

Progress::Progress(uint64_t expected_bytes) {
  shown_ = isatty(STDERR_FILENO) == 1 && (expected_bytes == 0 || expected_bytes >= kMinBytes);
  if (shown_) ticker_ = std::thread([this] { Tick(); });
}

Progress::~Progress() { Finish(); }

void Progress::Phase(std::string label, uint64_t total) {
  if (!shown_) return;
  std::lock_guard lock(mutex_);
  label_ = std::move(label);
  total_ = total;
  done_.store(0, std::memory_order_relaxed);
  phase_start_ = std::chrono::steady_clock::now();
}

void Progress::Finish() {
  if (!ticker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  ticker_.join();
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

void Progress::Tick() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    // The first draw waits too: a transfer finishing within 100 ms shows nothing at all.
    wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_; });
    if (!stop_ && !label_.empty()) Draw();
  }
}

void Progress::Draw() {
  const uint64_t done = done_.load(std::memory_order_relaxed);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - phase_start_).count();
  std::string bar(kBarWidth, ' ');
  std::string figures;
  if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    std::fill_n(bar.begin(), static_cast<int>(fraction * kBarWidth), '#');
    const double rate = secs > 0 ? static_cast<double>(done) / secs / 1e6 : 0;
    char text[128];
    std::snprintf(text, sizeof(text), " %3.0f%% %s / %s  %.0f MB/s", fraction * 100,
                  FormatSize(done).c_str(), FormatSize(total_).c_str(), rate);
    figures = text;
  } else {
    // Unknown size: a marker bouncing across the bar, and what has moved so far.
    const unsigned span = 2 * (kBarWidth - 3);
    const unsigned step = frame_++ % span;
    const unsigned at = step < span / 2 + 1 ? step : span - step;
    bar.replace(std::min<size_t>(at, kBarWidth - 3), 3, "<=>");
    char text[128];
    std::snprintf(text, sizeof(text), " %s  %.1f s", done > 0 ? FormatSize(done).c_str() : "",
                  secs);
    figures = text;
  }
  std::fprintf(stderr, "\r\033[K%s [%s]%s", label_.c_str(), bar.c_str(), figures.c_str());
  std::fflush(stderr);
}

}  // namespace mooncake::cli
