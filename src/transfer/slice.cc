#include "transfer/slice.h"

#include <algorithm>

#include "mooncake/common/crc32c.h"

namespace mooncake::transfer {

size_t SliceRequest(const TransferRequest& request, uint64_t slice_size,
                    const std::shared_ptr<Batch>& batch, TaskState* task, std::vector<Slice>* out) {
  size_t count = 0;
  for (uint64_t offset = 0; offset < request.length; offset += slice_size, ++count) {
    Slice s;
    s.opcode = request.opcode;
    s.local = static_cast<char*>(request.source) + offset;
    s.remote_address = request.target_offset + offset;
    s.length = std::min(slice_size, request.length - offset);
    s.batch = batch;
    s.task = task;
    s.want_crc = request.crc32c != nullptr && request.opcode == TransferOpcode::kRead;
    s.bytes_after = request.length - offset - s.length;
    out->push_back(std::move(s));
  }
  return count;
}

void ReportSliceSucceeded(const Slice& slice) {
  if (!slice.want_crc) {
    slice.task->SliceSucceeded(slice.length);
    return;
  }
  const uint32_t crc = slice.crc_ready ? slice.crc : Crc32c(slice.local, slice.length);
  slice.task->SliceSucceeded(slice.length, SliceCrc{crc, slice.bytes_after});
}

}  // namespace mooncake::transfer
