#pragma once

// Serves one accepted connection: the peer must open with HELLO (answered with this
// segment's descriptor), then sends READ/WRITE requests against the registered buffers.
// Every request is checked against the MemoryRegistry; a bad one gets an error reply and
// touches nothing. Malformed frames drop the connection.

#include <functional>
#include <string>
#include <vector>

#include "transfer/memory_registry.h"
#include "transfer/transport/tcp/connection.h"

namespace mooncake::tcp {

class TargetSession : public Connection {
 public:
  using DescriptorProvider = std::function<std::string()>;
  TargetSession(UniqueFd fd, EventLoop* loop, std::string peer_label,
                const MemoryRegistry* registry, DescriptorProvider descriptor,
                std::chrono::milliseconds hello_timeout, uint32_t own_tag);

 protected:
  Result<PayloadSink> OnHeader(const FrameHeader& header) override;
  void OnFrame(const FrameHeader& header, std::string&& control) override;
  void OnReadBatchDone() override;
  void OnBadStream(const Status& why) override;
  void OnClose(const Status& reason) override {}
  // Drops a connection that has not said HELLO within hello_timeout: idle strangers must not
  // pin file descriptors forever.
  void OnTick(std::chrono::steady_clock::time_point now) override;

 private:
  void Reply(FrameType type, const FrameHeader& request);

  const MemoryRegistry* registry_;
  DescriptorProvider descriptor_;
  const std::chrono::milliseconds hello_timeout_;
  bool hello_done_ = false;
  const std::chrono::steady_clock::time_point accepted_at_ = std::chrono::steady_clock::now();
  bool current_valid_ = false;
  bool current_stale_ = false;  // tagged for another incarnation of this segment
  const uint32_t own_tag_;
  std::vector<OutFrame> replies_;  // flushed once per read batch: one writev for many replies
};

}  // namespace mooncake::tcp
