// StorageNode::State: mounting the segments (announcing the manifest, forgetting what the
// master rejected), applying the master's journal of manifest changes, and keeping the SSD
// segment's object headers (written, erased, synced) in step with its manifest.

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/logging.h"
#include "node/storage_node_state.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::node {

namespace {
// The suffix of the SSD segment's master segment name.
constexpr char kSsdSuffix[] = "/ssd";
}  // namespace

Status StorageNode::State::OpenSsd(const std::string& path, uint64_t size,
                                   transfer::TransferEngine& engine, const std::string& name) {
  MC_ASSIGN_OR_RETURN(ssd_file, SsdFile::Open(path, size));
  // Registering creates or extends the file (sparse) and checks a device is large enough.
  MC_ASSIGN_OR_RETURN(uint64_t base, engine.RegisterFileSegment(kSsdFileSegment, path, size));
  Mounted ssd;
  ssd.spec = spec;
  ssd.spec.name = name + kSsdSuffix;
  ssd.spec.medium = Medium::kSsd;
  ssd.spec.base = base;
  ssd.spec.size = size;
  // What the file already holds: announced with the first mount under this new epoch.
  MC_ASSIGN_OR_RETURN(SsdFile::ScanResult scan, ssd_file->Scan(base));
  for (ManifestEntry& entry : scan.entries) {
    ssd.manifest_bytes += entry.length;
    std::string key = entry.key;
    ssd.manifest.emplace(std::move(key), std::move(entry));
  }
  ssd_scan_ms = static_cast<uint64_t>(scan.took.count());
  ssd_scanned_records = ssd.manifest.size();
  MC_LOG_INFO("SSD path '{}': {} objects found by the scan in {} ms ({} bytes read)", path,
              ssd_scanned_records, ssd_scan_ms, scan.bytes_read);
  mounted.push_back(std::move(ssd));
  return Status::Ok();
}

Status StorageNode::State::Mount() {
  // Copies for the master that forgot us must not write into ranges the new mount may hand
  // out: drop the queued ones and let the running ones end first.
  if (copier && !copier->Quiesce(kQuiesceTimeout)) {
    MC_LOG_WARN("segment '{}': copies still running after {} ms; mounting anyway", spec.name,
                kQuiesceTimeout.count());
  }
  // Uploads only read: the running ones may finish, but nobody wants their results.
  if (uploader) uploader->Forget();
  // DRAM first: a mount from a new epoch drops every segment of the old one, SSD included.
  for (Mounted& m : mounted) MC_RETURN_IF_ERROR(MountOne(m));
  return Status::Ok();
}

Status StorageNode::State::MountOne(Mounted& m) {
  std::vector<ManifestEntry> entries;
  {
    std::lock_guard lock(manifest_mutex);
    entries.reserve(m.manifest.size());
    for (const auto& [key, entry] : m.manifest) entries.push_back(entry);
  }
  MC_ASSIGN_OR_RETURN(MountReport report, master->MountSegment(m.spec, entries));
  std::lock_guard lock(manifest_mutex);
  if (IsSsd(m) && !report.rejected_keys.empty()) EraseRejected(m, report.rejected_keys);
  for (const std::string& key : report.rejected_keys) Forget(m, key, std::nullopt);
  m.acked_seq = 0;  // the master journals anew for every mount
  if (!entries.empty()) {
    MC_LOG_INFO("segment '{}' announced {} objects: {} adopted, {} rejected", m.spec.name,
                entries.size(), report.adopted, report.rejected_keys.size());
  }
  return Status::Ok();
}

