#include "master/core/write_back_scheduler.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace mooncake::master {

namespace {

constexpr std::chrono::milliseconds kMaxRetryDelay{30000};
// Queued objects Schedule looks at, at most, per upload it may schedule.
constexpr size_t kScanPerUpload = 16;

}  // namespace

// ---- Object lifecycle ------------------------------------------------------------------------

void WriteBackScheduler::OnNewVersion(ObjectRecord* record, Origin origin) {
  const bool from_object_store =
      origin == Origin::kPutBack || origin == Origin::kAdoptedInObjectStore;
  switch (c_.options.object_tier) {
    case ObjectTierPolicy::kNone:
      return;
    case ObjectTierPolicy::kWriteThrough:
      // The writer uploaded before PutEnd (a put whose upload failed never ends).
      record->in_object_store = true;
      if (origin == Origin::kPut) ++c_.stats.object_uploads;
      return;
    case ObjectTierPolicy::kWriteBack:
      break;
  }
  record->in_object_store = from_object_store;
  retry_.erase(record);  // a new version: its tries start over
  if (from_object_store) {
    queue_.erase(record);
    check_first_.erase(record);
    return;
  }
  ++c_.stats.upload_backlog_objects;
  c_.stats.upload_backlog_bytes += record->size;
  check_first_.erase(record);
  if (origin == Origin::kAdopted) check_first_.insert(record);
  // An upload of an older version still in flight is followed by this one's once it reports.
  if (!upload_of_.contains(record)) queue_.insert(record);
}

void WriteBackScheduler::LeaveBacklog(ObjectRecord* record) {
  if (!enabled() || !record->visible || record->in_object_store) return;
  --c_.stats.upload_backlog_objects;
  c_.stats.upload_backlog_bytes -= record->size;
}

void WriteBackScheduler::MarkInObjectStore(ObjectRecord* record) {
  if (!enabled() || record->in_object_store) return;
  LeaveBacklog(record);
  record->in_object_store = true;
  queue_.erase(record);
  retry_.erase(record);
  check_first_.erase(record);
  // An upload in flight, if any, finds it done when it reports.
}

void WriteBackScheduler::Forget(ObjectRecord* record) {
  LeaveBacklog(record);
  queue_.erase(record);
  retry_.erase(record);
  check_first_.erase(record);
  auto of = upload_of_.find(record);
  if (of == upload_of_.end()) return;
  auto it = uploads_.find(of->second);
  upload_of_.erase(of);
  if (it == uploads_.end()) return;
  if (!it->second.delivered) {
    // Never handed out: it simply goes (its outbox entry is skipped).
    --per_node_[it->second.task.node];
    uploads_.erase(it);
    return;
  }
  // The node may still put the bytes in the object store: the key's next upload waits for its
  // report, and a late success is followed by a delete (Complete).
  it->second.record = nullptr;
  orphan_keys_.insert(it->second.task.key);
}

void WriteBackScheduler::OnReplicaDropped(ObjectRecord* record, SegmentId segment,
                                          uint64_t data_address) {
  auto link = upload_of_.find(record);
  if (link == upload_of_.end()) return;
  auto it = uploads_.find(link->second);
  if (it != uploads_.end() && !it->second.delivered && it->second.source_segment == segment &&
      it->second.task.source.address == data_address) {
    Erase(it);
    if (!record->in_object_store) queue_.insert(record);
  }
}

void WriteBackScheduler::DropOnGoneSegments() {
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    const Upload& upload = it->second;
    if (upload.task.remove_only || !c_.segments.Get(upload.source_segment).gone) {
      ++it;
      continue;
    }
    // Its node is gone: another replica's node takes the object (no failure counted).
    ObjectRecord* record = upload.record;
    auto next = std::next(it);
    Erase(it);
    it = next;
    if (record != nullptr && !record->in_object_store) queue_.insert(record);
  }
}

// ---- Bookkeeping -----------------------------------------------------------------------------

