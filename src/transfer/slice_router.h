#pragma once

// Routing: which transport starts a target's slices, and what becomes of the slices it hands
// back. The engine groups a batch's slices by target (and memory vs file) and hands each group
// here; every transport sits behind the Transport interface.
//
//   memory slices   to the route ChooseRoute picks (route_choice.h): tcp, shm or ucx. What shm
//                   cannot move (the owner refused us, memory it no longer has) goes to TCP under
//                   protocol auto and fails under protocol shm.
//   file slices     of this engine's own file segments to the local file transport (io_uring, no
//                   socket); of another engine's to TCP, whose owner serves them (shared memory
//                   and UCX reach memory only).
//   leftovers       a slice a transport did not take is failed with the transport's reason.
//
// Thread safety: every method may be called from any thread; the transports it points to
// must outlive it.

#include <cstdint>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/route_choice.h"
#include "transfer/slice.h"
#include "transfer/transport/transport.h"

namespace mooncake::transfer {

struct RouterTransports {
  Transport* tcp = nullptr;          // always there
  Transport* shm = nullptr;          // null unless protocol auto or shm
  Transport* ucx = nullptr;          // null unless UCX runs
  Transport* local_files = nullptr;  // this engine's own file segments
};

class SliceRouter {
 public:
  // `local` says what runs here (LocalTransports); `self` and `incarnation` name this engine's
  // own segment, whose file slices stay local.
  SliceRouter(LocalTransports local, RouterTransports transports, std::string self,
              uint64_t incarnation);

  // The route of `target`'s memory slices; kNotSupported (naming the segment and why) when
  // the forced protocol cannot reach it.
  Result<Route> RouteFor(const SegmentDescriptor& target) const;
  // Connects to `target` on its route. Under protocol auto, a same-host peer whose shared
  // memory is not for us (another user, an exited owner...) is reached over TCP instead.
  Status Connect(const SegmentDescriptor& target);
  // Every transport drops its connections to `segment`; their in-flight slices fail.
  void Disconnect(const std::string& segment);
  // Starts `slices`, all for memory of `target`, on `route` (RouteFor). Every slice is taken:
  // started, handed on, or failed. Returns TCP's error when TCP refused slices (they are failed
  // with it); OK otherwise (the other transports report per slice).
  Status DispatchMemory(const SegmentDescriptor& target, Route route, std::vector<Slice>& slices);
  // The same for slices to `target`'s file segments.
  Status DispatchFile(const SegmentDescriptor& target, std::vector<Slice>& slices);

 private:
  // Submits to TCP and fails what it does not take; its error.
  Status SubmitTcp(const SegmentDescriptor& target, std::vector<Slice>& slices);

  const LocalTransports local_;
  const RouterTransports transports_;
  const std::string self_;
  const uint64_t incarnation_;
};

// Fails every slice in `slices` with `why` and empties it.
void FailSlices(std::vector<Slice>& slices, const Status& why);

}  // namespace mooncake::transfer
