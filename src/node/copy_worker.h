#pragma once

// A storage node's copy worker: runs the master's copy tasks (re-replication and drain). Each
// task names a COMPLETE replica on another node (the source) and a range of this node's own
// segment (the destination, allocated by the master and invisible to readers): the worker
// reads the source with the Transfer Engine straight into the destination — the segment is
// registered memory, so no staging copy — checks the CRC32C of the object's bytes against the
// task's checksum, and queues the outcome for the node to report with its next heartbeat.
// Only a matching checksum is reported OK, so bytes from a wrong or restarted source never
// become a replica.
//
// At most `parallelism` copies run at once, on the worker's own threads; tasks beyond
// `max_queued` waiting are refused at once (reported failed). The owner's `on_result` (its
// report to the master, an RPC) runs on one more thread of the worker's, never on a copy
// thread: a copy thread goes on to its next task at once, and results that end while a report
// is under way go out together in the next one.
//
// Thread safety: every method may be called from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/address_range.h"
#include "master/client/master_client.h"
#include "mooncake/common/status.h"

namespace mooncake::transfer {
class TransferEngine;
}  // namespace mooncake::transfer

namespace mooncake::node {

struct CopyWorkerOptions {
  // Copies running at once. Default 4; 1..64.
  size_t parallelism = 4;
  // Tasks waiting to run beyond this are refused (reported failed). Default 4096; > 0.
  size_t max_queued = 4096;
  // Longest one copy may take when its task carries no timeout. Default 10 s; > 0.
  std::chrono::milliseconds default_timeout{10000};

  Status Validate() const;
};

// A segment copies land in: `engine`'s registered buffer [base, base + size) named `name`, or
// (kFileSegment) the engine's file segment at those addresses (an SSD segment, named
// "<engine name>/<suffix>"): the worker then reads the source into a registered bounce buffer,
// checks it, and writes it to the file through its own engine (io_uring, O_DIRECT). The
// object's SSD header is not the worker's: the node writes it when the master adopts the copy.
struct CopyDestination {
  enum class Kind : uint8_t { kMemory, kFileSegment };
  std::string name;
  uint64_t base = 0;
  uint64_t size = 0;
  Kind kind = Kind::kMemory;

  AddressRange range() const { return {base, size}; }
};

class CopyWorker {
 public:
  struct Stats {
    uint64_t copies_ok = 0;
    uint64_t copies_failed = 0;
    // Object bytes copied by successful copies.
    uint64_t bytes_copied = 0;
    // Copies running and waiting now.
    uint64_t running = 0;
    uint64_t queued = 0;
  };

  // Starts the worker threads. `engine` must outlive the worker. `on_result` (may be empty)
  // is called on the worker's reporting thread, with no lock held, once results are queued, so
  // that the owner can report without waiting for its next heartbeat: every result is followed
  // by a call that begins after it was queued, but one call may follow several results (calls
  // never overlap; results queued during a call bring one more). kInvalidParams for bad options
  // or an empty destination.
  static Result<std::unique_ptr<CopyWorker>> Create(transfer::TransferEngine& engine,
                                                    CopyDestination destination,
                                                    CopyWorkerOptions options,
                                                    std::function<void()> on_result = {});
  // The same, for a node with several segments (DRAM and SSD): a task's destination must lie
  // in one of them.
  static Result<std::unique_ptr<CopyWorker>> Create(transfer::TransferEngine& engine,
                                                    std::vector<CopyDestination> destinations,
                                                    CopyWorkerOptions options,
                                                    std::function<void()> on_result = {});
  ~CopyWorker();  // Stop()

  CopyWorker(const CopyWorker&) = delete;
  CopyWorker& operator=(const CopyWorker&) = delete;

  // Queues `tasks` (tasks already queued or running, by id, are ignored).
  void Submit(std::vector<CopyTask> tasks);
  // The results finished since the last call, oldest first.
  std::vector<CopyResult> TakeResults();
  // Puts back results whose report failed, to be taken again.
  void PutBack(std::vector<CopyResult> results);
  // Drops every queued task and result, then waits up to `timeout` for the running copies to
  // end (their results are dropped too). True when none runs any more: from then on nothing is
  // written into the segment until new tasks come. For a node about to re-mount: the new
  // master knows nothing of these copies, and their ranges may be handed out again.
  bool Quiesce(std::chrono::milliseconds timeout);
  // Stops the threads after the running copies end (and a last `on_result` for their results);
  // queued tasks are dropped. Idempotent.
  void Stop();

  Stats stats() const;

  // Runs one task on the calling thread: the copy, the range and checksum checks. OK when the
  // bytes are in place and match. Exposed for tests.
  Status RunOne(const CopyTask& task);

 private:
  struct State;
  explicit CopyWorker(std::unique_ptr<State> state);
  // RunOne for a destination in a file segment (see CopyDestination).
  Status CopyToFile(const CopyTask& task, const CopyDestination& own,
                    std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<State> state_;
};

}  // namespace mooncake::node
