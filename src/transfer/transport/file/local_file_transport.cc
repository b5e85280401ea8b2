#include "transfer/transport/file/local_file_transport.h"

namespace mooncake::transfer::file {

Status LocalFileTransport::Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  for (Slice& slice : slices) {
    // The batch stays alive (and with it the task) until the callback has run.
    files_.Submit(
        slice.opcode, slice.remote_address, slice.local, slice.length,
        [batch = slice.batch, task = slice.task, length = slice.length](const Status& status) {
          if (status.ok()) {
            task->SliceSucceeded(length);
          } else {
            task->SliceFailed(status);
          }
        });
  }
  slices.clear();
  return Status::Ok();
}

}  // namespace mooncake::transfer::file
