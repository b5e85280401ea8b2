#include "p2p/replica_fetch.h"

#include <fmt/format.h>

#include <thread>

#include "common/logging.h"
#include "p2p/shard_hash.h"

namespace mooncake::p2p {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<uint64_t> SizesOf(const ObjectRecord& record) {
  std::vector<uint64_t> sizes;
  for (const ShardRecord& s : record.shards) sizes.push_back(s.size);
  return sizes;
}

ShardSchedulerOptions SchedulerOptions(const P2PStoreOptions& o) {
  ShardSchedulerOptions s;
  s.piece_size = o.piece_size;
  s.max_in_flight = o.max_pieces_in_flight;
  s.max_in_flight_per_holder = o.max_pieces_per_holder;
  s.max_piece_attempts = o.max_piece_attempts;
  s.max_shard_verifications = o.max_shard_verifications;
  s.seed = o.scheduler_seed;
  return s;
}

std::string Join(const auto& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + fmt::format("{}", item);
  return out.empty() ? "none" : out;
}

}  // namespace

ReplicaFetch::ReplicaFetch(ReplicaFetchContext context, ObjectRecord record, ExtentMap local)
    : context_(std::move(context)),
      record_(std::move(record)),
      local_(std::move(local)),
      scheduler_(SizesOf(record_), SchedulerOptions(*context_.options)),
      held_(record_.shards.size(), false) {
  algorithm_ = ParseHashAlgorithm(record_.hash_algorithm).value_or(P2PHashAlgorithm::kXxh3_128);
  uint64_t offset = 0;
  for (const ShardRecord& s : record_.shards) {
    shard_offsets_.push_back(offset);
    offset += s.size;
  }
}

Status ReplicaFetch::RefreshHolders() {
  auto kvs = context_.etcd->GetPrefix(HolderPrefix(record_.name));
  if (!kvs.ok()) return kvs.status();
  std::map<std::string, Holder> holders;
  std::vector<std::vector<std::string>> by_shard(record_.shards.size());
  std::vector<size_t> fetchers(record_.shards.size(), 0);
  for (const transfer::EtcdKeyValue& kv : *kvs) {
    auto decoded = DecodeHolderRecord(kv.value, record_.shards.size(), record_.size);
    if (!decoded.ok()) {
      MC_LOG_WARN("p2p: ignoring holder entry {}: {}", kv.key, decoded.status().ToString());
      continue;
    }
    HolderRecord& h = *decoded;
    if (h.segment == context_.self) continue;
    for (size_t i = 0; i < h.shards.size(); ++i) {
      if (h.shards[i]) by_shard[i].push_back(h.segment);
    }
    for (size_t i = 0; i < h.fetching.size(); ++i) fetchers[i] += h.fetching[i] ? 1 : 0;
    scheduler_.SetHolderBias(h.segment, h.seed ? context_.options->seed_bias : 0);
    holders[h.segment] = Holder{ExtentMap(std::move(h.buffers)), h.seed};
  }
  // Holders with pieces in flight keep their layout even if their entry vanished meanwhile.
  for (const InFlight& f : in_flight_) {
    if (holders.count(f.piece.holder) == 0) holders[f.piece.holder] = holders_[f.piece.holder];
  }
  holders_ = std::move(holders);
  for (size_t i = 0; i < by_shard.size(); ++i) {
    scheduler_.SetHolders(i, by_shard[i]);
    scheduler_.SetFetchers(i, fetchers[i]);
  }
  any_holder_ = false;
  for (const auto& shard_holders : by_shard) any_holder_ = any_holder_ || !shard_holders.empty();
  return Status::Ok();
}

Result<transfer::SegmentHandle> ReplicaFetch::Open(const std::string& segment) {
  if (auto it = segments_.find(segment); it != segments_.end()) return it->second;
  MC_ASSIGN_OR_RETURN(transfer::SegmentHandle handle, context_.engine->OpenSegment(segment));
  segments_[segment] = handle;
  return handle;
}

