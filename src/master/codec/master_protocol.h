#pragma once

// Constants shared by the master's gRPC service and its clients.

#include <cstddef>
#include <cstdint>

namespace mooncake::master {

// Carried in every request's header; the master refuses any other value with
// kInvalidVersion. Bump on any incompatible change to proto/master.proto.
inline constexpr uint32_t kMasterProtocolVersion = 1;

// Largest number of items (keys) one batch RPC may carry; more is kInvalidParams for the
// whole request. Bounds the time one request holds the master's lock.
inline constexpr size_t kMaxBatchItems = 16384;

// Largest gRPC message either side accepts. Manifests of big segments are the large ones:
// 1M entries of ~60 bytes.
inline constexpr int kMaxMasterMessageBytes = 256 << 20;

}  // namespace mooncake::master
