#include "transfer/slice.h"

#include <algorithm>

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
    out->push_back(std::move(s));
  }
  return count;
}

}  // namespace mooncake::transfer