void ReplicaFetch::StartPieces() {
  // Bounded: each iteration either starts a piece (at most max_in_flight) or fails one (each
  // failure excludes a holder; the scheduler stops handing out after max_piece_attempts).
  for (size_t guard = 0; guard < 4 * scheduler_.piece_count() + 64; ++guard) {
    std::optional<PieceAssignment> next = scheduler_.Next();
    if (!next) return;
    const PieceAssignment& a = *next;
    auto fail = [&](const Status& why) {
      MC_LOG_WARN("p2p: '{}': piece {} from {} not started: {}", record_.name, a.piece, a.holder,
                  why.ToString());
      ++stats_.pieces_failed;
      scheduler_.PieceFailed(a.piece);
    };
    auto holder = holders_.find(a.holder);
    if (holder == holders_.end()) {
      fail(InternalError("holder layout unknown"));
      continue;
    }
    auto copies = PlanCopies(local_, holder->second.map, a.offset, a.length);
    if (!copies.ok()) {
      fail(copies.status());
      continue;
    }
    auto handle = Open(a.holder);
    if (!handle.ok()) {
      fail(handle.status());
      continue;
    }
    std::vector<transfer::TransferRequest> requests;
    for (const Copy& c : *copies) {
      transfer::TransferRequest r;
      r.opcode = transfer::TransferOpcode::kRead;
      r.source = reinterpret_cast<void*>(c.local);
      r.target_id = *handle;
      r.target_offset = c.remote;
      r.length = c.length;
      requests.push_back(r);
    }
    in_flight_.push_back({a, transfer::PendingBatch::Start(*context_.engine, requests)});
  }
}

bool ReplicaFetch::PollPieces() {
  bool any = false;
  for (size_t k = 0; k < in_flight_.size();) {
    if (!in_flight_[k].batch.Done()) {
      ++k;
      continue;
    }
    any = true;
    InFlight done = std::move(in_flight_[k]);
    in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(k));
    Status error;
    for (const Status& s : done.batch.Wait(Clock::now())) {
      if (!s.ok() && error.ok()) error = s;
    }
    if (!error.ok()) {
      MC_LOG_WARN("p2p: '{}': piece {} from {} failed, retrying elsewhere: {}", record_.name,
                  done.piece.piece, done.piece.holder, error.ToString());
      ++stats_.pieces_failed;
      scheduler_.PieceFailed(done.piece.piece);
      continue;
    }
    used_[done.piece.holder] = true;
    bytes_done_ += done.piece.length;
    bool seed = holders_.count(done.piece.holder) != 0 && holders_[done.piece.holder].seed;
    (seed ? stats_.bytes_from_seeds : stats_.bytes_from_peers) += done.piece.length;
    if (std::optional<size_t> shard = scheduler_.PieceDone(done.piece.piece)) Verify(*shard);
  }
  return any;
}

void ReplicaFetch::Verify(size_t shard) {
  const ShardRecord& expected = record_.shards[shard];
  auto extents = local_.Map(shard_offsets_[shard], expected.size);
  Result<std::string> hash =
      extents.ok() ? HashExtents(algorithm_, *extents) : Result<std::string>(extents.status());
  if (hash.ok() && *hash == expected.hash) {
    scheduler_.ShardVerified(shard);
    held_[shard] = true;
    ++shards_verified_;
    publish_pending_ = true;
    return;
  }
  MC_LOG_WARN(
      "p2p: '{}': shard {} failed verification ({}: got {}, expected {}); fetching it "
      "again",
      record_.name, shard, record_.hash_algorithm, hash.ok() ? *hash : hash.status().ToString(),
      expected.hash);
  ++stats_.shards_corrupt;
  bytes_done_ -= std::min(bytes_done_, expected.size);
  scheduler_.ShardCorrupt(shard);
}

void ReplicaFetch::Drain() {
  // Every transfer completes or fails within the engine's transfer timeout; wait a bit longer.
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  size_t stuck = 0;
  for (InFlight& f : in_flight_) {
    f.batch.Wait(deadline);
    if (f.batch.abandoned()) ++stuck;
  }
  in_flight_.clear();
  if (stuck > 0) {
    MC_LOG_ERROR("p2p: '{}': {} pieces still in flight after 30 s", record_.name, stuck);
  }
}

