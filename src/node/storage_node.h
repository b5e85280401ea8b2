#pragma once

// A storage node: contributes one DRAM segment to the pool. It allocates the segment as
// registered Transfer Engine memory (clients read and write it directly), mounts it in the
// master under a fresh epoch, and keeps the mount alive with heartbeats. When the master
// says it does not know the node (the master restarted, or declared the node dead), the node
// mounts again, announcing every object it holds.
//
// Nodes are the truth: the node keeps a manifest of the objects in its segment, fed by the
// master's journal of changes through its heartbeats: a long poll that answers within ~2 ms of
// a put ending, then 10 ms of pause so changes arrive in batches; the manifest trails the
// master by ~12 ms plus a round trip. When the master
// restarts, the node re-mounts with its manifest under the same epoch and the new master
// rebuilds its index from the nodes. Objects whose put ended in the last round trip before a
// master crash may be missing from the manifest; they are then lost (reported as not found),
// never served wrong.
//
// Re-replication: the master hands the node copy tasks with its heartbeats (objects that lost
// a replica elsewhere, or that a draining node must hand over); a CopyWorker pulls the bytes
// from the source node into this segment and the node reports the result at once (a
// heartbeat that does not wait) or with its next heartbeat. On SIGTERM, mooncake_node calls
// Drain: the master copies away what only this node holds, and the node unmounts once
// nothing is left (or the timeout passes).
//
// SSD tier (ssd_path): a second segment on a file segment of the node's engine. The node
// writes an object's header there when its manifest learns of the replica (a put's PutEnd or
// a demotion's completion; ~one heartbeat later) and erases it when the replica goes, before
// acknowledging the change (the master keeps the range allocated until then). An object
// acknowledged less than a heartbeat before a kill -9 may have no header yet: the restart
// scan then does not find it (it is reported not found, never served wrong).
//
// Thread safety: Stop(), Drain() and the accessors may be called from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/common/clock.h"
#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "store_types/object_tier.h"
#include "tier/object_store_credentials.h"

namespace mooncake::transfer {
class TransferEngine;
}  // namespace mooncake::transfer

namespace mooncake::node {

struct StorageNodeOptions {
  // "host:port" of mooncake_master. Required.
  std::string master_address;
  // The node's Transfer Engine name "host:port" (clients connect here); port 0 picks one.
  // Required.
  std::string listen;
  // Stable identity across restarts. Default: the listen name (with the port actually bound).
  std::string node_id;
  // Transfer Engine metadata: "P2PHANDSHAKE" (default) or "etcd://host:port".
  std::string metadata_server = "P2PHANDSHAKE";
  // Transfer Engine protocol: "auto" (default: the segment lives in shared memory, so clients
  // on this host read and write it with one memcpy; others use TCP), "tcp", "shm".
  std::string protocol = "auto";
  // Bytes of DRAM contributed. Required, > 0.
  uint64_t segment_size = 0;
  // Period of heartbeats; must stay well below the master's client_ttl. Default 500 ms.
  std::chrono::milliseconds heartbeat_interval{500};
  // Deadline of every master RPC. Default 2 s.
  std::chrono::milliseconds rpc_timeout{2000};
  // The SSD tier: a file or block device, exposed as the Transfer Engine file segment "ssd"
  // (io_uring, O_DIRECT) and mounted as a second segment, medium SSD, named
  // "<segment name>/ssd". Objects there are self-describing (src/tier/ssd_layout.h): before
  // mounting, the node scans the file and announces every object found, so after kill -9 a
  // node restarted on the same path serves them again. Empty (default): no SSD segment.
  std::string ssd_path;
  // Bytes of ssd_path used; a regular file is created or extended (sparse) to this size.
  // Required with ssd_path: > 0, a multiple of 4 KiB.
  uint64_t ssd_size = 0;
  // Make every applied batch of SSD header writes and erasures durable (fdatasync) before
  // acknowledging it to the master, so a power loss keeps what the master was told. Default
  // true; false leaves them to the page cache (a process kill still loses none).
  bool ssd_sync = true;
  // Copy tasks run at once (CopyWorkerOptions::parallelism). Default 4; 1..64.
  size_t copy_parallelism = 4;
  // Write-back (the master's --object_store_policy=write-back): the node uploads objects it
  // holds to the object store the master names, with these credentials (mooncake_node reads
  // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), at most
  // upload_parallelism at once (each holding one object's bytes in memory). Default 4; 1..64.
  tier::ObjectStoreCredentials object_store_credentials;
  size_t upload_parallelism = 4;
  // Object bytes the running uploads may hold in memory together (one larger object still
  // runs, alone). Default 1 GiB; > 0.
  uint64_t upload_memory = uint64_t{1} << 30;
  // An engine to allocate and serve the segment from (not owned; it must outlive the node),
  // e.g. a store client's, so that the segment's name is the client's. Then `listen`,
  // `metadata_server` and `protocol` are the engine's own. Default null: the node creates one.
  transfer::TransferEngine* engine = nullptr;
  // The cluster secret (docs/security.md): the node's master RPCs carry a credential derived
  // from it, and the engine the node creates proves it to peers (a borrowed `engine` has its
  // own). Default null: none (an open cluster). mooncake_node fills it from --auth_secret_file.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
  // Time for the node's decisions (heartbeat pacing, Drain's deadline and its 5 s grace for a
  // master that does not answer, the SSD scan's duration). Not owned; it must outlive the node.
  // The waits between decisions stay real (woken early by Stop). Default null:
  // SystemClock::Instance().
  const Clock* clock = nullptr;

