#pragma once

// One endpoint to one incarnation of a target segment, with the rkeys of its buffers unpacked
// on it. Used only on the transport's progress thread (the worker is single-threaded).
//
// Endpoints ask for peer-failure reporting (UCP_ERR_HANDLING_MODE_PEER): a dead or unreachable
// peer then fails outstanding requests and calls the error handler, and the endpoint can be
// closed by force. UCX's shared-memory transports cannot report peer failure, so where only
// they reach the peer, Open falls back to UCP_ERR_HANDLING_MODE_NONE: a dead peer is then
// noticed by the transport's timeout alone, and the endpoint is closed by a flush (or, with
// requests still outstanding, left to the worker's destruction).

#include <ucp/api/ucp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"

namespace mooncake::transfer::ucx {

class UcxPeer {
 public:
  enum class ErrorMode { kPeer, kNone };
  // Receives endpoint errors (called from within ucp_worker_progress). `peer` stays valid until
  // the transport drops it, which it does only after the endpoint is closed.
  using ErrorHandler = void (*)(void* context, UcxPeer* peer, ucs_status_t status);

  // Opens an endpoint to `target`'s worker (first with `first_mode`, falling back from kPeer
  // to kNone where UCX cannot report failures of that peer) and unpacks every published rkey.
  // kNotSupported when the target serves no UCX; kTransferFail naming the segment and UCX's
  // reason when UCX cannot reach it or a key does not unpack.
  static Result<std::shared_ptr<UcxPeer>> Open(ucp_worker_h worker, const SegmentDescriptor& target,
                                               ErrorMode first_mode, ErrorHandler on_error,
                                               void* error_context);
  UcxPeer(const UcxPeer&) = delete;
  UcxPeer& operator=(const UcxPeer&) = delete;
  // Never calls UCX: the transport closes the endpoint and destroys the keys first.
  ~UcxPeer() = default;

  const std::string& name() const { return name_; }
  uint64_t incarnation() const { return incarnation_; }
  ucp_ep_h ep() const { return ep_; }
  ErrorMode mode() const { return mode_; }

  // The rkey of the published buffer holding [address, address + length); nullptr when no
  // buffer with a key holds it (keys left out of a metadata server's copy, a range past the
  // end).
  ucp_rkey_h KeyFor(uint64_t address, uint64_t length) const;
  // Unpacks the keys of `target`'s buffers this peer does not hold yet (the owner registered
  // more memory since the endpoint was opened); kTransferFail when one does not unpack.
  Status AddKeys(const SegmentDescriptor& target);

  enum class CloseMode { kFlush, kForce };
  // Starts closing the endpoint: kFlush waits for outstanding requests and tells the peer;
  // kForce (kPeer mode only) completes outstanding requests with UCS_ERR_CANCELED and drops
  // the connection without asking the peer. Returns the close request to poll, or nullptr
  // when closed at once. Call once.
  void* Close(CloseMode mode);
  // Destroys the unpacked keys: after the requests using them are done, before a kFlush
  // close (UCX's rule), after a kForce close (which cancels what may still use them).
  void DestroyKeys();

  // UCX requests outstanding on this endpoint, and when one last completed (or the first of
  // a busy period was issued): the transport's no-progress timeout (maintained by it).
  uint32_t pending = 0;
  std::chrono::steady_clock::time_point last_progress;
  // Retired: no longer used for new slices, being closed (set by the transport).
  bool retired = false;
  // Why it was retired (first error), for messages.
  Status failure;

 private:
  struct Key {
    uint64_t address;
    uint64_t length;
    ucp_rkey_h rkey;
  };
  bool HasKey(const BufferDescriptor& buffer) const;
  UcxPeer(std::string name, uint64_t incarnation)
      : name_(std::move(name)), incarnation_(incarnation) {}

  const std::string name_;
  const uint64_t incarnation_;
  ucp_ep_h ep_ = nullptr;
  ErrorMode mode_ = ErrorMode::kPeer;
  ErrorHandler on_error_ = nullptr;
  void* error_context_ = nullptr;
  std::vector<Key> keys_;  // sorted by address, non-overlapping (the owner's registry)
};

}  // namespace mooncake::transfer::ucx
