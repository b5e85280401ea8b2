#pragma once

// Replica locations this client looked up recently, reused without asking the master while
// the read lease granted with them still protects the bytes.
//
// Why that is safe: while a read lease is live the master refuses a normal Remove
// (OBJECT_HAS_LEASE), never evicts the object, and keeps an upserted object's old replicas
// allocated until the lease lapses; a restarted master leases every object it adopts from
// the nodes' manifests for a full lease. So until the lease lapses, a cached location names
// the object's bytes (an upsert may already have a newer version: readers see the old or the
// new one, as with any read racing an upsert). What the lease cannot prevent — a node dying
// or restarting, or a Remove with force — makes the read fail (the transfer fails, or the
// restarted node refuses a request meant for its previous incarnation), and the client then
// drops the entry and asks the master.
//
// An entry is used only during the first 3/4 of its lease, measured from before the lookup
// was sent, so a read that starts from the cache finishes well inside the lease.
//
// Thread-safe; bounded (least recently used entries go first).

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "master/client/master_api.h"

namespace mooncake::store {

class LocationCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // capacity 0 disables the cache (Find never hits, Insert keeps nothing).
  explicit LocationCache(size_t capacity) : capacity_(capacity) {}

  // The cached reply for `key` when it is still usable at `now`.
  std::optional<master::ReplicaListReply> Find(const std::string& key, TimePoint now);
  // Caches `reply` for `key`, looked up with a request sent at `sent`.
  void Insert(const std::string& key, const master::ReplicaListReply& reply, TimePoint sent);
  void Erase(const std::string& key);
  void Clear();
  size_t size() const;

 private:
  struct Entry {
    master::ReplicaListReply reply;
    TimePoint usable_until;
    std::list<std::string>::iterator recency;
  };

  const size_t capacity_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recency_;  // most recently used first
};

}  // namespace mooncake::store
