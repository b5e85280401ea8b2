#pragma once

// Which piece of which shard to fetch next, and from which holder: the pure core of
// P2PStore::GetReplica (no I/O, no threads, no clock; randomness from a seedable RNG).
//
// An object is a list of shards; each shard is fetched in pieces of `piece_size` bytes (the
// last piece of a shard may be shorter), each piece from one holder of its shard, so that even
// a one-shard object spreads over several holders. Policy for Next():
//   1. rarest first: among shards with a piece waiting, those with the fewest eligible
//      holders plus other peers known to be fetching them (a shard someone is fetching will
//      soon have one more holder, so fetching it too from the same source would duplicate
//      work); at equal rarity, shards already started come first (they complete, get
//      verified and can be served sooner), then a random one;
//   2. inside a shard, its lowest waiting piece;
//   3. the eligible holder with the fewest active readers (our pieces in flight from it plus
//      its bias, see SetHolderBias), random among equals.
// Failures: a piece whose transfer failed goes back to waiting and its holder is excluded from
// everything (a dead or unreachable holder stays unused for this fetch); after
// `max_piece_attempts` failed transfers of one piece the fetch fails. A shard whose hash did
// not match goes back to waiting as a whole: if one holder served all of it, that holder is
// excluded from everything; otherwise every contributor becomes a suspect for that shard and
// the shard is fetched again from one single holder, non-suspects first, so that the next
// mismatch convicts. After `max_shard_verifications` mismatches of one shard the fetch fails.
//
// Not thread-safe: one thread drives a scheduler.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::p2p {

struct ShardSchedulerOptions {
  // Bytes per piece (default 4 MiB, > 0).
  uint64_t piece_size = 4ull << 20;
  // Pieces in flight at once over all holders (default 8, >= 1).
  size_t max_in_flight = 8;
  // Pieces in flight at once from one holder (default 4, >= 1).
  size_t max_in_flight_per_holder = 4;
  // Failed transfers of one piece before the fetch fails (default 5, >= 1).
  int max_piece_attempts = 5;
  // Hash mismatches of one shard before the fetch fails (default 4, >= 1).
  int max_shard_verifications = 4;
  // Seed of the tie-break RNG (default 0 = from std::random_device).
  uint64_t seed = 0;

  Status Validate() const;
};

// One piece handed out by Next(): fetch [offset, offset + length) of the object from `holder`.
struct PieceAssignment {
  size_t piece = 0;  // index over all pieces of the object
  size_t shard = 0;
  uint64_t offset = 0;  // in the object
  uint64_t length = 0;
  std::string holder;
};

class ShardScheduler {
 public:
  // `shard_sizes`: sizes of the object's shards in order (each > 0; the object is their
  // concatenation). Invalid options or sizes → the scheduler starts failed (see failure()).
  ShardScheduler(std::vector<uint64_t> shard_sizes, ShardSchedulerOptions options);

  // Replaces the holders of `shard` (e.g. after re-reading them from etcd). Excluded holders
  // stay excluded; pieces in flight are unaffected.
  void SetHolders(size_t shard, const std::vector<std::string>& holders);
  // Extra readers to count against `holder` when comparing loads (default 0): readers other
  // peers are known to have on it, or a penalty (P2PStore biases seeds so that peers that
  // already hold a shard serve it first).
  void SetHolderBias(const std::string& holder, uint32_t bias);
  // How many other peers are fetching `shard` now (default 0); counted as holders-to-be.
  void SetFetchers(size_t shard, size_t fetchers);

  // The next piece to start, or nullopt when none may start now (in-flight limits, nothing
  // waiting, no eligible holder, done or failed). Marks the piece in flight.
  std::optional<PieceAssignment> Next();

  // Reports a piece handed out by Next(). Returns the shard index when this was the shard's
  // last missing piece: the caller verifies the shard and reports ShardVerified/ShardCorrupt.
  std::optional<size_t> PieceDone(size_t piece);
  // The piece's transfer failed: it waits again and its holder is excluded.
  void PieceFailed(size_t piece);
  void ShardVerified(size_t shard);
  void ShardCorrupt(size_t shard);

  // Every shard verified.
  bool Done() const { return verified_shards_ == shards_.size(); }
  // Not OK once the fetch cannot complete (attempts exhausted); names the piece/shard.
  const Status& failure() const { return failure_; }
  // Not done, not failed, nothing in flight, and nothing may start: only new holders help.
  bool Stalled() const;

  size_t in_flight() const { return in_flight_total_; }
  size_t shard_count() const { return shards_.size(); }
  size_t piece_count() const { return pieces_.size(); }
  // Holders with a piece in flight now.
  std::vector<std::string> HoldersInUse() const;
  const std::set<std::string>& excluded() const { return excluded_; }
  // Shards with a piece handed out in the current round and not yet verified.
  std::vector<bool> ShardsInProgress() const;
  // Shards with no eligible holder although they still need pieces (for error messages).
  std::vector<size_t> ShardsWithoutHolder() const;

 private:
  enum class PieceState { kWaiting, kInFlight, kDone };
  struct Piece {
    size_t shard = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    PieceState state = PieceState::kWaiting;
    int failures = 0;
    std::string holder;  // in flight from / fetched from
  };
  struct Shard {
    size_t first_piece = 0;
    size_t piece_count = 0;
    size_t done_pieces = 0;
    size_t waiting_pieces = 0;
    bool started = false;  // some piece of the current round was handed out
    bool verified = false;
    int mismatches = 0;
    std::vector<std::string> holders;
    size_t fetchers = 0;
    std::set<std::string> suspects;  // contributed to a mismatch together with others
    bool single_holder = false;      // after an unattributable mismatch: one holder only
    std::string pinned;              // that holder, once chosen
  };

  bool Eligible(const Shard& shard, const std::string& holder) const;
  // Eligible holders with room for one more piece, preferring non-suspects; empty if none.
  std::vector<std::string> Candidates(const Shard& shard) const;
  size_t EligibleCount(const Shard& shard) const;
  uint64_t Load(const std::string& holder) const;
  void Fail(Status status);
  void ResetShard(size_t shard);

  ShardSchedulerOptions options_;
  std::vector<Shard> shards_;
  std::vector<Piece> pieces_;
  std::map<std::string, size_t> in_flight_by_holder_;
  std::map<std::string, uint32_t> bias_;
  std::set<std::string> excluded_;
  size_t in_flight_total_ = 0;
  size_t verified_shards_ = 0;
  Status failure_;
  std::mt19937_64 rng_;
};

}  // namespace mooncake::p2p
