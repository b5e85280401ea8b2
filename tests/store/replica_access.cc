#include "replica_access.h"

#include <chrono>
#include <cstring>

#include "transfer/batch_runner.h"

namespace mooncake::store {

Result<std::unique_ptr<ReplicaAccess>> ReplicaAccess::Create(const std::string& protocol) {
  transfer::TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  options.protocol = protocol;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<transfer::TransferEngine> engine,
                      transfer::TransferEngine::Create(options));
  MC_ASSIGN_OR_RETURN(void* buffer, engine->AllocateBuffer(kBufferBytes));
  return std::unique_ptr<ReplicaAccess>(
      new ReplicaAccess(std::move(engine), static_cast<uint8_t*>(buffer)));
}

Result<std::vector<uint8_t>> ReplicaAccess::Read(const Allocation& slice, size_t size) {
  if (size > kBufferBytes || size > slice.length) {
    return Status(StatusCode::kInvalidParams, "more bytes than the slice or the buffer holds");
  }
  if (size == 0) return std::vector<uint8_t>{};
  MC_RETURN_IF_ERROR(Transfer(transfer::TransferOpcode::kRead, slice.segment, slice.address, size));
  return std::vector<uint8_t>(buffer_, buffer_ + size);
}

Status ReplicaAccess::Write(const Allocation& slice, uint64_t offset,
                            std::span<const uint8_t> bytes) {
  if (bytes.size() > kBufferBytes || offset > slice.length ||
      bytes.size() > slice.length - offset) {
    return Status(StatusCode::kInvalidParams, "write outside the slice or larger than the buffer");
  }
  if (bytes.empty()) return Status::Ok();
  std::memcpy(buffer_, bytes.data(), bytes.size());
  return Transfer(transfer::TransferOpcode::kWrite, slice.segment, slice.address + offset,
                  bytes.size());
}

Status ReplicaAccess::FlipByte(const Allocation& slice, uint64_t offset) {
  MC_RETURN_IF_ERROR(
      Transfer(transfer::TransferOpcode::kRead, slice.segment, slice.address + offset, 1));
  const uint8_t flipped = static_cast<uint8_t>(~buffer_[0]);
  return Write(slice, offset, {&flipped, 1});
}

Status ReplicaAccess::Transfer(transfer::TransferOpcode opcode, const std::string& segment_name,
                               uint64_t address, size_t size) {
  MC_ASSIGN_OR_RETURN(transfer::SegmentHandle segment, engine_->OpenSegment(segment_name));
  const transfer::TransferRequest request{opcode, buffer_, segment, address, size};
  return transfer::RunBatch(*engine_, {&request, 1}, std::chrono::seconds(10))[0];
}

}  // namespace mooncake::store