void WriteBackScheduler::QueueTask(Upload upload, TimePoint now) {
  upload.task.task_id = c_.task_ids.Next();
  upload.deadline = now + c_.options.upload_timeout;
  const uint64_t id = upload.task.task_id;
  const NodeId node = upload.task.node;
  if (upload.record != nullptr) upload_of_[upload.record] = id;
  uploads_.emplace(id, std::move(upload));
  outbox_.Push(node, id);
  ++per_node_[node];
  ++tasks_queued_;
  c_.stats.uploads_in_flight = uploads_.size();
}

void WriteBackScheduler::Erase(UploadMap::iterator it) {
  auto count = per_node_.find(it->second.task.node);
  if (count != per_node_.end() && --count->second == 0) per_node_.erase(count);
  if (it->second.record != nullptr) upload_of_.erase(it->second.record);
  if (it->second.record == nullptr || it->second.task.remove_only) {
    auto orphan = orphan_keys_.find(it->second.task.key);
    if (orphan != orphan_keys_.end()) orphan_keys_.erase(orphan);
  }
  uploads_.erase(it);
  c_.stats.uploads_in_flight = uploads_.size();
}

void WriteBackScheduler::RetryLater(ObjectRecord* record, TimePoint now) {
  Retry& retry = retry_[record];
  retry.failures = std::min<uint32_t>(retry.failures + 1, 16);
  auto delay = c_.options.upload_retry_delay;
  for (uint32_t i = 1; i < retry.failures && delay < kMaxRetryDelay; ++i) delay *= 2;
  retry.after = now + std::min(delay, kMaxRetryDelay);
  queue_.insert(record);
}

// ---- Scheduling ------------------------------------------------------------------------------

size_t WriteBackScheduler::Schedule(size_t max, TimePoint now) {
  if (!enabled() || queue_.empty()) return 0;
  size_t scheduled = 0;
  // Round robin from the cursor, looking at each queued object at most once per call, and at
  // no more than kScanPerUpload per upload wanted: with the object store down every queued
  // object waits for its retry, and a Tick must not walk a backlog of millions each time.
  size_t budget = std::min(queue_.size(), max * kScanPerUpload);
  auto it = queue_.upper_bound(cursor_);
  while (scheduled < max && budget-- > 0 && !queue_.empty()) {
    if (it == queue_.end()) it = queue_.begin();
    ObjectRecord* record = *it;
    cursor_ = record;
    auto retry = retry_.find(record);
    if ((retry != retry_.end() && now < retry->second.after) ||
        orphan_keys_.contains(record->key())) {
      ++it;
      continue;
    }
    // The source: a replica on a node with room for one more upload, DRAM first (no disk
    // read on the node).
    const ReplicaRecord* source = nullptr;
    for (const ReplicaRecord& r : record->replicas()) {
      const SegmentIndex::Segment& segment = c_.segments.Get(r.segment);
      if (segment.gone) continue;
      auto busy = per_node_.find(segment.node);
      if (busy != per_node_.end() && busy->second >= c_.options.max_uploads_per_node) continue;
      if (source == nullptr || (c_.segments.Get(source->segment).medium != Medium::kDram &&
                                segment.medium == Medium::kDram)) {
        source = &r;
      }
    }
    if (source == nullptr) {
      ++it;
      continue;
    }
    Upload upload;
    upload.record = record;
    upload.source_segment = source->segment;
    upload.task.key = std::string(record->key());
    upload.task.version = record->version;
    upload.task.size = record->size;
    upload.task.checksum = record->checksum;
    upload.task.source = c_.segments.DataRange(*source, record->size);
    upload.task.node = c_.segments.Get(source->segment).node;
    upload.task.check_first = check_first_.contains(record);
    QueueTask(std::move(upload), now);
    it = queue_.erase(it);
    ++scheduled;
  }
  return scheduled;
}

std::vector<UploadTask> WriteBackScheduler::TakeTasks(const NodeId& node, size_t max,
                                                      TimePoint now) {
  std::vector<UploadTask> tasks;
  outbox_.Take(node, max, [&](uint64_t id) {
    auto it = uploads_.find(id);
    if (it == uploads_.end() || it->second.delivered) return false;  // dropped since
    it->second.delivered = true;
    UploadTask task = it->second.task;
    task.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.deadline - now);
    tasks.push_back(std::move(task));
    return true;
  });
  return tasks;
}

// ---- Reports and expiry ----------------------------------------------------------------------

