#pragma once

// MasterServiceImpl's request wrapper (Serve: credential, header, deadline, metrics) and the
// chunked admin scan, shared by the handler files (master_service.cc, master_service_admin.cc).
// Internal to src/master/service.

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "master/codec/master_protocol.h"
#include "master/codec/proto_convert.h"
#include "master/service/master_service.h"

namespace mooncake::master {

inline Status CheckHeader(const pb::RequestHeader& header) {
  if (header.protocol_version() != kMasterProtocolVersion) {
    return Status(StatusCode::kInvalidVersion,
                  "master protocol version " + std::to_string(header.protocol_version()) +
                      " from client '" + header.client_id() + "' is not supported (master speaks " +
                      std::to_string(kMasterProtocolVersion) + ")");
  }
  return Status::Ok();
}

// The request's deadline has passed: the caller has given up, so doing the work would only
// change state nobody will learn about (e.g. a PutStart whose allocation nobody writes).
inline Status CheckDeadline(const grpc::ServerContext& ctx) {
  if (ctx.deadline() < std::chrono::system_clock::now()) {
    return Status(StatusCode::kRpcTimeout, "request deadline passed before the master ran it");
  }
  return Status::Ok();
}

template <typename Request, typename Response, typename Body>
grpc::Status MasterServiceImpl::Serve(MasterRpc rpc, grpc::ServerContext* ctx, const Request& req,
                                      Response* resp, Body&& body) {
  const auto start = std::chrono::steady_clock::now();
  if (Status auth = CheckCredential(rpc, *ctx, req.header()); !auth.ok()) {
    metrics_.RecordRpc(rpc, std::chrono::steady_clock::now() - start, auth);
    // gRPC sends no reply message with a non-OK status: nothing `resp` may hold leaks.
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, auth.message());
  }
  Status status = CheckHeader(req.header());
  if (status.ok()) status = CheckDeadline(*ctx);
  if (status.ok()) status = body();
  ToProto(status, resp->mutable_status());
  metrics_.RecordRpc(rpc, std::chrono::steady_clock::now() - start, status);
  return grpc::Status::OK;
}

template <typename Chunk>
Status MasterServiceImpl::ScanInChunks(const grpc::ServerContext& ctx, std::string_view what,
                                       Chunk&& chunk) {
  KeyScanCursor cursor;
  // Bounded: each chunk advances the cursor, and restarts double the chunk (key_scan.h).
  for (uint64_t chunks = 0; !cursor.done(); ++chunks) {
    if (ctx.IsCancelled() || ctx.deadline() < std::chrono::system_clock::now()) {
      return Status(StatusCode::kRpcTimeout,
                    std::string(what) + " stopped after " + std::to_string(chunks) +
                        " chunks: the call was cancelled (deadline passed, caller gone or "
                        "master shutting down)");
    }
    const auto start = std::chrono::steady_clock::now();
    WithCore([&](MasterCore& core) { chunk(core, cursor); });
    // Stay out as long as the chunk held the lock: a plain unlock/lock would let this thread
    // take the mutex straight back before any waiter is scheduled.
    if (!cursor.done()) std::this_thread::sleep_for(std::chrono::steady_clock::now() - start);
  }
  return Status::Ok();
}

}  // namespace mooncake::master
