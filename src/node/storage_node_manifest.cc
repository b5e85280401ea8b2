// StorageNode::State: mounting the segments (announcing the manifest, forgetting what the
// master rejected) and feeding the master's journal of manifest changes to each segment's
// ManifestApplier, with the SSD segment's records carried out by its SsdRecordWriter.

#include <string>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "node/storage_node_state.h"

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
  Mounted ssd{spec, ManifestApplier(SegmentRecords::kSsdHeaders)};
  ssd.spec.name = name + kSsdSuffix;
  ssd.spec.medium = Medium::kSsd;
  ssd.spec.base = base;
  ssd.spec.size = size;
  // What the file already holds: announced with the first mount under this new epoch.
  MC_ASSIGN_OR_RETURN(SsdFile::ScanResult scan, ssd_file->Scan(base, *clock));
  ssd.manifest.Load(std::move(scan.entries));
  ssd_scan_ms = static_cast<uint64_t>(scan.took.count());
  ssd_scanned_records = ssd.manifest.size();
  MC_LOG_INFO("SSD path '{}': {} objects found by the scan in {} ms ({} bytes read)", path,
              ssd_scanned_records, ssd_scan_ms, scan.bytes_read);
  ssd_records = std::make_unique<SsdRecordWriter>(*ssd_file, ssd.spec.name, base);
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
    entries = m.manifest.Entries();
  }
  MC_ASSIGN_OR_RETURN(MountReport report, master->MountSegment(m.spec, entries));
  std::lock_guard lock(manifest_mutex);
  // Not synced: a rejected record that a power loss brings back is rejected again by the
  // next mount.
  const std::vector<SsdRecordAction> erasures = m.manifest.Remounted(report.rejected_keys);
  if (!erasures.empty()) ssd_records->Carry(erasures);
  if (!entries.empty()) {
    MC_LOG_INFO("segment '{}' announced {} objects: {} adopted, {} rejected", m.spec.name,
                entries.size(), report.adopted, report.rejected_keys.size());
  }
  return Status::Ok();
}

void StorageNode::State::Apply(Mounted& m, const ManifestBatch& batch) {
  std::lock_guard lock(manifest_mutex);
  const ManifestApplier::Applied applied = m.manifest.Apply(batch);
  if (applied.missed) {
    // Cannot happen with a correct master: it keeps every change until acknowledged.
    MC_LOG_ERROR("segment '{}': manifest changes {}..{} were never delivered", m.spec.name,
                 applied.missed->first, applied.missed->second);
  }
  // Before the acknowledgement, which the next heartbeat carries: one sync per batch.
  if (!applied.actions.empty()) {
    ssd_records->Carry(applied.actions);
    if (options.ssd_sync) ssd_records->Sync();
  }
  manifest_changes += applied.changes;
}

std::vector<master::ManifestAck> StorageNode::State::Acks() {
  std::lock_guard lock(manifest_mutex);
  std::vector<master::ManifestAck> acks;
  for (const Mounted& m : mounted) acks.push_back({m.spec.name, m.manifest.acked_seq()});
  return acks;
}

void StorageNode::State::NoteUploaded(const std::vector<UploadResult>& results) {
  std::lock_guard lock(manifest_mutex);
  for (const UploadResult& r : results) {
    for (Mounted& m : mounted) m.manifest.MarkUploaded(r.key, r.version);
  }
}

}  // namespace mooncake::node
