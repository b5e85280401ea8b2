#pragma once

// Write-back (object_tier kWriteBack), for MasterCore: which objects still have to reach the
// object store, which node uploads each, and what a node's report changes.
//
// A PutEnd'd object is not yet in the object store (unless its put came from there: a
// read-through's put-back). It waits in the queue until Schedule hands an upload to a node
// holding a COMPLETE replica (DRAM preferred, at most max_uploads_per_node per node); the
// node's report marks it in_object_store at that version. Until then eviction never drops it
// (SafeToDrop; demotion to SSD still moves it), so a full pool of such objects refuses puts
// rather than lose data. One upload per key is in flight at a time, across versions and
// removals: an upload that lands after its object was upserted is followed by the new
// version's; one that lands after its object was removed is followed by a delete of the key
// (the key's next upload waits for it). A failed upload is retried after upload_retry_delay
// (doubling, at most 30 s). Objects adopted from a manifest start not in the object store,
// with check_first uploads. Under kWriteThrough every PutEnd'd object is in the object store
// already (its writer uploaded it); under kNone nothing here happens.
//
// Invariants (CheckInvariants): every visible object not in the object store is either queued
// or uploading, never both, and one in the object store is neither; the backlog counters are
// the sum over those objects; every object's upload link names its own task.
//
// Holds ObjectRecord pointers: MasterCore calls Forget before erasing a record. Not
// thread-safe; owned by MasterCore.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "master/core/master_core_types.h"
#include "master/core/node_outbox.h"
#include "master/core/object_table.h"
#include "master/core/segment_index.h"
#include "master/core/task_ids.h"
#include "mooncake/common/status.h"

namespace mooncake::master {

class WriteBackScheduler {
 public:
  // What the scheduler reads (and the counters it keeps), all owned by MasterCore.
  struct Context {
    const MasterCoreOptions& options;
    const SegmentIndex& segments;
    const ObjectTable& objects;
    TaskIds& task_ids;
    TierStats& stats;
  };
  explicit WriteBackScheduler(Context context) : c_(context) {}

  // ---- Object lifecycle (the core's index upkeep calls these) ----
  // Where a new visible version came from.
  enum class Origin : uint8_t {
    // A writer's PutEnd.
    kPut,
    // A read-through's put-back: the bytes came from the object store.
    kPutBack,
    // Adopted from a node's manifest, which says it is not (known to be) in the object store.
    kAdopted,
    // Adopted from a node's manifest, which says it is in the object store.
    kAdoptedInObjectStore,
  };
  // A new visible version of `record`: whether it is in the object store now, the backlog,
  // the queue.
  void OnNewVersion(ObjectRecord* record, Origin origin);
  // `record`'s current version is in the object store (an upload reported done, or a node's
  // manifest says so); it leaves the backlog and the queue.
  void MarkInObjectStore(ObjectRecord* record);
  // Takes `record`'s current version out of the backlog counters, if it is counted there
  // (before its version changes, it is erased, or it reaches the object store).
  void LeaveBacklog(ObjectRecord* record);
  // `record` is going: its queue entries go; its upload in flight is orphaned.
  void Forget(ObjectRecord* record);
  // The replica of `record` in `segment` whose data starts at `data_address` is dropped: an
  // upload not yet handed out that reads it goes back to the queue (one handed out is left to
  // its node, which checks the checksum first and fails).
  void OnReplicaDropped(ObjectRecord* record, SegmentId segment, uint64_t data_address);
  // Cancels uploads whose source segment is gone, re-queueing their objects.
  void DropOnGoneSegments();
  // Whether eviction may drop `record` from the pool entirely (write-back: only once it is in
  // the object store).
  bool SafeToDrop(const ObjectRecord& record) const {
    return c_.options.object_tier != ObjectTierPolicy::kWriteBack || record.in_object_store;
  }

  // ---- Scheduling and reports ----
  // Abandons uploads past their deadline, counting failures and retrying later.
  void ReclaimExpired(TimePoint now);
  // Schedules up to `max` uploads, looking at no more than 16 x max queued objects, round
  // robin; returns how many. O(max x (log n + replicas)).
  size_t Schedule(size_t max, TimePoint now);
  // Up to `max` upload tasks scheduled for `node` and not yet handed out.
  std::vector<UploadTask> TakeTasks(const NodeId& node, size_t max, TimePoint now);
  // `node` reports upload task `task_id`. Errors, changing nothing: kObjectNotFound (no such
  // task: already reported, expired, or an earlier master's), kInvalidParams (another node's).
  Status Complete(uint64_t task_id, const NodeId& node, const Status& result, TimePoint now);
  // Uploads handed out or queued for a node, not yet reported.
  size_t InFlight() const { return uploads_.size(); }
  // Grows with every upload task queued for a node (for heartbeats waiting for work).
  uint64_t TasksQueued() const { return tasks_queued_; }

  Status CheckInvariants() const;

 private:
  struct Upload {
    // The object; null once it was erased while the upload ran (an orphan).
    ObjectRecord* record = nullptr;
    SegmentId source_segment = 0;
    TimePoint deadline;
    bool delivered = false;
    UploadTask task;
  };
  using UploadMap = std::map<uint64_t, Upload>;
  struct Retry {
    TimePoint after;
    uint32_t failures = 0;
  };

  bool enabled() const { return c_.options.object_tier == ObjectTierPolicy::kWriteBack; }
  // Numbers `upload`, gives it a deadline and queues it for its node.
  void QueueTask(Upload upload, TimePoint now);
  // Forgets the upload at `it` (its node's count, the object's link, an orphan key).
  void Erase(UploadMap::iterator it);
  // Queues `record` again after a failed or abandoned upload, with a doubling delay.
  void RetryLater(ObjectRecord* record, TimePoint now);

  Context c_;
  // Objects waiting for an upload (visible, not in the object store, none in flight), scanned
  // round robin from cursor_ (compared, never dereferenced).
  std::set<ObjectRecord*, std::less<>> queue_;
  const ObjectRecord* cursor_ = nullptr;
  // Uploads by task id, the one of each object, those not yet handed out per node, and the
  // count per node.
  UploadMap uploads_;
  std::map<const ObjectRecord*, uint64_t> upload_of_;
  NodeOutbox outbox_;
  std::map<NodeId, size_t, std::less<>> per_node_;
  // Keys with an orphaned upload or its delete in flight: their next upload waits.
  std::multiset<std::string, std::less<>> orphan_keys_;
  // When an object's next try is due after failures.
  std::map<const ObjectRecord*, Retry> retry_;
  // Adopted objects (maybe in the object store already): their upload checks first.
  std::set<const ObjectRecord*, std::less<>> check_first_;
  uint64_t tasks_queued_ = 0;
};

}  // namespace mooncake::master
