#pragma once

// One data connection from this engine to a target. Tracks the slices it carries until their
// responses arrive; READ responses land straight in the slice's local memory. On loss of the
// connection (error, close, or no progress within the timeout) its slices go back to the
// owning peer to be retried elsewhere or failed.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "transfer/slice.h"
#include "transfer/transport/tcp/connection.h"

namespace mooncake::transfer::tcp {

class InitiatorChannel : public Connection {
 public:
  // Receives the slices of a lost connection, on the loop thread.
  using LostSlicesHandler =
      std::function<void(InitiatorChannel*, std::vector<Slice>&&, const Status& cause)>;

  InitiatorChannel(UniqueFd fd, EventLoop* loop, std::string peer_label,
                   std::chrono::milliseconds timeout, LostSlicesHandler on_lost);

  // Sends the slices as one vectored write. Returns false, taking nothing, when the
  // connection is already closed.
  bool Submit(std::vector<Slice>& slices);
  // Bytes queued or awaiting a response: used to balance slices over channels.
  uint64_t inflight_bytes() const { return inflight_bytes_.load(std::memory_order_relaxed); }

  void OnTick(std::chrono::steady_clock::time_point now) override;

 protected:
  Result<PayloadSink> OnHeader(const FrameHeader& header) override;
  void OnFrame(const FrameHeader& header, std::string&& control) override;
  void OnClose(const Status& reason) override;

 private:
  const std::chrono::milliseconds timeout_;
  LostSlicesHandler on_lost_;
  std::atomic<uint64_t> inflight_bytes_{0};
  std::mutex mutex_;  // guards inflight_ and next_id_
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Slice> inflight_;
};

}  // namespace mooncake::transfer::tcp
