#include "node/heartbeat_pacer.h"

namespace mooncake::node {

std::chrono::milliseconds HeartbeatPacer::PauseAfter(Reply reply) const {
  if (reply == Reply::kChangesOrTasks) return kBatchPause;
  // A master that held the beat (a long poll with nothing to say) paced the loop itself.
  if (clock_.Now() - sent_ >= interval_ / 2) return std::chrono::milliseconds(0);
  return interval_;
}

}  // namespace mooncake::node
