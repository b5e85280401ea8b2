#pragma once

// A storage node's write-back uploader: runs the master's upload tasks (mooncake_master
// --object_store_policy=write-back). Each task names one of this node's own replicas; the
// uploader reads its bytes into a private buffer (so a range the master frees and reuses
// meanwhile cannot change what is uploaded), checks their CRC32C against the task's, and puts
// them in the object store; the outcome is queued for the node to report with its next
// heartbeat. Only a matching checksum is uploaded, so the object store never receives bytes the
// master did not acknowledge. A task with check_first is done without uploading when the
// object store already holds an object of the key with the same size and CRC32C.
//
// At most `parallelism` uploads run at once on the uploader's own threads, each holding one
// object's bytes in memory, together at most `memory_budget` bytes (or one object larger than
// that); tasks beyond `max_queued` waiting are refused at once (reported failed) — the master
// keeps the object in its backlog and tries again.
//
// Thread safety: every method may be called from any thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "mooncake/common/clock.h"
#include "mooncake/common/status.h"
#include "store_types/node_tasks.h"
#include "tier/object_store.h"

namespace mooncake::node {

struct UploaderOptions {
  // Uploads running at once. Default 4; 1..64.
  size_t parallelism = 4;
  // Tasks waiting to run beyond this are refused. Default 1024; > 0.
  size_t max_queued = 1024;
  // Object bytes the running uploads may hold in memory at once: an upload that would pass it
  // waits for others to end (one runs whatever its size). Default 1 GiB; > 0.
  uint64_t memory_budget = uint64_t{1} << 30;
  // Time for spacing out failure warnings (one per 5 s). Not owned; it must outlive the
  // uploader. Default null: SystemClock::Instance().
  const Clock* clock = nullptr;

  Status Validate() const;
};

// Reads the bytes of `source` (a range of one of the node's own segments) into `out`.
using LocalReader = std::function<Status(const Allocation& source, std::span<char> out)>;

class Uploader {
 public:
  struct Stats {
    uint64_t uploads_ok = 0;
    uint64_t uploads_failed = 0;
    // Bytes of the successful uploads (checks that found the object there count none).
    uint64_t bytes_uploaded = 0;
    // Uploads running and waiting now.
    uint64_t running = 0;
    uint64_t queued = 0;
    // Of the running uploads, those waiting for memory_budget to let them read their object.
    uint64_t waiting_for_memory = 0;
  };

  // Starts the threads. `store` null: every task fails with `store_error` (the node could not
  // open the object store the master names). `on_result` (may be empty) is called after
  // results are queued, one call at a time, on the uploader's reporting thread (TaskRunner).
  static Result<std::unique_ptr<Uploader>> Create(std::unique_ptr<tier::ObjectStore> store,
                                                  Status store_error, LocalReader reader,
                                                  UploaderOptions options,
                                                  std::function<void()> on_result = {});
  ~Uploader();  // Stop()

  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Queues `tasks` (tasks already queued or running, by id, are ignored).
  void Submit(std::vector<UploadTask> tasks);
  // The results finished since the last call, oldest first. A successful upload's result also
  // names its key and version (UploadResult::key, version).
  std::vector<UploadResult> TakeResults();
  // Puts back results whose report failed, to be taken again.
  void PutBack(std::vector<UploadResult> results);
  // Drops every queued task and result (a re-mount: the master that scheduled them is gone);
  // running uploads finish, their results dropped.
  void Forget();
  // Stops the threads after the running uploads end; queued tasks are dropped. Idempotent.
  void Stop();

  Stats stats() const;

  // Runs one task on the calling thread. OK when the object store holds the bytes (or, for
  // remove_only, no longer holds the key). Exposed for tests.
  Status RunOne(const UploadTask& task);

 private:
  struct State;
  explicit Uploader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace mooncake::node
