#include "node/ssd_record_writer.h"

#include "common/logging.h"

namespace mooncake::node {

void SsdRecordWriter::Carry(std::span<const SsdRecordAction> actions) {
  for (const SsdRecordAction& action : actions) {
    const ManifestEntry& entry = action.entry;
    switch (action.kind) {
      case SsdRecordAction::Kind::kWriteHeader:
        if (Status s = file_.WriteHeader(entry.address - base_, entry); !s.ok()) {
          errors_.fetch_add(1, std::memory_order_relaxed);
          MC_LOG_WARN("SSD object '{}' is served but will not survive a restart: {}", entry.key,
                      s.ToString());
        }
        break;
      case SsdRecordAction::Kind::kErase:
        if (entry.address < base_) break;
        if (Status s = file_.Erase(entry.address - base_, entry.length); !s.ok()) {
          errors_.fetch_add(1, std::memory_order_relaxed);
          MC_LOG_WARN("segment '{}': {}", segment_name_, s.ToString());
        }
        break;
    }
  }
}

void SsdRecordWriter::Sync() {
  if (Status s = file_.Sync(); !s.ok()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    MC_LOG_WARN("segment '{}': {}", segment_name_, s.ToString());
    return;
  }
  syncs_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace mooncake::node
