#include "master/core/object_record.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace mooncake::master {

ObjectRecord* ObjectRecord::Create(std::string_view key) {
  // The key's bytes follow the record in the same block; ObjectRecord's alignment is that of
  // the block, and chars need none.
  void* block = ::operator new(sizeof(ObjectRecord) + key.size());
  auto* record = new (block) ObjectRecord(static_cast<uint32_t>(key.size()));
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(record + 1), key.data(), key.size());
  return record;
}

void ObjectRecord::Destroy(ObjectRecord* record) {
  if (record == nullptr) return;
  record->~ObjectRecord();
  ::operator delete(static_cast<void*>(record));
}

ObjectRecord::ObjectRecord(uint32_t key_length) : one_(), key_length_(key_length) {}

ObjectRecord::~ObjectRecord() { FreeHeapReplicas(); }

void ObjectRecord::FreeHeapReplicas() {
  if (replica_count_ > 1) delete[] many_;
  replica_count_ = 0;
  one_ = ReplicaRecord{};
}

void ObjectRecord::AddReplica(const ReplicaRecord& replica) {
  if (replica_count_ == 0) {
    one_ = replica;
    replica_count_ = 1;
    return;
  }
  // Exact-size arrays: replicas change rarely (PutEnd, adoption, segment loss), and an
  // object with a second replica pays for no spare capacity.
  auto* grown = new ReplicaRecord[replica_count_ + 1];
  std::copy_n(replicas().data(), replica_count_, grown);
  grown[replica_count_] = replica;
  if (replica_count_ > 1) delete[] many_;
  many_ = grown;
  ++replica_count_;
}

void ObjectRecord::EraseReplicaAt(size_t i) {
  if (i >= replica_count_) return;
  if (replica_count_ == 1) {
    FreeHeapReplicas();
    return;
  }
  if (replica_count_ == 2) {
    ReplicaRecord kept = many_[1 - i];
    delete[] many_;
    one_ = kept;
    replica_count_ = 1;
    return;
  }
  auto* shrunk = new ReplicaRecord[replica_count_ - 1];
  std::copy_n(many_, i, shrunk);
  std::copy(many_ + i + 1, many_ + replica_count_, shrunk + i);
  delete[] many_;
  many_ = shrunk;
  --replica_count_;
}

void ObjectRecord::SetReplicas(std::span<const ReplicaRecord> replicas) {
  FreeHeapReplicas();
  if (replicas.size() == 1) {
    one_ = replicas[0];
  } else if (replicas.size() > 1) {
    many_ = new ReplicaRecord[replicas.size()];
    std::copy(replicas.begin(), replicas.end(), many_);
  }
  replica_count_ = static_cast<uint8_t>(replicas.size());
}

std::vector<ReplicaRecord> ObjectRecord::TakeReplicas() {
  std::span<const ReplicaRecord> current = replicas();
  std::vector<ReplicaRecord> taken(current.begin(), current.end());
  FreeHeapReplicas();
  return taken;
}

ReplicaRecord* ObjectRecord::FindMember(SegmentId segment, uint32_t member_slot) {
  for (ReplicaRecord& r : replicas()) {
    if (r.segment == segment && r.member_slot == member_slot) return &r;
  }
  if (pending) {
    for (ReplicaRecord& r : pending->replicas) {
      if (r.segment == segment && r.member_slot == member_slot) return &r;
    }
  }
  return nullptr;
}

}  // namespace mooncake::master
