#include "client/location_cache.h"

namespace mooncake::store {

std::optional<master::ReplicaListReply> LocationCache::Find(const std::string& key, TimePoint now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.usable_until) {
    recency_.erase(it->second.recency);
    entries_.erase(it);
    return std::nullopt;
  }
  recency_.splice(recency_.begin(), recency_, it->second.recency);
  return it->second.reply;
}

void LocationCache::Insert(const std::string& key, const master::ReplicaListReply& reply,
                           TimePoint sent) {
  if (capacity_ == 0 || reply.lease_ttl.count() <= 0) return;
  const TimePoint usable_until = sent + reply.lease_ttl * 3 / 4;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second.reply = reply;
    it->second.usable_until = usable_until;
    recency_.splice(recency_.begin(), recency_, it->second.recency);
    return;
  }
  if (entries_.size() >= capacity_) {
    entries_.erase(recency_.back());
    recency_.pop_back();
  }
  recency_.push_front(key);
  entries_.emplace(key, Entry{reply, usable_until, recency_.begin()});
}

void LocationCache::Erase(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  recency_.erase(it->second.recency);
  entries_.erase(it);
}

void LocationCache::Clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  recency_.clear();
}

size_t LocationCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace mooncake::store
