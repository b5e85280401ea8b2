#pragma once

// The shm transport, initiator side: one ShmPeer per same-host segment (per incarnation), and
// a watcher thread that reads the owners' RELEASED notices and notices owners that exit, so
// that mappings of freed or dead memory are dropped even while no transfer runs. Copies run
// in the submitting thread (ShmPeer::Move). The target side is ShmExporter.
//
// Thread safety: every method may be called from any thread.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/slice.h"
#include "transfer/transport/shm/shm_peer.h"
#include "transfer/transport/transport.h"

namespace mooncake::transfer::shm {

struct ShmTransportOptions {
  std::string local_name;  // announced to owners (logs, proofs)
  // The cluster secret (null: none), proved to and demanded of every owner (shm_socket.h).
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
  // Bound on each control-socket exchange (HELLO, FETCH); default 1 s.
  std::chrono::milliseconds io_timeout{1000};
  // Called (on the submitting thread, no lock held) when Submit found a segment's descriptor
  // stale: its owner exited, restarted, or no longer has memory the descriptor listed. The
  // engine re-reads the descriptor. Optional.
  std::function<void(const std::string& segment)> on_stale_descriptor;
};

// A snapshot of ShmCounters.
struct ShmStats {
  uint64_t memcpy_bytes = 0;
  uint64_t process_vm_bytes = 0;
  uint64_t fallback_slices = 0;
  uint64_t fetches = 0;
  uint64_t mappings = 0;  // buffers of peers mapped right now
};

class ShmTransport final : public Transport {
 public:
  static Result<std::unique_ptr<ShmTransport>> Create(ShmTransportOptions options);
  ~ShmTransport() override;

  // True when `target` publishes an shm endpoint and runs on this host (`local_host_id`).
  static bool Reachable(const SegmentDescriptor& target, const std::string& local_host_id);

  // The shm endpoint is published by the exporter (ShmExporter), not by this side: none.
  std::vector<EndpointDescriptor> endpoints() const override { return {}; }
  // Attaches to `target` (its incarnation) unless already attached. kSegmentNotFound when it
  // exited; other codes when it refuses us (then TCP is the way).
  Status Connect(const SegmentDescriptor& target) override;
  // Transport::Submit: moves what shared memory can (Move) and leaves the rest in `slices`,
  // returning why (OK when every slice was taken); calls on_stale_descriptor when Move asked
  // for a descriptor refresh.
  Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) override;
  // Moves the slices (validated against `target`): each is completed or failed, or appended
  // to `fallback` (see MoveOutcome::fallback_reason) for another transport; `slices` is left
  // empty. Slices validated against another incarnation than the one attached fail like
  // TCP's incarnation check, and ask for a descriptor refresh.
  MoveOutcome Move(const SegmentDescriptor& target, std::vector<Slice>& slices,
                   std::vector<Slice>* fallback);
  // Detaches from a segment; its mappings go (once copies using them end).
  void Disconnect(const std::string& segment_name) override;

  ShmStats stats() const;

 private:
  explicit ShmTransport(ShmTransportOptions options) : options_(std::move(options)) {}
  Result<std::shared_ptr<ShmPeer>> PeerFor(const SegmentDescriptor& target);
  void Watch();
  void Wake();

  const ShmTransportOptions options_;
  ShmCounters counters_;
  UniqueFd wake_fd_;
  std::atomic<bool> stopping_{false};
  std::thread watcher_;

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<ShmPeer>> peers_;  // by segment name
};

}  // namespace mooncake::transfer::shm