void ReplicaFetch::AwaitProgress() {
  constexpr auto kIdle = std::chrono::microseconds(200);
  if (in_flight_.empty()) {
    std::this_thread::sleep_for(kIdle);
  } else {
    in_flight_.front().batch.WaitUntilDone(Clock::now() + kIdle);
  }
}

ReplicaProgress ReplicaFetch::Progress() const {
  ReplicaProgress p;
  p.bytes_done = bytes_done_;
  p.total_bytes = record_.size;
  p.shards_verified = shards_verified_;
  p.shard_count = record_.shards.size();
  p.holders_in_use = scheduler_.HoldersInUse().size();
  return p;
}

Result<ReplicaStats> ReplicaFetch::Run(const GetReplicaOptions& options) {
  const P2PStoreOptions& o = *context_.options;
  const auto start = Clock::now();
  const auto deadline = start + o.get_timeout;
  if (!scheduler_.failure().ok()) return scheduler_.failure().WithContext("GetReplica");
  MC_RETURN_IF_ERROR(RefreshHolders().WithContext(
      fmt::format("GetReplica '{}': reading holders from etcd", record_.name)));
  if (!any_holder_) {
    return Status(StatusCode::kObjectNotFound,
                  fmt::format("object '{}' has no live holder (every peer that held it is gone)",
                              record_.name));
  }
  auto last_refresh = Clock::now();
  auto last_progress = Clock::now();
  bool was_stalled = false;
  Clock::time_point stalled_since = start;
  auto fail = [&](Status s) -> Result<ReplicaStats> {
    Drain();
    return s;
  };
  // Bounded by get_timeout (checked every round) and by the scheduler's attempt limits.
  while (!scheduler_.Done()) {
    const auto now = Clock::now();
    if (now > deadline) {
      return fail({StatusCode::kRpcTimeout,
                   fmt::format("GetReplica '{}': not done after {} ms ({} of {} shards verified)",
                               record_.name, o.get_timeout.count(), shards_verified_,
                               record_.shards.size())});
    }
    StartPieces();
    bool progressed = PollPieces();
    if (!scheduler_.failure().ok()) {
      return fail(scheduler_.failure().WithContext(fmt::format("GetReplica '{}'", record_.name)));
    }
    std::vector<bool> fetching = scheduler_.ShardsInProgress();
    if ((publish_pending_ || fetching != published_fetching_) && o.serve_replicas &&
        context_.publish) {
      context_.publish(held_, fetching);
      published_fetching_ = std::move(fetching);
      publish_pending_ = false;
    }
    const bool stalled = scheduler_.Stalled();
    if (now - last_refresh >= o.holder_refresh_interval ||
        (stalled && now - last_refresh >= std::chrono::milliseconds(20))) {
      if (Status s = RefreshHolders(); !s.ok()) {
        MC_LOG_WARN("p2p: '{}': cannot re-read holders: {}", record_.name, s.ToString());
      }
      last_refresh = Clock::now();
    }
    if (!scheduler_.Stalled()) {
      was_stalled = false;
    } else if (!was_stalled) {
      was_stalled = true;
      stalled_since = now;
    } else {
      if (now - stalled_since > o.stall_timeout) {
        return fail({StatusCode::kRpcTimeout,
                     fmt::format("GetReplica '{}': no live holder can serve shards [{}] for {} "
                                 "ms (excluded holders: {})",
                                 record_.name, Join(scheduler_.ShardsWithoutHolder()),
                                 o.stall_timeout.count(), Join(scheduler_.excluded()))});
      }
    }
    if (options.on_progress && now - last_progress >= options.progress_interval) {
      options.on_progress(Progress());
      last_progress = now;
    }
    if (!progressed) AwaitProgress();
  }
  if (options.on_progress) options.on_progress(Progress());
  stats_.bytes = record_.size;
  for (const auto& [holder, used] : used_) stats_.holders_used.push_back(holder);
  stats_.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  return stats_;
}

}  // namespace mooncake::p2p
