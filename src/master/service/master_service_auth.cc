// MasterServiceImpl::CheckCredential: the master's one authentication check, run by Serve
// before any method's body (master/codec/rpc_credentials.h describes the credential).

#include <chrono>
#include <string_view>

#include "common/logging.h"
#include "master/codec/rpc_credentials.h"
#include "master/service/master_service.h"

namespace mooncake::master {
namespace {

// Refused calls are logged at most this often.
constexpr std::chrono::seconds kRefusalLogInterval{10};

}  // namespace

Status MasterServiceImpl::CheckCredential(MasterRpc rpc, const grpc::ServerContext& ctx,
                                          const v1::RequestHeader& header) {
  if (verifier_ == nullptr) return Status::Ok();
  Status status;
  if (header.auth().empty()) {
    status = Unauthenticated(
        "the call carries no credential, and this master requires the cluster secret");
  } else {
    status =
        verifier_->Check(MasterRpcMethod(rpc), header.auth(), std::chrono::system_clock::now());
  }
  if (status.ok()) return status;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  int64_t last_ms = last_refusal_log_ms_.load(std::memory_order_relaxed);
  const bool due =
      last_ms < 0 || now_ms - last_ms >= std::chrono::milliseconds(kRefusalLogInterval).count();
  if (due && last_refusal_log_ms_.compare_exchange_strong(last_ms, now_ms)) {
    const uint64_t unlogged = refusals_unlogged_.exchange(0);
    MC_LOG_WARN("refused {} from {}: {} ({} more refusals since the last such warning)",
                MasterRpcMethod(rpc), ctx.peer(), status.message(), unlogged);
  } else {
    refusals_unlogged_.fetch_add(1, std::memory_order_relaxed);
  }
  return status;
}

}  // namespace mooncake::master
