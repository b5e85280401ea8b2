#include "master/core/manifest_journal.h"

#include <algorithm>
#include <utility>

namespace mooncake::master {

void ManifestJournal::Append(ManifestChange change) { changes_.push_back(std::move(change)); }

ManifestBatch ManifestJournal::Take(uint64_t acked, size_t max) {
  if (acked >= first_seq_) {
    const uint64_t forget = std::min<uint64_t>(acked - first_seq_ + 1, changes_.size());
    changes_.erase(changes_.begin(), changes_.begin() + static_cast<std::ptrdiff_t>(forget));
    first_seq_ += forget;
  }
  ManifestBatch batch;
  batch.first_seq = first_seq_;
  const size_t n = std::min(max, changes_.size());
  batch.changes.assign(changes_.begin(), changes_.begin() + static_cast<std::ptrdiff_t>(n));
  return batch;
}

}  // namespace mooncake::master
