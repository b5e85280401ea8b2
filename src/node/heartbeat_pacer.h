#pragma once

// When a storage node's next heartbeat goes out. A heartbeat is a long poll: the master holds
// it up to heartbeat_interval and answers as soon as it has manifest changes or tasks for the
// node. So after a beat that brought something the node beats again soon (after a short pause
// that lets the next changes gather: a busy segment costs ~100 heartbeats a second, not one
// per put); after one the master held, at once; after one the master answered early with
// nothing to say (it did not hold the poll), a whole interval, so the loop never spins; after
// a failure, a short retry pause.
//
// Pure apart from reading the injected Clock. Thread safety: one thread (the heartbeat loop).

#include <algorithm>
#include <chrono>

#include "mooncake/common/clock.h"

namespace mooncake::node {

class HeartbeatPacer {
 public:
  // Pause after a beat that brought manifest changes or tasks.
  static constexpr std::chrono::milliseconds kBatchPause{10};
  // Longest pause between retries while the master is unreachable (shorter intervals win).
  static constexpr std::chrono::milliseconds kRetryPause{100};

  // `clock` (not owned) must outlive the pacer; `interval` is the heartbeat interval (> 0).
  HeartbeatPacer(const Clock& clock, std::chrono::milliseconds interval)
      : clock_(clock), interval_(interval) {}

  // Call as a beat is sent.
  void Sent() { sent_ = clock_.Now(); }

  // What the master's reply to the last beat sent brought.
  enum class Reply {
    kNothing,         // no manifest change, no task
    kChangesOrTasks,  // manifest changes or tasks (or both)
  };
  // How long to pause before the next beat, after a successful one (0: none).
  std::chrono::milliseconds PauseAfter(Reply reply) const;

  // How long to pause before retrying after a failed beat.
  std::chrono::milliseconds RetryPause() const { return std::min(interval_, kRetryPause); }

 private:
  const Clock& clock_;
  const std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point sent_{};
};

}  // namespace mooncake::node
