// MasterServiceImpl's admin scans: RemoveByRegex, RemoveAll, ListKeys. Each walks the index in
// chunks (key_scan.h), releasing the service lock between chunks, so other RPCs keep answering
// and a cancelled call stops at its next chunk (docs/master.md).

#include <string>
#include <utility>

#include "common/key_pattern.h"
#include "master/service/master_service_serve.h"

namespace mooncake::master {
namespace {

// Index slots one chunk of an admin scan visits under the lock (RemoveByRegex, RemoveAll,
// ListKeys): at a load of 3/8..3/4, 1.5k..3k keys, well under a millisecond of lock hold.
constexpr size_t kScanChunkSlots = 4096;

}  // namespace

grpc::Status MasterServiceImpl::RemoveByRegex(grpc::ServerContext* ctx,
                                              const pb::RemoveByRegexRequest* req,
                                              pb::RemoveCountResponse* resp) {
  return Serve(MasterRpc::kRemoveByRegex, ctx, *req, resp, [&]() -> Status {
    const RemoveMode mode = req->force() ? RemoveMode::kForce : RemoveMode::kNormal;
    MC_ASSIGN_OR_RETURN(KeyPattern pattern, KeyPattern::Compile(req->pattern()));
    uint64_t removed = 0;
    Status scanned = ScanInChunks(*ctx, "RemoveByRegex", [&](MasterCore& core, KeyScanCursor& c) {
      removed += core.RemoveMatchingChunk(&pattern, mode, kScanChunkSlots, c);
    });
    resp->set_removed(removed);
    return scanned;
  });
}

grpc::Status MasterServiceImpl::RemoveAll(grpc::ServerContext* ctx, const pb::RemoveAllRequest* req,
                                          pb::RemoveCountResponse* resp) {
  return Serve(MasterRpc::kRemoveAll, ctx, *req, resp, [&]() -> Status {
    const RemoveMode mode = req->force() ? RemoveMode::kForce : RemoveMode::kNormal;
    uint64_t removed = 0;
    Status scanned = ScanInChunks(*ctx, "RemoveAll", [&](MasterCore& core, KeyScanCursor& c) {
      removed += core.RemoveMatchingChunk(nullptr, mode, kScanChunkSlots, c);
    });
    resp->set_removed(removed);
    return scanned;
  });
}

grpc::Status MasterServiceImpl::ListKeys(grpc::ServerContext* ctx, const pb::ListKeysRequest* req,
                                         pb::ListKeysResponse* resp) {
  return Serve(MasterRpc::kListKeys, ctx, *req, resp, [&]() -> Status {
    // The cap keeps a reply within the message limit: 16384 keys of at most 4096 bytes.
    const size_t limit = req->limit() == 0 ? kMaxBatchItems : req->limit();
    if (limit > kMaxBatchItems) {
      return Status(StatusCode::kInvalidParams, "ListKeys limit " + std::to_string(limit) +
                                                    " exceeds " + std::to_string(kMaxBatchItems));
    }
    MC_ASSIGN_OR_RETURN(KeyListing listing,
                        KeyListing::Create(req->prefix(), req->start_after(), limit));
    MC_RETURN_IF_ERROR(ScanInChunks(*ctx, "ListKeys", [&](MasterCore& core, KeyScanCursor& c) {
      core.ListKeysChunk(listing, kScanChunkSlots, c);
    }));
    KeyPage page = listing.TakePage();
    resp->mutable_keys()->Reserve(static_cast<int>(page.keys.size()));
    for (std::string& key : page.keys) resp->add_keys(std::move(key));
    resp->set_truncated(page.truncated);
    return Status::Ok();
  });
}

}  // namespace mooncake::master
