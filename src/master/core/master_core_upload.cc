// MasterCore's write-back (see "Write-back" in master_core.h): which objects still have to reach
// the object store, which node uploads them, and what a node's report changes.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "master/core/master_core.h"

namespace mooncake::master {

namespace {

constexpr std::chrono::milliseconds kMaxUploadRetryDelay{30000};
// Queued objects ScheduleUploads looks at, at most, per upload it may schedule.
constexpr size_t kScanPerUpload = 16;

}  // namespace

// ---- Bookkeeping -----------------------------------------------------------------------------

void MasterCore::OnNewVersion(ObjectRecord* record, bool from_object_store, bool adopted) {
  switch (options_.object_tier) {
    case ObjectTierPolicy::kNone:
      return;
    case ObjectTierPolicy::kWriteThrough:
      // The writer uploaded before PutEnd (a put whose upload failed never ends).
      record->in_object_store = true;
      if (!from_object_store && !adopted) ++tier_stats_.object_uploads;
      return;
    case ObjectTierPolicy::kWriteBack:
      break;
  }
  record->in_object_store = from_object_store;
  upload_retry_.erase(record);  // a new version: its tries start over
  if (from_object_store) {
    upload_queue_.erase(record);
    upload_check_first_.erase(record);
    return;
  }
  ++tier_stats_.upload_backlog_objects;
  tier_stats_.upload_backlog_bytes += record->size;
  upload_check_first_.erase(record);
  if (adopted) upload_check_first_.insert(record);
  // An upload of an older version still in flight is followed by this one's once it reports.
  if (!upload_of_.contains(record)) upload_queue_.insert(record);
}

void MasterCore::LeaveUploadBacklog(ObjectRecord* record) {
  if (options_.object_tier != ObjectTierPolicy::kWriteBack || !record->visible ||
      record->in_object_store) {
    return;
  }
  --tier_stats_.upload_backlog_objects;
  tier_stats_.upload_backlog_bytes -= record->size;
}

void MasterCore::MarkInObjectStore(ObjectRecord* record) {
  if (options_.object_tier != ObjectTierPolicy::kWriteBack || record->in_object_store) return;
  LeaveUploadBacklog(record);
  record->in_object_store = true;
  upload_queue_.erase(record);
  upload_retry_.erase(record);
  upload_check_first_.erase(record);
  // An upload in flight, if any, finds it done when it reports.
}

void MasterCore::ForgetUploadsOf(ObjectRecord* record) {
  LeaveUploadBacklog(record);
  upload_queue_.erase(record);
  upload_retry_.erase(record);
  upload_check_first_.erase(record);
  auto of = upload_of_.find(record);
  if (of == upload_of_.end()) return;
  auto it = uploads_.find(of->second);
  upload_of_.erase(of);
  if (it == uploads_.end()) return;
  if (!it->second.delivered) {
    // Never handed out: it simply goes (its outbox entry is skipped).
    --uploads_per_node_[it->second.task.node];
    uploads_.erase(it);
    return;
  }
  // The node may still put the bytes in the object store: the key's next upload waits for its
  // report, and a late success is followed by a delete (CompleteUpload).
  it->second.record = nullptr;
  orphan_upload_keys_.insert(it->second.task.key);
}

void MasterCore::QueueUploadTask(Upload upload, TimePoint now) {
  upload.task.task_id = next_task_id_++;
  upload.deadline = now + options_.upload_timeout;
  const uint64_t id = upload.task.task_id;
  const NodeId node = upload.task.node;
  if (upload.record != nullptr) upload_of_[upload.record] = id;
  uploads_.emplace(id, std::move(upload));
  upload_outbox_[node].push_back(id);
  ++uploads_per_node_[node];
  ++upload_tasks_queued_;
  tier_stats_.uploads_in_flight = uploads_.size();
}

void MasterCore::EraseUpload(std::map<uint64_t, Upload>::iterator it) {
  auto count = uploads_per_node_.find(it->second.task.node);
  if (count != uploads_per_node_.end() && --count->second == 0) uploads_per_node_.erase(count);
  if (it->second.record != nullptr) upload_of_.erase(it->second.record);
  if (it->second.record == nullptr || it->second.task.remove_only) {
    auto orphan = orphan_upload_keys_.find(it->second.task.key);
    if (orphan != orphan_upload_keys_.end()) orphan_upload_keys_.erase(orphan);
  }
  uploads_.erase(it);
  tier_stats_.uploads_in_flight = uploads_.size();
}

void MasterCore::RetryUploadLater(ObjectRecord* record, TimePoint now) {
  UploadRetry& retry = upload_retry_[record];
  retry.failures = std::min<uint32_t>(retry.failures + 1, 16);
  auto delay = options_.upload_retry_delay;
  for (uint32_t i = 1; i < retry.failures && delay < kMaxUploadRetryDelay; ++i) delay *= 2;
  retry.after = now + std::min(delay, kMaxUploadRetryDelay);
  upload_queue_.insert(record);
}

// ---- Scheduling ------------------------------------------------------------------------------

size_t MasterCore::ScheduleUploads(size_t max) {
  if (options_.object_tier != ObjectTierPolicy::kWriteBack || upload_queue_.empty()) return 0;
  const TimePoint now = clock_.Now();
  size_t scheduled = 0;
  // Round robin from the cursor, looking at each queued object at most once per call, and at
  // no more than kScanPerUpload per upload wanted: with the object store down every queued
  // object waits for its retry, and a Tick must not walk a backlog of millions each time.
  size_t budget = std::min(upload_queue_.size(), max * kScanPerUpload);
  auto it = upload_queue_.upper_bound(upload_cursor_);
  while (scheduled < max && budget-- > 0 && !upload_queue_.empty()) {
    if (it == upload_queue_.end()) it = upload_queue_.begin();
    ObjectRecord* record = *it;
    upload_cursor_ = record;
    auto retry = upload_retry_.find(record);
    if ((retry != upload_retry_.end() && now < retry->second.after) ||
        orphan_upload_keys_.contains(record->key())) {
      ++it;
      continue;
    }
    // The source: a replica on a node with room for one more upload, DRAM first (no disk
    // read on the node).
    const ReplicaRecord* source = nullptr;
    for (const ReplicaRecord& r : record->replicas()) {
      const SegmentIndex::Segment& segment = segments_.Get(r.segment);
      if (segment.gone) continue;
      auto busy = uploads_per_node_.find(segment.node);
      if (busy != uploads_per_node_.end() && busy->second >= options_.max_uploads_per_node) {
        continue;
      }
      if (source == nullptr || (segments_.Get(source->segment).medium != Medium::kDram &&
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
    upload.task.source = DataRange(*source, record->size);
    upload.task.node = segments_.Get(source->segment).node;
    upload.task.check_first = upload_check_first_.contains(record);
    QueueUploadTask(std::move(upload), now);
    it = upload_queue_.erase(it);
    ++scheduled;
  }
  return scheduled;
}

std::vector<UploadTask> MasterCore::TakeUploadTasks(const NodeId& node, size_t max) {
  std::vector<UploadTask> tasks;
  auto outbox = upload_outbox_.find(node);
  if (outbox == upload_outbox_.end()) return tasks;
  const TimePoint now = clock_.Now();
  std::deque<uint64_t>& ids = outbox->second;
  while (!ids.empty() && tasks.size() < max) {
    const uint64_t id = ids.front();
    ids.pop_front();
    auto it = uploads_.find(id);
    if (it == uploads_.end() || it->second.delivered) continue;  // dropped since
    it->second.delivered = true;
    UploadTask task = it->second.task;
    task.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.deadline - now);
    tasks.push_back(std::move(task));
  }
  if (ids.empty()) upload_outbox_.erase(outbox);
  return tasks;
}

// ---- Reports and expiry ----------------------------------------------------------------------

Status MasterCore::CompleteUpload(uint64_t task_id, const NodeId& node, const Status& result) {
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
  const TimePoint now = clock_.Now();
  ObjectRecord* record = it->second.record;
  const UploadTask task = it->second.task;
  EraseUpload(it);
  if (task.remove_only) return Status::Ok();
  if (record == nullptr) {
    // The object was removed while its upload ran. If the upload landed and no newer object
    // of the key is on its way there, the stale bytes go: a delete, which the key's next
    // upload waits for.
    if (!result.ok()) return Status::Ok();
    const ObjectRecord* now_there = objects_.Find(task.key);
    if (now_there != nullptr && now_there->visible) return Status::Ok();
    Upload remove;
    remove.task.key = task.key;
    remove.task.node = node;
    remove.task.remove_only = true;
    orphan_upload_keys_.insert(task.key);
    QueueUploadTask(std::move(remove), now);
    return Status::Ok();
  }
  if (record->in_object_store) return Status::Ok();  // a put-back from the object store won
  if (result.ok() && task.version == record->version) {
    MarkInObjectStore(record);
    ++tier_stats_.object_uploads;
    return Status::Ok();
  }
  if (result.ok()) {
    // An older version landed: the current one follows at once.
    upload_queue_.insert(record);
    return Status::Ok();
  }
  ++tier_stats_.object_upload_failures;
  RetryUploadLater(record, now);
  return Status::Ok();
}

void MasterCore::ReclaimExpiredUploads(TimePoint now) {
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    ObjectRecord* record = it->second.record;
    const bool remove_only = it->second.task.remove_only;
    auto next = std::next(it);
    EraseUpload(it);
    it = next;
    if (remove_only || record == nullptr) continue;
    ++tier_stats_.object_upload_failures;
    if (!record->in_object_store) RetryUploadLater(record, now);
  }
}

void MasterCore::DropUploadsOnGoneSegments() {
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    const Upload& upload = it->second;
    if (upload.task.remove_only || !segments_.Get(upload.source_segment).gone) {
      ++it;
      continue;
    }
    // Its node is gone: another replica's node takes the object (no failure counted).
    ObjectRecord* record = upload.record;
    auto next = std::next(it);
    EraseUpload(it);
    it = next;
    if (record != nullptr && !record->in_object_store) upload_queue_.insert(record);
  }
}

// ---- Invariants ------------------------------------------------------------------------------

Status MasterCore::CheckUploads() const {
  if (options_.object_tier != ObjectTierPolicy::kWriteBack) {
    if (!uploads_.empty() || !upload_queue_.empty() || tier_stats_.upload_backlog_objects != 0) {
      return Status(StatusCode::kInternalError, "write-back state without write-back");
    }
    return Status::Ok();
  }
  uint64_t objects = 0;
  uint64_t bytes = 0;
  Status broken;
  objects_.ForEach([&](const ObjectRecord* record) {
    if (!broken.ok() || !record->visible) return;
    const bool queued = upload_queue_.contains(const_cast<ObjectRecord*>(record));
    const bool in_flight = upload_of_.contains(record);
    if (record->in_object_store) {
      if (queued || in_flight) {
        broken = Status(StatusCode::kInternalError,
                        "object '" + std::string(record->key()) +
                            "' is in the object store but queued or uploading");
      }
      return;
    }
    ++objects;
    bytes += record->size;
    if (queued == in_flight) {
      broken = Status(StatusCode::kInternalError,
                      "object '" + std::string(record->key()) + "' awaits its upload but is " +
                          (queued ? "both queued and uploading" : "neither queued nor uploading"));
    }
  });
  MC_RETURN_IF_ERROR(broken);
  if (objects != tier_stats_.upload_backlog_objects || bytes != tier_stats_.upload_backlog_bytes) {
    return Status(StatusCode::kInternalError,
                  "upload backlog says " + std::to_string(tier_stats_.upload_backlog_objects) +
                      " objects / " + std::to_string(tier_stats_.upload_backlog_bytes) +
                      " bytes, the index " + std::to_string(objects) + " / " +
                      std::to_string(bytes));
  }
  for (const auto& [record, id] : upload_of_) {
    auto it = uploads_.find(id);
    if (it == uploads_.end() || it->second.record != record) {
      return Status(StatusCode::kInternalError, "upload_of_ names a task that is not the object's");
    }
  }
  if (tier_stats_.uploads_in_flight != uploads_.size()) {
    return Status(StatusCode::kInternalError, "uploads_in_flight is off");
  }
  return Status::Ok();
}

}  // namespace mooncake::master
