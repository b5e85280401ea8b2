#pragma once

// Work the master hands a storage node with its heartbeat replies, and the node's reports:
// copies of an object's bytes between nodes (re-replication, drain, demotion, promotion) and
// write-back uploads to the object store.

#include <chrono>
#include <cstdint>
#include <string>

#include "mooncake/common/status.h"
#include "store_types/segment.h"

namespace mooncake {

// One copy of an object's bytes from a node holding a COMPLETE replica to a node that holds
// none, pulled by the destination node (MasterCore::TakeCopyTasks): it reads `source` with
// the Transfer Engine straight into its own segment at `destination`, checks the CRC32C of
// the first `size` bytes against `checksum`, and reports (MasterCore::CompleteRepair).
struct CopyTask {
  // Unique per master process; names the task in CompleteRepair.
  uint64_t task_id = 0;
  std::string key;
  // The object's version, size and checksum when the copy was scheduled.
  uint64_t version = 0;
  uint64_t size = 0;
  uint32_t checksum = 0;
  // Where the bytes are read (a COMPLETE replica) and written; same length.
  Allocation source;
  Allocation destination;
  // The node that owns `destination` and runs the copy.
  NodeId destination_node;
  // What remains of repair_timeout when the task is handed out: a result after that is
  // ignored.
  std::chrono::milliseconds timeout{0};
};

// A node's report of one copy task.
struct CopyResult {
  uint64_t task_id = 0;
  // OK: the bytes are in place and their checksum matched; else why not.
  Status status;
};

// Write-back: one upload of an object's bytes to the object store by a node holding a COMPLETE
// replica (MasterCore::TakeUploadTasks). The node reads `source` (its own segment), checks the
// CRC32C of the `size` bytes against `checksum`, puts them under `key` and reports
// (MasterCore::CompleteUpload). `check_first` (objects adopted after a master restart, which
// may be there already): a HEAD showing the same size and CRC32C is reported done without
// uploading. `remove_only`: delete `key` from the object store instead (a late upload of an
// object removed meanwhile); source, size and checksum are then unused.
struct UploadTask {
  uint64_t task_id = 0;
  std::string key;
  uint64_t version = 0;
  uint64_t size = 0;
  uint32_t checksum = 0;
  Allocation source;
  NodeId node;
  bool check_first = false;
  bool remove_only = false;
  // What remains of upload_timeout when the task is handed out.
  std::chrono::milliseconds timeout{0};
};

// A node's report of one upload task.
struct UploadResult {
  uint64_t task_id = 0;
  // OK: the object store holds the object's bytes (or, remove_only, no longer holds the key).
  Status status;
  // For the node's own use (not sent): the key and version a successful upload put there
  // (version 0 otherwise), so that its manifest can say so to a restarted master.
  std::string key;
  uint64_t version = 0;
};

}  // namespace mooncake