void StorageNode::State::Apply(Mounted& m, const ManifestBatch& batch) {
  std::lock_guard lock(manifest_mutex);
  if (batch.first_seq > m.acked_seq + 1) {
    // Cannot happen with a correct master: it keeps every change until acknowledged.
    MC_LOG_ERROR("segment '{}': manifest changes {}..{} were never delivered", m.spec.name,
                 m.acked_seq + 1, batch.first_seq - 1);
  }
  // A change already applied (its acknowledgement was lost) is skipped. On SSD the header is
  // written or erased before the change is acknowledged: the master reuses an erased range
  // only after that.
  bool ssd_changed = false;
  for (size_t i = 0; i < batch.changes.size(); ++i) {
    const uint64_t seq = batch.first_seq + i;
    if (seq <= m.acked_seq) continue;
    ssd_changed |= IsSsd(m);
    const ManifestChange& change = batch.changes[i];
    if (change.removed) {
      if (IsSsd(m)) {
        auto it = m.manifest.find(change.entry.key);
        const uint64_t length = it != m.manifest.end() && it->second.address == change.entry.address
                                    ? it->second.length
                                    : change.entry.length;
        EraseSsd(m, change.entry.address, std::max<uint64_t>(length, kSsdHeaderBytes));
      }
      Forget(m, change.entry.key, change.entry.address);
    } else {
      Forget(m, change.entry.key, std::nullopt);
      if (IsSsd(m)) WriteSsdHeader(m, change.entry);
      m.manifest[change.entry.key] = change.entry;
      m.manifest_bytes += change.entry.length;
    }
    m.acked_seq = seq;
    ++manifest_changes;
  }
  if (ssd_changed && options.ssd_sync) SyncSsd(m);
}

void StorageNode::State::Forget(Mounted& m, const std::string& key,
                                std::optional<uint64_t> address) {
  auto it = m.manifest.find(key);
  if (it == m.manifest.end() || (address && it->second.address != *address)) return;
  m.manifest_bytes -= it->second.length;
  m.manifest.erase(it);
}

std::vector<master::ManifestAck> StorageNode::State::Acks() {
  std::lock_guard lock(manifest_mutex);
  std::vector<master::ManifestAck> acks;
  for (const Mounted& m : mounted) acks.push_back({m.spec.name, m.acked_seq});
  return acks;
}

void StorageNode::State::NoteUploaded(const std::vector<UploadResult>& results) {
  std::lock_guard lock(manifest_mutex);
  for (const UploadResult& r : results) {
    if (r.version == 0) continue;
    for (Mounted& m : mounted) {
      auto it = m.manifest.find(r.key);
      if (it != m.manifest.end() && it->second.version == r.version) {
        it->second.in_object_store = true;
      }
    }
  }
}

void StorageNode::State::EraseRejected(Mounted& m, const std::vector<std::string>& rejected) {
  std::map<uint64_t, uint64_t> kept;  // address -> length of the adopted entries
  std::unordered_map<std::string, bool> is_rejected;
  for (const std::string& key : rejected) is_rejected[key] = true;
  for (const auto& [key, entry] : m.manifest) {
    if (!is_rejected.contains(key)) kept[entry.address] = entry.length;
  }
  for (const std::string& key : rejected) {
    auto it = m.manifest.find(key);
    if (it == m.manifest.end()) continue;
    const uint64_t address = it->second.address;
    auto after = kept.upper_bound(address);
    if (after != kept.begin() && std::prev(after)->first + std::prev(after)->second > address) {
      continue;
    }
    EraseSsd(m, address, kSsdHeaderBytes);
  }
}

void StorageNode::State::WriteSsdHeader(const Mounted& m, const ManifestEntry& entry) {
  if (Status s = ssd_file->WriteHeader(entry.address - m.spec.base, entry); !s.ok()) {
    ssd_header_errors.fetch_add(1);
    MC_LOG_WARN("SSD object '{}' is served but will not survive a restart: {}", entry.key,
                s.ToString());
  }
}

void StorageNode::State::EraseSsd(const Mounted& m, uint64_t address, uint64_t length) {
  if (address < m.spec.base) return;
  if (Status s = ssd_file->Erase(address - m.spec.base, length); !s.ok()) {
    ssd_header_errors.fetch_add(1);
    MC_LOG_WARN("segment '{}': {}", m.spec.name, s.ToString());
  }
}

void StorageNode::State::SyncSsd(const Mounted& m) {
  if (Status s = ssd_file->Sync(); !s.ok()) {
    ssd_header_errors.fetch_add(1);
    MC_LOG_WARN("segment '{}': {}", m.spec.name, s.ToString());
    return;
  }
  ssd_syncs.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace mooncake::node
