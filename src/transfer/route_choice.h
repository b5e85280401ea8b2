#pragma once

// Which transport reaches a target segment, from the engine's protocol, what this engine runs,
// and the target's descriptor. Pure: no I/O, so the policy is testable on its own.
//
//   kTcp   tcp
//   kShm   shm for a same-host peer, else kNotSupported
//   kUcx   ucx when the peer serves UCX, else kNotSupported
//   kAuto  shm for a same-host peer; else ucx when both ends' UCX offers RDMA; else tcp

#include <string>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"
#include "transfer/protocol.h"

namespace mooncake::transfer {

enum class Route { kTcp, kShm, kUcx };

const char* RouteName(Route route);

// What this engine runs, besides TCP (always there).
struct LocalTransports {
  Protocol protocol = Protocol::kAuto;
  std::string host_id;    // LocalHostIdentity()
  bool shm = false;       // the shm transport runs
  bool ucx = false;       // the ucx transport runs
  bool ucx_rdma = false;  // ... and UCX offers an RDMA transport here
};

// kNotSupported (naming the segment and why) when the forced protocol cannot reach `target`.
Result<Route> ChooseRoute(const LocalTransports& local, const SegmentDescriptor& target);

}  // namespace mooncake::transfer
