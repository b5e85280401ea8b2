#include "transfer/transport/file/local_file_transport.h"

namespace mooncake::transfer::file {

Status LocalFileTransport::Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  for (Slice& slice : slices) {
    // The batch stays alive (and with it the task) until the callback has run.
    files_.Submit(slice.opcode, slice.remote_address, slice.local, slice.length,
                  [slice](const Status& status) {
                    if (status.ok()) {
                      ReportSliceSucceeded(slice);  // checksums a read that wants it
                    } else {
                      slice.task->SliceFailed(status);
                    }
                  });
  }
  slices.clear();
  return Status::Ok();
}

}  // namespace mooncake::transfer::file
