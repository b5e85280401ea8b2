#include "transfer/metadata/etcd_metadata_store.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/logging.h"
#include "transfer/segment_descriptor_codec.h"

namespace mooncake::transfer {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kInitialBackoff{100};
constexpr milliseconds kBackoffCap{2000};
constexpr milliseconds kMinInterval{100};

}  // namespace

const char EtcdMetadataStore::kSegmentKeyPrefix[] = "mooncake/transfer/v1/segments/";

std::string EtcdMetadataStore::SegmentKey(const std::string& segment_name) {
  return kSegmentKeyPrefix + segment_name;
}

Result<std::unique_ptr<EtcdMetadataStore>> EtcdMetadataStore::Create(
    const MetadataStoreOptions& options, std::vector<std::string> endpoints) {
  if (options.lease_ttl < std::chrono::seconds(1)) {
    return InvalidParams(fmt::format("etcd metadata: lease_ttl must be at least 1 s, got {} s",
                                     options.lease_ttl.count()));
  }
  EtcdClientOptions client_options;
  client_options.endpoints = std::move(endpoints);
  client_options.request_timeout = options.timeout;
  client_options.connect_timeout = std::min(options.timeout, milliseconds(1000));
  auto client = EtcdClient::Create(std::move(client_options));
  if (!client.ok()) return client.status().WithContext("etcd metadata");
  return std::unique_ptr<EtcdMetadataStore>(new EtcdMetadataStore(options, std::move(*client)));
}

EtcdMetadataStore::EtcdMetadataStore(const MetadataStoreOptions& options,
                                     std::unique_ptr<EtcdClient> client)
    : requested_ttl_(options.lease_ttl), client_(std::move(client)) {}

EtcdMetadataStore::~EtcdMetadataStore() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

EtcdLeaseId EtcdMetadataStore::lease_id() const {
  std::lock_guard lock(mutex_);
  return lease_id_;
}

Status EtcdMetadataStore::Publish(const SegmentDescriptor& descriptor) {
  if (descriptor.name.empty()) return InvalidParams("etcd metadata: segment name is empty");
  std::string json = EncodeSegmentDescriptor(descriptor);
  uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    if (!segment_name_.empty() && segment_name_ != descriptor.name) {
      return InvalidParams(fmt::format("etcd metadata: this store publishes segment {}, not {}",
                                       segment_name_, descriptor.name));
    }
    segment_name_ = descriptor.name;
    latest_json_ = std::move(json);
    generation = ++generation_;
    published_ = true;
    if (!thread_.joinable()) thread_ = std::thread([this] { KeepAliveLoop(); });
  }
  std::lock_guard io(io_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (put_generation_ >= generation) return Status::Ok();  // a later Publish already put it
  }
  Status s = PutLatestLocked();
  if (!s.ok()) {
    return s.WithContext(fmt::format("publishing segment {} to etcd at {}", descriptor.name,
                                     client_->EndpointList()));
  }
  return Status::Ok();
}

Status EtcdMetadataStore::PutLatestLocked() {
  std::string name, json;
  uint64_t generation;
  EtcdLeaseId lease;
  {
    std::lock_guard lock(mutex_);
    if (!published_) return Status::Ok();
    name = segment_name_;
    json = latest_json_;
    generation = generation_;
    lease = lease_id_;
  }
  const std::string key = SegmentKey(name);
  // Two rounds: a lease we hold may have expired on the server since the last keep-alive.
  for (int round = 0;; ++round) {
    if (lease == 0) {
      MC_ASSIGN_OR_RETURN(EtcdLease granted, client_->GrantLease(requested_ttl_));
      lease = granted.id;
      std::lock_guard lock(mutex_);
      lease_id_ = granted.id;
      granted_ttl_ = granted.ttl;
    }
    Status s = client_->Put(key, json, lease);
    if (s.ok()) {
      std::lock_guard lock(mutex_);
      put_generation_ = std::max(put_generation_, generation);
      return Status::Ok();
    }
    if (s.code() != StatusCode::kLeaseExpired || round == 1) return s;
    lease = 0;
    std::lock_guard lock(mutex_);
    lease_id_ = 0;
  }
}

