#pragma once

// A MasterApi answered by a MasterCore in the caller's own process: the store client's logic
// (retries through the master, replica order, revoke on failure, the location cache,
// corruption reports, read-through) runs against the master's real index, placement, leases
// and repair bookkeeping, with no gRPC, server or thread. For unit tests; time comes from the
// Clock given (a FakeClock), so leases and node expiry move only when the test moves them.
//
// The answers are the ones MasterServiceImpl gives for the same core calls; left out are the
// RPC envelope (protocol version checks, batch-size limits, credentials) and metrics.
//
// Thread safety: every method may be called from any thread (one lock around the core).

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "master/client/master_api.h"
#include "master/core/master_core.h"
#include "mooncake/common/clock.h"
#include "store_types/object_tier.h"

namespace mooncake::master {

class InProcessMaster final : public MasterApi {
 public:
  // How many requests of each kind were answered (a batch counts once).
  struct CallCounts {
    uint64_t put_start = 0;
    uint64_t put_end = 0;
    uint64_t put_revoke = 0;
    uint64_t get_replica_list = 0;
    uint64_t report_corrupt = 0;
  };

  // `clock` must outlive the master. `object_tier` is what Ping hands clients (default: none).
  static Result<std::unique_ptr<InProcessMaster>> Create(MasterCoreOptions options,
                                                         const Clock& clock,
                                                         ObjectTierConfig object_tier = {});

  // Runs `fn(core)` under the master's lock: tests mount segments, expire nodes (Tick) and
  // look at the index through it.
  template <typename Fn>
  auto WithCore(Fn&& fn) {
    std::lock_guard lock(mutex_);
    return fn(*core_);
  }

  CallCounts calls() const;

  // A client's own handle on this master (ClientImpl owns its master): forwards every call
  // here. Several clients of one master each take one. This master must outlive it.
  std::unique_ptr<MasterApi> Connect();

  Result<PingReply> Ping() override;
  using MasterApi::BatchPutStart;
  Result<std::vector<Result<PutStartReply>>> BatchPutStart(const std::vector<PutStartItem>& items,
                                                           const ReplicateConfig& config,
                                                           PutMode mode) override;
  Result<std::vector<Status>> BatchPutEnd(const std::vector<PutEndItem>& items) override;
  Result<std::vector<Status>> BatchPutRevoke(const std::vector<std::string>& keys) override;
  Result<std::vector<Result<ReplicaListReply>>> BatchGetReplicaList(
      const std::vector<std::string>& keys) override;
  Result<std::vector<Result<bool>>> BatchExistKey(const std::vector<std::string>& keys) override;
  Result<std::vector<Result<uint64_t>>> BatchGetSize(const std::vector<std::string>& keys) override;
  Result<std::vector<Status>> BatchRemove(const std::vector<std::string>& keys,
                                          RemoveMode mode) override;
  Result<uint64_t> RemoveByRegex(const std::string& pattern, RemoveMode mode) override;
  Result<uint64_t> RemoveAll(RemoveMode mode) override;
  Result<std::vector<Status>> ReportCorruptReplicas(
      const std::vector<CorruptReplicaReport>& reports) override;

 private:
  InProcessMaster(std::unique_ptr<MasterCore> core, const Clock& clock,
                  ObjectTierConfig object_tier)
      : core_(std::move(core)), clock_(clock), object_tier_(std::move(object_tier)) {}

  std::mutex mutex_;
  const std::unique_ptr<MasterCore> core_;  // guarded by mutex_
  const Clock& clock_;
  const ObjectTierConfig object_tier_;
  std::atomic<uint64_t> put_start_{0}, put_end_{0}, put_revoke_{0}, get_replica_list_{0},
      report_corrupt_{0};
};

}  // namespace mooncake::master
