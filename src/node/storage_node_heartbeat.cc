// StorageNode::State's heartbeat thread: a long poll on the master that carries manifest
// acknowledgements and task results, brings manifest changes and new tasks, and mounts again
// when the master no longer knows the node.

#include <chrono>
#include <mutex>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "node/heartbeat_pacer.h"
#include "node/storage_node_state.h"

namespace mooncake::node {

void StorageNode::State::HeartbeatLoop() {
  const auto interval = options.heartbeat_interval;
  HeartbeatPacer pacer(*clock, interval);
  while (!Stopping()) {
    const std::vector<master::ManifestAck> acks = Acks();
    pacer.Sent();
    std::vector<CopyResult> results = copier->TakeResults();
    std::vector<UploadResult> uploads = uploader->TakeResults();
    NoteUploaded(uploads);
    auto reply = master->Heartbeat(spec.node_id, spec.epoch, acks, results, interval, uploads);
    if (reply.ok()) {
      heartbeats_ok.fetch_add(1, std::memory_order_relaxed);
      for (const master::ManifestDelta& delta : reply->deltas) {
        for (Mounted& m : mounted) {
          if (delta.segment == m.spec.name) Apply(m, delta.batch);
        }
      }
      // Tasks came: the master answered at once, so the next beat must not wait a whole
      // interval (tasks scheduled meanwhile, and the manifest changes their completion
      // brings, would wait with it).
      const bool brought_tasks = !reply->copy_tasks.empty() || !reply->upload_tasks.empty();
      copier->Submit(std::move(reply->copy_tasks));
      uploader->Submit(std::move(reply->upload_tasks));
      // Changes came: the next ones gather on the master for a moment. Nothing came: the
      // master held the poll, or answered early and must not make this spin (HeartbeatPacer).
      const auto pause = pacer.PauseAfter(!reply->deltas.empty() || brought_tasks
                                              ? HeartbeatPacer::Reply::kChangesOrTasks
                                              : HeartbeatPacer::Reply::kNothing);
      if (pause.count() > 0) Pause(pause);
      continue;
    }
    heartbeats_failed.fetch_add(1, std::memory_order_relaxed);
    // The master may not have seen them: report again (a repeat is harmless). A re-mount
    // below drops them instead (Quiesce): the master that scheduled them is gone.
    copier->PutBack(std::move(results));
    uploader->PutBack(std::move(uploads));
    const StatusCode code = reply.status().code();
    if (code == StatusCode::kClientNotFound || code == StatusCode::kSegmentNotFound) {
      if (Stopping()) break;  // Stop unmounted the segment
      MC_LOG_WARN(
          "master does not know node '{}' (restarted, or declared it dead): mounting "
          "segment '{}' again",
          spec.node_id, spec.name);
      if (Status mounted = Mount(); mounted.ok()) {
        remounts.fetch_add(1);
        continue;
      } else {
        MC_LOG_WARN("re-mount failed: {}", mounted.ToString());
      }
    } else {
      MC_LOG_WARN("heartbeat failed: {}", reply.status().ToString());
    }
    Pause(pacer.RetryPause());
  }
}

void StorageNode::State::Pause(std::chrono::milliseconds how_long) {
  std::unique_lock lock(mutex);
  wake.wait_for(lock, how_long, [&] { return stopping; });
}

}  // namespace mooncake::node