Status EtcdMetadataStore::Refresh() {
  std::lock_guard io(io_mutex_);
  EtcdLeaseId lease;
  bool up_to_date;
  std::string name;
  {
    std::lock_guard lock(mutex_);
    if (!published_) return Status::Ok();
    name = segment_name_;
    lease = lease_id_;
    up_to_date = put_generation_ == generation_;
  }
  if (lease != 0 && up_to_date) {
    MC_ASSIGN_OR_RETURN(std::chrono::seconds ttl, client_->KeepAlive(lease));
    if (ttl.count() > 0) return Status::Ok();
    MC_LOG_WARN("etcd lease {:x} of segment {} has expired; publishing it again under a new lease",
                lease, SegmentKey(name));
    std::lock_guard lock(mutex_);
    lease_id_ = 0;
  }
  return PutLatestLocked();
}

void EtcdMetadataStore::KeepAliveLoop() {
  std::unique_lock lock(mutex_);
  milliseconds backoff{0};
  Clock::time_point next = Clock::now() + KeepAliveInterval();
  while (!stop_) {
    if (wake_.wait_until(lock, next, [this] { return stop_; })) break;
    lock.unlock();
    Status s = Refresh();
    lock.lock();
    if (s.ok()) {
      if (backoff.count() > 0) {
        MC_LOG_INFO("etcd metadata for segment {} is up to date again", segment_name_);
      }
      backoff = milliseconds(0);
      next = Clock::now() + KeepAliveInterval();
    } else {
      if (backoff.count() == 0) {
        MC_LOG_WARN("etcd keep-alive of segment {} failed (retrying with backoff): {}",
                    segment_name_, s.ToString());
      }
      backoff = backoff.count() == 0 ? kInitialBackoff : std::min(backoff * 2, MaxBackoff());
      next = Clock::now() + backoff;
    }
  }
}

milliseconds EtcdMetadataStore::KeepAliveInterval() const {
  std::chrono::seconds ttl = granted_ttl_.count() > 0 ? granted_ttl_ : requested_ttl_;
  return std::max(kMinInterval, std::chrono::duration_cast<milliseconds>(ttl) / 3);
}

milliseconds EtcdMetadataStore::MaxBackoff() const {
  std::chrono::seconds ttl = granted_ttl_.count() > 0 ? granted_ttl_ : requested_ttl_;
  return std::clamp(std::chrono::duration_cast<milliseconds>(ttl) / 2, kInitialBackoff,
                    kBackoffCap);
}

Status EtcdMetadataStore::Unpublish(const std::string& segment_name) {
  std::lock_guard io(io_mutex_);  // waits for an in-flight put or keep-alive
  EtcdLeaseId lease;
  {
    std::lock_guard lock(mutex_);
    if (!published_ || segment_name != segment_name_) return Status::Ok();
    published_ = false;
    lease = lease_id_;
    lease_id_ = 0;
  }
  // Every put carries our lease: without one (never granted, or lost and not replaced), no
  // key of ours is left in etcd, and a Create that failed on a dead etcd returns at once.
  if (lease == 0) return Status::Ok();
  const std::string key = SegmentKey(segment_name);
  Status deleted = client_->Delete(key).status();
  Status revoked = client_->RevokeLease(lease);
  if (revoked.code() == StatusCode::kLeaseExpired) revoked = Status::Ok();  // already gone
  Status first = !deleted.ok() ? deleted : revoked;
  if (!first.ok()) {
    return first.WithContext(fmt::format("unpublishing segment {} (key {})", segment_name, key));
  }
  return Status::Ok();
}

Result<SegmentDescriptor> EtcdMetadataStore::Lookup(const std::string& segment_name) {
  const std::string key = SegmentKey(segment_name);
  auto kv = client_->Get(key);
  if (!kv.ok()) {
    return kv.status().WithContext(fmt::format("looking up segment {}", segment_name));
  }
  if (!kv->has_value()) {
    return SegmentNotFound(fmt::format("segment {} is not registered in etcd (key {} at {})",
                                       segment_name, key, client_->EndpointList()));
  }
  auto descriptor = DecodeSegmentDescriptor((*kv)->value);
  if (!descriptor.ok()) {
    return Status(StatusCode::kEtcdOperationError,
                  fmt::format("etcd key {} does not hold a valid segment descriptor: {}", key,
                              descriptor.status().message()));
  }
  if (descriptor->name != segment_name) {
    return Status(
        StatusCode::kEtcdOperationError,
        fmt::format("etcd key {} holds the descriptor of segment '{}'", key, descriptor->name));
  }
  return std::move(*descriptor);
}

}  // namespace mooncake::transfer
