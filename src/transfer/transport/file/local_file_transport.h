#pragma once

// The file transport for this engine's own file segments: a request whose target is a file
// segment of this very engine goes straight to the file I/O thread (io_uring), no socket. Other
// engines' file segments are reached over TCP (their owner serves them).
//
// Thread safety: every method may be called from any thread.

#include <string>
#include <vector>

#include "transfer/transport/file/file_segments.h"
#include "transfer/transport/transport.h"

namespace mooncake::transfer::file {

class LocalFileTransport final : public Transport {
 public:
  // `files` (this engine's file segments) must outlive the transport.
  explicit LocalFileTransport(FileSegments& files) : files_(files) {}

  // Peers reach the files through the TCP transport's endpoints: none of its own.
  std::vector<EndpointDescriptor> endpoints() const override { return {}; }
  // Nothing to connect to: the files are ours.
  Status Connect(const SegmentDescriptor& target) override { return Status::Ok(); }
  // Takes every slice; each is reported from the file I/O thread (a range no file segment
  // holds fails at once). `target` is this engine's own segment.
  Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) override;
  void Disconnect(const std::string& segment_name) override {}

 private:
  FileSegments& files_;
};

}  // namespace mooncake::transfer::file
