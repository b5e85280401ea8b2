#include "testing/memory_transfer_engine.h"

#include <fmt/format.h>

#include <cstring>
#include <utility>

#include "mooncake/common/crc32c.h"

namespace mooncake::testing {

std::span<uint8_t> MemoryFabric::AddRegion(const std::string& peer, uint64_t base, uint64_t size) {
  std::lock_guard lock(mutex_);
  std::vector<uint8_t>& bytes = peers_[peer].regions[base];
  bytes.assign(size, 0);
  return bytes;
}

void MemoryFabric::SetReachable(const std::string& peer, bool reachable) {
  std::lock_guard lock(mutex_);
  peers_[peer].reachable = reachable;
}

std::vector<std::string> MemoryFabric::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

Status MemoryFabric::Move(const std::string& peer, transfer::TransferOpcode opcode, uint8_t* local,
                          uint64_t address, uint64_t length) {
  std::lock_guard lock(mutex_);
  const bool read = opcode == transfer::TransferOpcode::kRead;
  log_.push_back(fmt::format("{} {} {:#x}", read ? "read" : "write", peer, address));
  auto it = peers_.find(peer);
  if (it == peers_.end() || !it->second.reachable) {
    return Status(StatusCode::kTransferFail, "peer " + peer + " is unreachable");
  }
  auto region = it->second.regions.upper_bound(address);
  if (region == it->second.regions.begin()) {
    return Status(StatusCode::kInvalidParams,
                  fmt::format("{:#x} is in no region of {}", address, peer));
  }
  --region;
  const uint64_t offset = address - region->first;
  if (offset > region->second.size() || length > region->second.size() - offset) {
    return Status(
        StatusCode::kInvalidParams,
        fmt::format("[{:#x}, +{}) passes the end of its region of {}", address, length, peer));
  }
  uint8_t* remote = region->second.data() + offset;
  if (read) {
    std::memcpy(local, remote, length);
  } else {
    std::memcpy(remote, local, length);
  }
  return Status::Ok();
}

MemoryTransferEngine::MemoryTransferEngine(MemoryFabric& fabric, std::string name)
    : fabric_(fabric), name_(std::move(name)) {}

MemoryTransferEngine::~MemoryTransferEngine() = default;

Status MemoryTransferEngine::RegisterLocalMemory(void* address, size_t length,
                                                 const transfer::MemoryLocation&) {
  std::lock_guard lock(mutex_);
  registered_[static_cast<const uint8_t*>(address)] = length;
  return Status::Ok();
}

Status MemoryTransferEngine::UnregisterLocalMemory(void* address) {
  std::lock_guard lock(mutex_);
  if (registered_.erase(static_cast<const uint8_t*>(address)) == 0) {
    return Status(StatusCode::kInvalidParams, "not registered");
  }
  return Status::Ok();
}

Result<uint64_t> MemoryTransferEngine::RegisterFileSegment(const std::string&, const std::string&,
                                                           uint64_t) {
  return Status(StatusCode::kNotSupported, "MemoryTransferEngine has no file segments");
}

Status MemoryTransferEngine::UnregisterFileSegment(const std::string&) {
  return Status(StatusCode::kNotSupported, "MemoryTransferEngine has no file segments");
}

Result<void*> MemoryTransferEngine::AllocateBuffer(size_t length) {
  auto bytes = std::make_unique<uint8_t[]>(length);
  void* address = bytes.get();
  std::lock_guard lock(mutex_);
  registered_[bytes.get()] = length;
  allocated_[address] = std::move(bytes);
  return address;
}

Status MemoryTransferEngine::FreeBuffer(void* address) {
  std::lock_guard lock(mutex_);
  if (allocated_.erase(address) == 0) return Status(StatusCode::kInvalidParams, "not allocated");
  registered_.erase(static_cast<const uint8_t*>(address));
  return Status::Ok();
}

Result<transfer::SegmentHandle> MemoryTransferEngine::OpenSegment(const std::string& name) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < segments_.size(); ++i) {
    if (segments_[i] == name) return i + 1;
  }
  segments_.push_back(name);
  return segments_.size();
}

Status MemoryTransferEngine::CloseSegment(transfer::SegmentHandle) { return Status::Ok(); }

Result<transfer::SegmentDescriptor> MemoryTransferEngine::GetSegmentDescriptor(
    transfer::SegmentHandle handle) {
  std::lock_guard lock(mutex_);
  if (handle == 0 || handle > segments_.size()) {
    return Status(StatusCode::kInvalidParams, "unknown segment handle");
  }
  transfer::SegmentDescriptor descriptor;
  descriptor.name = segments_[handle - 1];
  return descriptor;
}

Result<transfer::BatchId> MemoryTransferEngine::AllocateBatchId(size_t) {
  std::lock_guard lock(mutex_);
  const transfer::BatchId id = next_batch_++;
  batches_[id];
  return id;
}

bool MemoryTransferEngine::IsRegistered(const void* address, uint64_t length) const {
  const auto* start = static_cast<const uint8_t*>(address);
  auto it = registered_.upper_bound(start);
  if (it == registered_.begin()) return false;
  --it;
  const uint64_t offset = static_cast<uint64_t>(start - it->first);
  return offset <= it->second && length <= it->second - offset;
}

Status MemoryTransferEngine::SubmitTransfer(transfer::BatchId batch,
                                            std::span<const transfer::TransferRequest> requests) {
  std::vector<transfer::TransferStatus> done;
  for (const transfer::TransferRequest& request : requests) {
    std::string peer;
    {
      std::lock_guard lock(mutex_);
      if (!IsRegistered(request.source, request.length)) {
        return Status(StatusCode::kInvalidParams, "local memory is not registered");
      }
      if (request.target_id == 0 || request.target_id > segments_.size()) {
        return Status(StatusCode::kInvalidParams, "unknown segment handle");
      }
      peer = segments_[request.target_id - 1];
    }
    auto* local = static_cast<uint8_t*>(request.source);
    transfer::TransferStatus status;
    status.error = fabric_.Move(peer, request.opcode, local, request.target_offset, request.length);
    status.state =
        status.error.ok() ? transfer::TransferState::kCompleted : transfer::TransferState::kFailed;
    if (status.error.ok()) {
      status.transferred_bytes = request.length;
      if (request.crc32c != nullptr) *request.crc32c = Crc32c(local, request.length);
    }
    done.push_back(std::move(status));
  }
  std::lock_guard lock(mutex_);
  auto it = batches_.find(batch);
  if (it == batches_.end()) return Status(StatusCode::kInvalidParams, "unknown batch");
  it->second.insert(it->second.end(), done.begin(), done.end());
  return Status::Ok();
}

Result<transfer::TransferStatus> MemoryTransferEngine::GetTransferStatus(transfer::BatchId batch,
                                                                         size_t task_id) {
  std::lock_guard lock(mutex_);
  auto it = batches_.find(batch);
  if (it == batches_.end() || task_id >= it->second.size()) {
    return Status(StatusCode::kInvalidParams, "unknown task");
  }
  return it->second[task_id];
}

Status MemoryTransferEngine::WaitBatch(transfer::BatchId batch,
                                       std::chrono::steady_clock::time_point) {
  std::lock_guard lock(mutex_);
  if (!batches_.contains(batch)) return Status(StatusCode::kInvalidParams, "unknown batch");
  return Status::Ok();  // every task finished in SubmitTransfer
}

Status MemoryTransferEngine::FreeBatchId(transfer::BatchId batch) {
  std::lock_guard lock(mutex_);
  batches_.erase(batch);
  return Status::Ok();
}

}  // namespace mooncake::testing
