#pragma once

// Initiator side of the shm transport towards one incarnation of one same-host segment:
// the watch connection (its hang-up means the owner exited), a read-only mapping of the
// owner's control table, the owner's pidfd, and a cache of fetched buffers (each a MAP_SHARED
// mapping of the owner's memfd, or, for private memory, just its bounds for process_vm).
//
// Moving a slice = one memcpy (or one process_vm_readv/writev) in the calling thread. Checks:
// before each copy, the remote range must lie inside the fetched buffer and the buffer's
// control slot must still hold its id (else it is re-fetched once: the owner may have
// registered new memory there); after the copies (every kCheckBytes and at the end), one fence,
// then the slots are read again and the watch connection polled: slices whose buffer was
// unregistered, or whose owner exited, meanwhile are FAILED.
//
// Thread safety: all methods may be called concurrently; mappings in use by a copy stay
// mapped until the copy ends (shared ownership), even when dropped meanwhile.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/slice.h"
#include "transfer/transport/shm/shm_socket.h"

namespace mooncake::transfer::shm {

// Counters of one ShmTransport, shared by its peers.
struct ShmCounters {
  std::atomic<uint64_t> memcpy_bytes{0};
  std::atomic<uint64_t> process_vm_bytes{0};
  std::atomic<uint64_t> fallback_slices{0};  // handed back for TCP (or failed under "shm")
  std::atomic<uint64_t> fetches{0};          // FETCH round trips
  std::atomic<uint64_t> mappings{0};         // buffers mapped now
};

struct ShmPeerOptions {
  std::string local_name;  // announced in HELLO and FETCH (logs, proofs)
  std::chrono::milliseconds io_timeout{1000};
  // The cluster secret (null: none): proved to and demanded of the owner on every connection
  // (shm_socket.h) before any fd it passes is used.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
};

// What a Move found out beyond the slices' own outcomes.
struct MoveOutcome {
  // The owner exited, restarted, or no longer has memory the descriptor listed: the caller
  // should re-read the segment's descriptor.
  bool refresh_descriptor = false;
  // Why slices were appended to `fallback` (OK when none were).
  Status fallback_reason;
};

class ShmPeer {
 public:
  // Connects to `target.shm_endpoint` and says HELLO. kSegmentNotFound when nobody listens
  // (the owner exited); kUnauthenticated when the two sides do not prove the same cluster
  // secret; other codes when the owner refuses us (another user, version).
  static Result<std::shared_ptr<ShmPeer>> Connect(const SegmentDescriptor& target,
                                                  const ShmPeerOptions& options,
                                                  ShmCounters* counters);
  ~ShmPeer();

  const std::string& name() const { return name_; }
  uint64_t incarnation() const { return incarnation_; }
  int watch_fd() const { return watch_.get(); }
  bool dead() const { return dead_.load(std::memory_order_acquire); }

  // Moves every slice or appends it to `fallback` (no shared memory and process_vm refused).
  // Each moved slice's task is told of success or failure before this returns; `slices` is
  // left empty.
  MoveOutcome Move(std::vector<Slice>& slices, std::vector<Slice>* fallback);

  // Watcher thread: reads RELEASED notices (dropping those buffers); marks the peer dead
  // when the connection hung up.
  void OnWatchReadable();
  // Drops every cached buffer and refuses further moves (the owner exited).
  void MarkDead();
  size_t cached_buffers() const;

 private:
  struct RemoteBuffer;
  using BufferRef = std::shared_ptr<const RemoteBuffer>;

  ShmPeer(const SegmentDescriptor& target, const ShmPeerOptions& options, ShmCounters* counters);
  // The cached buffer containing the range and still registered, else a fresh FETCH.
  Result<BufferRef> BufferFor(uint64_t address, uint64_t length);
  Result<BufferRef> Fetch(uint64_t address, uint64_t length);
  bool SlotHolds(const RemoteBuffer& buffer) const;
  bool OwnerAlive() const;
  void DropBuffer(uint64_t id);
  // Copies one slice through process_vm; errno on failure, 0 on success.
  int CopyProcessVm(const Slice& slice);

  const std::string name_;
  const std::string endpoint_;
  const uint64_t incarnation_;
  const ShmPeerOptions options_;
  ShmCounters* counters_;
  UniqueFd watch_;
  UniqueFd pidfd_;  // invalid: process_vm unavailable (pid not visible here)
  int pid_ = 0;
  const uint64_t* table_ = nullptr;  // control table, read-only
  uint64_t slots_ = 0;
  std::atomic<bool> dead_{false};

  mutable std::shared_mutex buffers_mutex_;
  std::map<uint64_t, BufferRef> buffers_;  // by base address
  std::mutex fetch_mutex_;                 // one FETCH at a time; guards the next field
  // After a FETCH that got no answer, fetches fail at once until then (slices go to TCP).
  std::chrono::steady_clock::time_point fetch_retry_after_{};
};

}  // namespace mooncake::transfer::shm