  Status Validate() const;
};

class StorageNode {
 public:
  // Allocates the segment, starts the engine and mounts; fails (nothing left running) when
  // the master is unreachable or refuses the mount.
  static Result<std::unique_ptr<StorageNode>> Create(StorageNodeOptions options);
  ~StorageNode();  // Stop()

  StorageNode(const StorageNode&) = delete;
  StorageNode& operator=(const StorageNode&) = delete;

  const std::string& node_id() const;
  // The segment's name (the Transfer Engine's "host:port").
  const std::string& segment_name() const;
  // The SSD segment's name ("<segment name>/ssd"); empty without ssd_path.
  std::string ssd_segment_name() const;
  uint64_t epoch() const;
  // Times the node mounted again after the master forgot it.
  uint64_t remounts() const;
  // Objects in the segment as far as the node has learnt (its manifest).
  size_t manifest_size() const;

  // What the node knows about itself, for its /metrics.
  struct Stats {
    uint64_t segment_bytes = 0;
    // Objects in the manifest and the bytes their replicas occupy.
    uint64_t objects = 0;
    uint64_t object_bytes = 0;
    uint64_t remounts = 0;
    uint64_t heartbeats_ok = 0;
    uint64_t heartbeats_failed = 0;
    // Manifest changes applied since the node started.
    uint64_t manifest_changes = 0;
    // Copy tasks run to success / failure, and the object bytes the successful ones moved.
    uint64_t copies_ok = 0;
    uint64_t copies_failed = 0;
    uint64_t copy_bytes = 0;
    // Write-back uploads run to success / failure, the bytes uploaded, and the uploads
    // waiting or running now (the node's share of the backlog).
    uint64_t uploads_ok = 0;
    uint64_t uploads_failed = 0;
    uint64_t upload_bytes = 0;
    uint64_t uploads_queued = 0;
    // Drain has been asked for.
    bool draining = false;
    // The SSD segment (all 0 without one): its size, the objects in its manifest and their
    // allocations' bytes (headers included), the records the start-up scan found and how
    // long the scan took, and header writes or erasures that failed (an object whose header
    // could not be written is served but not recovered by a restart).
    uint64_t ssd_bytes = 0;
    uint64_t ssd_objects = 0;
    uint64_t ssd_object_bytes = 0;
    uint64_t ssd_scanned_records = 0;
    uint64_t ssd_scan_ms = 0;
    uint64_t ssd_header_errors = 0;
    // fdatasync calls that made applied SSD header changes durable (ssd_sync).
    uint64_t ssd_syncs = 0;
  };
  Stats stats() const;
  // Bytes and tasks per peer of the node's Transfer Engine (GetPeerStats): what it served to
  // each client over TCP, and what its copies read from other nodes. Empty once stopped.
  std::vector<transfer::PeerTransferStats> peer_stats() const;

  // Asks the master to copy away every object only this node holds, and waits until none is
  // left or `timeout` passes (asking every ~100 ms; heartbeats and copies go on meanwhile).
  // Returns how many objects were still left (0: leaving loses nothing), or the error of the
  // last Drain call when none succeeded. A master that answers no Drain call for 5 s in a row
  // ends the wait early (a restarting master is back well within that; a dead one would make
  // every stop wait out `timeout` for nothing). The node keeps serving; call Stop() next.
  Result<uint64_t> Drain(std::chrono::milliseconds timeout);

  // Stops copies and heartbeats, unmounts (best effort) and frees the segment. Idempotent.
  void Stop();

 private:
  struct State;
  explicit StorageNode(std::unique_ptr<State> state);
  // Undoes a failed Create's steps (see Create); disarmed once the node is complete.
  struct CreateRollback {
    State* state;
    transfer::TransferEngine* borrowed;  // options.engine; null when the node owns its engine
    void* base;                          // the segment's memory
    size_t mounted = 0;                  // segments of state->mounted mounted so far, in order
    bool armed = true;
    ~CreateRollback();
  };
  std::unique_ptr<State> state_;
};

}  // namespace mooncake::node