Status WriteBackScheduler::Complete(uint64_t task_id, const NodeId& node, const Status& result,
                                    TimePoint now) {
  auto it = uploads_.find(task_id);
  if (it == uploads_.end()) {
    return Status(StatusCode::kObjectNotFound,
                  "no upload task " + std::to_string(task_id) +
                      " in flight (already reported, expired, or scheduled by an earlier master)");
  }
  if (it->second.task.node != node) {
    return InvalidParams("upload task " + std::to_string(task_id) + " belongs to node '" +
                         it->second.task.node + "', not '" + node + "'");
  }
  ObjectRecord* record = it->second.record;
  const UploadTask task = it->second.task;
  Erase(it);
  if (task.remove_only) return Status::Ok();
  if (record == nullptr) {
    // The object was removed while its upload ran. If the upload landed and no newer object
    // of the key is on its way there, the stale bytes go: a delete, which the key's next
    // upload waits for.
    if (!result.ok()) return Status::Ok();
    const ObjectRecord* now_there = c_.objects.Find(task.key);
    if (now_there != nullptr && now_there->visible) return Status::Ok();
    Upload remove;
    remove.task.key = task.key;
    remove.task.node = node;
    remove.task.remove_only = true;
    orphan_keys_.insert(task.key);
    QueueTask(std::move(remove), now);
    return Status::Ok();
  }
  if (record->in_object_store) return Status::Ok();  // a put-back from the object store won
  if (result.ok() && task.version == record->version) {
    MarkInObjectStore(record);
    ++c_.stats.object_uploads;
    return Status::Ok();
  }
  if (result.ok()) {
    // An older version landed: the current one follows at once.
    queue_.insert(record);
    return Status::Ok();
  }
  ++c_.stats.object_upload_failures;
  RetryLater(record, now);
  return Status::Ok();
}

void WriteBackScheduler::ReclaimExpired(TimePoint now) {
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    ObjectRecord* record = it->second.record;
    const bool remove_only = it->second.task.remove_only;
    auto next = std::next(it);
    Erase(it);
    it = next;
    if (remove_only || record == nullptr) continue;
    ++c_.stats.object_upload_failures;
    if (!record->in_object_store) RetryLater(record, now);
  }
}

// ---- Invariants ------------------------------------------------------------------------------

Status WriteBackScheduler::CheckInvariants() const {
  const TierStats& stats = c_.stats;
  if (!enabled()) {
    if (!uploads_.empty() || !queue_.empty() || stats.upload_backlog_objects != 0) {
      return InternalError("write-back state without write-back");
    }
    return Status::Ok();
  }
  uint64_t objects = 0;
  uint64_t bytes = 0;
  Status broken;
  c_.objects.ForEach([&](const ObjectRecord* record) {
    if (!broken.ok() || !record->visible) return;
    const bool queued = queue_.contains(const_cast<ObjectRecord*>(record));
    const bool in_flight = upload_of_.contains(record);
    if (record->in_object_store) {
      if (queued || in_flight) {
        broken = InternalError("object '" + std::string(record->key()) +
                               "' is in the object store but queued or uploading");
      }
      return;
    }
    ++objects;
    bytes += record->size;
    if (queued == in_flight) {
      broken =
          InternalError("object '" + std::string(record->key()) + "' awaits its upload but is " +
                        (queued ? "both queued and uploading" : "neither queued nor uploading"));
    }
  });
  MC_RETURN_IF_ERROR(broken);
  if (objects != stats.upload_backlog_objects || bytes != stats.upload_backlog_bytes) {
    return InternalError("upload backlog says " + std::to_string(stats.upload_backlog_objects) +
                         " objects / " + std::to_string(stats.upload_backlog_bytes) +
                         " bytes, the index " + std::to_string(objects) + " / " +
                         std::to_string(bytes));
  }
  for (const auto& [record, id] : upload_of_) {
    auto it = uploads_.find(id);
    if (it == uploads_.end() || it->second.record != record) {
      return InternalError("upload_of_ names a task that is not the object's");
    }
  }
  if (stats.uploads_in_flight != uploads_.size()) {
    return InternalError("uploads_in_flight is off");
  }
  return Status::Ok();
}

}  // namespace mooncake::master
