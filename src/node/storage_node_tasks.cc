// StorageNode::State's side of the master's copy and upload tasks: results reported at once
// (in a heartbeat that does not wait), the bytes an upload reads from the node's segments, and
// the object store write-back uploads go to.

#include <cstring>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/address_range.h"
#include "common/logging.h"
#include "node/storage_node_state.h"

namespace mooncake::node {

void StorageNode::State::ReportCopies() {
  if (Stopping()) return;
  std::vector<CopyResult> results = copier->TakeResults();
  if (results.empty()) return;
  auto reply =
      master->Heartbeat(spec.node_id, spec.epoch, {}, results, std::chrono::milliseconds(0));
  if (!reply.ok()) {
    copier->PutBack(std::move(results));
    return;
  }
  copier->Submit(std::move(reply->copy_tasks));
}

void StorageNode::State::ReportUploads() {
  if (Stopping()) return;
  std::vector<UploadResult> results = uploader->TakeResults();
  if (results.empty()) return;
  NoteUploaded(results);
  auto reply =
      master->Heartbeat(spec.node_id, spec.epoch, {}, {}, std::chrono::milliseconds(0), results);
  if (!reply.ok()) {
    uploader->PutBack(std::move(results));
    return;
  }
  copier->Submit(std::move(reply->copy_tasks));
  uploader->Submit(std::move(reply->upload_tasks));
}

Status StorageNode::State::ReadLocal(const Allocation& source, std::span<char> out) {
  for (const Mounted& m : mounted) {
    if (source.segment != m.spec.name) continue;
    const AddressRange segment{m.spec.base, m.spec.size};
    if (!segment.Contains(source.address, out.size())) break;
    if (m.spec.medium == Medium::kSsd)
      return ssd_file->ReadData(segment.OffsetOf(source.address), out);
    std::memcpy(out.data(), reinterpret_cast<const void*>(source.address), out.size());
    return Status::Ok();
  }
  return InvalidParams("range " + std::to_string(out.size()) + " bytes at " +
                       std::to_string(source.address) + " of segment '" + source.segment +
                       "' is not in this node's segments");
}

std::pair<std::unique_ptr<tier::ObjectStore>, Status> StorageNode::State::OpenObjectStore() {
  auto ping = master->Ping();
  if (!ping.ok())
    return {nullptr, ping.status().WithContext("asking the master for its object tier")};
  const ObjectTierConfig& tier = ping->object_tier;
  if (tier.url.empty() || tier.policy != ObjectTierPolicy::kWriteBack) {
    return {nullptr,
            Status(StatusCode::kNotSupported, "the master's object tier is not write-back")};
  }
  auto store = tier::ObjectStore::Open(tier, options.object_store_credentials);
  if (!store.ok()) {
    MC_LOG_ERROR("write-back uploads will fail: opening object store '{}': {}", tier.url,
                 store.status().ToString());
    return {nullptr, store.status().WithContext("opening object store '" + tier.url + "'")};
  }
  MC_LOG_INFO("write-back uploads to {}", tier.url);
  return {std::move(*store), Status::Ok()};
}

}  // namespace mooncake::node
