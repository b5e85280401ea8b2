#pragma once

// StorageNode::State, the node behind storage_node.h's opaque pointer: the master client and
// engine, the mounted segments with their manifests, the heartbeat thread, the copy worker and
// the uploader. The pieces with logic of their own are classes: ManifestApplier (a segment's
// manifest: sequence numbers, adds and removes, what its SSD records need; pure),
// SsdRecordWriter (those records on the SSD file), HeartbeatPacer (when the next beat goes
// out), CopyWorker and Uploader. State's member functions wire them to the master, by
// concern: storage_node_manifest.cc (mounting, feeding the manifests), storage_node_heartbeat.cc
// (the heartbeat loop) and storage_node_tasks.cc (copy and upload task plumbing); StorageNode
// itself in storage_node.cc.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "master/client/master_client.h"
#include "mooncake/common/clock.h"
#include "mooncake/transfer/transfer_engine.h"
#include "node/copy_worker.h"
#include "node/manifest_applier.h"
#include "node/ssd_file.h"
#include "node/ssd_record_writer.h"
#include "node/storage_node.h"
#include "node/uploader.h"
#include "tier/object_store.h"

namespace mooncake::node {

// The Transfer Engine file segment serving the SSD tier.
inline constexpr char kSsdFileSegment[] = "ssd";

struct StorageNode::State {
  StorageNodeOptions options;
  // options.clock, or the system's: read by the heartbeat pacing, Drain's deadlines, the SSD
  // scan's timing and the uploader.
  const Clock* clock = nullptr;
  std::unique_ptr<master::MasterClient> master;
  std::unique_ptr<transfer::TransferEngine> engine;
  transfer::TransferEngine* engine_used = nullptr;  // engine.get() or options.engine
  // The DRAM segment (mounted[0].spec, the node's identity and epoch); aliases mounted[0].
  SegmentSpec spec;
  std::atomic<uint64_t> remounts{0};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread heartbeat;
  std::once_flag stop_once;

  // One mounted segment and the objects in it, as the master journaled them.
  struct Mounted {
    SegmentSpec spec;
    ManifestApplier manifest;
  };
  // [0]: DRAM; [1]: SSD when ssd_path is set. Fixed after Create; the manifests are changed
  // by the heartbeat thread (and Create) under manifest_mutex.
  std::mutex manifest_mutex;
  std::vector<Mounted> mounted;
  uint64_t manifest_changes = 0;
  // The SSD file, for the start-up scan and uploads' reads (null: no SSD segment), and the
  // writer keeping its records in step with mounted[1]'s manifest (under manifest_mutex).
  std::unique_ptr<SsdFile> ssd_file;
  std::unique_ptr<SsdRecordWriter> ssd_records;
  uint64_t ssd_scanned_records = 0;
  uint64_t ssd_scan_ms = 0;
  std::atomic<uint64_t> heartbeats_ok{0};
  std::atomic<uint64_t> heartbeats_failed{0};
  std::atomic<bool> draining{false};
  // Runs the master's copy tasks into the segment (created once the segment is mounted).
  std::unique_ptr<CopyWorker> copier;
  // Runs the master's write-back uploads (created before the first mount).
  std::unique_ptr<Uploader> uploader;

  bool Stopping() {
    std::lock_guard lock(mutex);
    return stopping;
  }

  // ---- Mounting, the manifests and the SSD headers (storage_node_manifest.cc) ----

  // Opens and registers the SSD file, scans it and adds its segment to `mounted` with the
  // records found as its manifest.
  Status OpenSsd(const std::string& path, uint64_t size, transfer::TransferEngine& engine,
                 const std::string& name);

  // Mounts the segment announcing every object the manifest holds (none at first start; all
  // of them after a master restart), and forgets the entries the master did not adopt.
  Status Mount();

  Status MountOne(Mounted& m);

  // Applies `batch` to m's manifest; on SSD, the records it changes are written or erased
  // (and synced, ssd_sync) before the batch can be acknowledged: the master reuses an erased
  // range only after that.
  void Apply(Mounted& m, const ManifestBatch& batch);

  std::vector<master::ManifestAck> Acks();

  // Marks the manifest entries whose version an upload put in the object store, so that a
  // restarted master adopting them schedules no upload again.
  void NoteUploaded(const std::vector<UploadResult>& results);

  // ---- Heartbeats (storage_node_heartbeat.cc) ----

  // Heartbeats double as the manifest feed: each is a long poll that returns as soon as the
  // master journals a change for this segment, or after heartbeat_interval.
  void HeartbeatLoop();

  // Sleeps up to `how_long`, returning early when Stop is called.
  void Pause(std::chrono::milliseconds how_long);

  // ---- Copy and upload tasks (storage_node_tasks.cc) ----

  // Sends finished copy results at once, in a heartbeat that does not wait (the long poll
  // may be parked on the master for up to heartbeat_interval); new tasks in its reply are
  // queued. Called by copy worker threads; results whose report failed go back for the
  // heartbeat loop to carry.
  void ReportCopies();

  // Sends finished upload results at once, as ReportCopies does for copies.
  void ReportUploads();

  // Reads `source`, a range of one of this node's segments, for an upload.
  Status ReadLocal(const Allocation& source, std::span<char> out);

  // The object store for write-back uploads, as the master names it (null, with the reason,
  // when the master's policy is not write-back or the store cannot be opened).
  std::pair<std::unique_ptr<tier::ObjectStore>, Status> OpenObjectStore();

  // Longest a re-mount waits for running copies to end.
  static constexpr std::chrono::milliseconds kQuiesceTimeout{10000};
  // Pause between Drain calls while objects are still being copied away.
  static constexpr std::chrono::milliseconds kDrainPoll{100};
  // How long Drain keeps asking a master that does not answer.
  static constexpr std::chrono::milliseconds kDrainUnreachableGrace{5000};
};

}  // namespace mooncake::node
