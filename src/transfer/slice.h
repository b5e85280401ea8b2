#pragma once

// A slice is the unit a transport moves: a contiguous piece of one request.

#include <cstdint>
#include <memory>
#include <vector>

#include "mooncake/transfer/transfer_types.h"
#include "transfer/batch_table.h"

namespace mooncake::transfer {

struct Slice {
  TransferOpcode opcode = TransferOpcode::kRead;
  char* local = nullptr;
  uint64_t remote_address = 0;
  uint64_t length = 0;
  // Keeps the batch (and so `task`) alive while the slice is in flight.
  std::shared_ptr<Batch> batch;
  TaskState* task = nullptr;
  // A slice whose connection is lost is retried once on another connection.
  uint8_t retries_left = 1;
  // IncarnationTag of the target descriptor the request was validated against.
  uint32_t target_tag = 0;
  // A READ whose request wants the CRC32C of what it delivered (TransferRequest::crc32c).
  bool want_crc = false;
  // Set by a transport that checksummed the slice's bytes as it copied or received them, with
  // `crc` their Crc32c. Otherwise ReportSliceSucceeded computes it from `local`.
  bool crc_ready = false;
  uint32_t crc = 0;
  // Bytes of the request after this slice (its CRC's shift when the task combines them).
  uint64_t bytes_after = 0;
};

// Cuts `request` into slices of at most `slice_size` bytes, appended to `out`; returns how
// many were appended. A zero-length request yields no slice.
size_t SliceRequest(const TransferRequest& request, uint64_t slice_size,
                    const std::shared_ptr<Batch>& batch, TaskState* task, std::vector<Slice>* out);

// Tells the slice's task that all its bytes moved. Every transport reports success through
// here: a slice that wants a CRC and whose transport did not compute one as it moved the bytes
// (crc_ready false: UCX, file segments, process_vm, ...) is checksummed here, over its local
// bytes, which now hold what the read delivered.
void ReportSliceSucceeded(const Slice& slice);

}  // namespace mooncake::transfer
