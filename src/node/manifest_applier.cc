#include "node/manifest_applier.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <unordered_set>
#include <utility>

#include "store_types/ssd_geometry.h"

namespace mooncake::node {

void ManifestApplier::Load(std::vector<ManifestEntry> entries) {
  entries_.clear();
  bytes_ = 0;
  for (ManifestEntry& entry : entries) {
    std::string key = entry.key;
    const uint64_t length = entry.length;
    if (entries_.emplace(std::move(key), std::move(entry)).second) bytes_ += length;
  }
}

ManifestApplier::Applied ManifestApplier::Apply(const ManifestBatch& batch) {
  Applied applied;
  if (batch.first_seq > acked_seq_ + 1) applied.missed.emplace(acked_seq_ + 1, batch.first_seq - 1);
  const bool ssd = records_ == SegmentRecords::kSsdHeaders;
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    const uint64_t seq = batch.first_seq + i;
    // Applied before; only its acknowledgement was lost.
    if (seq <= acked_seq_) continue;
    const ManifestChange& change = batch.changes[i];
    if (change.removed) {
      if (ssd) {
        // A removal names only key and address: the record's length is the manifest's, when
        // it holds that replica. At least the header goes, so no scan finds it again.
        auto it = entries_.find(change.entry.key);
        const uint64_t length = it != entries_.end() && it->second.address == change.entry.address
                                    ? it->second.length
                                    : change.entry.length;
        SsdRecordAction erase{SsdRecordAction::Kind::kErase, {}};
        erase.entry.key = change.entry.key;
        erase.entry.address = change.entry.address;
        erase.entry.length = std::max<uint64_t>(length, kSsdHeaderBytes);
        applied.actions.push_back(std::move(erase));
      }
      Forget(change.entry.key, change.entry.address);
    } else {
      Forget(change.entry.key, std::nullopt);
      if (ssd) applied.actions.push_back({SsdRecordAction::Kind::kWriteHeader, change.entry});
      entries_[change.entry.key] = change.entry;
      bytes_ += change.entry.length;
    }
    acked_seq_ = seq;
    ++applied.changes;
  }
  return applied;
}

std::vector<SsdRecordAction> ManifestApplier::Remounted(
    const std::vector<std::string>& rejected_keys) {
  std::vector<SsdRecordAction> actions;
  if (records_ == SegmentRecords::kSsdHeaders && !rejected_keys.empty()) {
    const std::unordered_set<std::string> rejected(rejected_keys.begin(), rejected_keys.end());
    std::map<uint64_t, uint64_t> kept;  // address -> length of the adopted entries
    for (const auto& [key, entry] : entries_) {
      if (!rejected.contains(key)) kept[entry.address] = entry.length;
    }
    for (const std::string& key : rejected_keys) {
      auto it = entries_.find(key);
      if (it == entries_.end()) continue;
      const uint64_t address = it->second.address;
      auto after = kept.upper_bound(address);
      if (after != kept.begin() && std::prev(after)->first + std::prev(after)->second > address) {
        continue;
      }
      SsdRecordAction erase{SsdRecordAction::Kind::kErase, {}};
      erase.entry.key = key;
      erase.entry.address = address;
      erase.entry.length = kSsdHeaderBytes;
      actions.push_back(std::move(erase));
    }
  }
  for (const std::string& key : rejected_keys) Forget(key, std::nullopt);
  acked_seq_ = 0;
  return actions;
}

bool ManifestApplier::MarkUploaded(const std::string& key, uint64_t version) {
  if (version == 0) return false;  // a removal's result: nothing was put
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.version != version) return false;
  it->second.in_object_store = true;
  return true;
}

std::vector<ManifestEntry> ManifestApplier::Entries() const {
  std::vector<ManifestEntry> entries;
  entries.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) entries.push_back(entry);
  return entries;
}

std::optional<ManifestEntry> ManifestApplier::Find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void ManifestApplier::Forget(const std::string& key, std::optional<uint64_t> address) {
  auto it = entries_.find(key);
  if (it == entries_.end() || (address && it->second.address != *address)) return;
  bytes_ -= it->second.length;
  entries_.erase(it);
}

}  // namespace mooncake::node
