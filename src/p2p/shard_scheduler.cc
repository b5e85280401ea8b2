#include "p2p/shard_scheduler.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace mooncake::p2p {

Status ShardSchedulerOptions::Validate() const {
  if (piece_size == 0) return InvalidParams("shard scheduler: piece_size must be > 0");
  if (max_in_flight == 0) return InvalidParams("shard scheduler: max_in_flight must be >= 1");
  if (max_in_flight_per_holder == 0) {
    return InvalidParams("shard scheduler: max_in_flight_per_holder must be >= 1");
  }
  if (max_piece_attempts < 1) {
    return InvalidParams("shard scheduler: max_piece_attempts must be >= 1");
  }
  if (max_shard_verifications < 1) {
    return InvalidParams("shard scheduler: max_shard_verifications must be >= 1");
  }
  return Status::Ok();
}

ShardScheduler::ShardScheduler(std::vector<uint64_t> shard_sizes, ShardSchedulerOptions options)
    : options_(options) {
  uint64_t seed = options.seed;
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  rng_.seed(seed);
  if (Status s = options.Validate(); !s.ok()) {
    failure_ = s;
    return;
  }
  shards_.resize(shard_sizes.size());
  uint64_t offset = 0;
  for (size_t i = 0; i < shard_sizes.size(); ++i) {
    if (shard_sizes[i] == 0) {
      failure_ = InvalidParams(fmt::format("shard scheduler: shard {} has size 0", i));
      return;
    }
    Shard& shard = shards_[i];
    shard.first_piece = pieces_.size();
    for (uint64_t at = 0; at < shard_sizes[i]; at += options_.piece_size) {
      Piece piece;
      piece.shard = i;
      piece.offset = offset + at;
      piece.length = std::min(options_.piece_size, shard_sizes[i] - at);
      pieces_.push_back(std::move(piece));
    }
    shard.piece_count = pieces_.size() - shard.first_piece;
    shard.waiting_pieces = shard.piece_count;
    offset += shard_sizes[i];
  }
}

void ShardScheduler::SetHolders(size_t shard, const std::vector<std::string>& holders) {
  if (shard >= shards_.size()) return;
  std::vector<std::string>& list = shards_[shard].holders;
  list = holders;
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
}

void ShardScheduler::SetHolderBias(const std::string& holder, uint32_t bias) {
  if (bias == 0) {
    bias_.erase(holder);
  } else {
    bias_[holder] = bias;
  }
}

void ShardScheduler::SetFetchers(size_t shard, size_t fetchers) {
  if (shard < shards_.size()) shards_[shard].fetchers = fetchers;
}

std::vector<bool> ShardScheduler::ShardsInProgress() const {
  std::vector<bool> out(shards_.size(), false);
  for (size_t i = 0; i < shards_.size(); ++i) out[i] = shards_[i].started && !shards_[i].verified;
  return out;
}

bool ShardScheduler::Eligible(const Shard& shard, const std::string& holder) const {
  if (excluded_.count(holder) != 0) return false;
  if (shard.single_holder && !shard.pinned.empty() && holder != shard.pinned) return false;
  return true;
}

size_t ShardScheduler::EligibleCount(const Shard& shard) const {
  size_t n = 0;
  for (const std::string& h : shard.holders) n += Eligible(shard, h) ? 1 : 0;
  return n;
}

std::vector<std::string> ShardScheduler::Candidates(const Shard& shard) const {
  // Non-suspects first: suspects are used only when no eligible non-suspect exists at all
  // (busy or not), so a suspect never serves a shard a clean holder could serve.
  bool any_clean = false;
  for (const std::string& h : shard.holders) {
    if (Eligible(shard, h) && shard.suspects.count(h) == 0) any_clean = true;
  }
  std::vector<std::string> out;
  for (const std::string& h : shard.holders) {
    if (!Eligible(shard, h)) continue;
    if (any_clean && shard.suspects.count(h) != 0) continue;
    auto it = in_flight_by_holder_.find(h);
    size_t busy = it == in_flight_by_holder_.end() ? 0 : it->second;
    if (busy >= options_.max_in_flight_per_holder) continue;
    out.push_back(h);
  }
  return out;
}

uint64_t ShardScheduler::Load(const std::string& holder) const {
  uint64_t load = 0;
  if (auto it = in_flight_by_holder_.find(holder); it != in_flight_by_holder_.end()) {
    load += it->second;
  }
  if (auto it = bias_.find(holder); it != bias_.end()) load += it->second;
  return load;
}

std::optional<PieceAssignment> ShardScheduler::Next() {
  if (!failure_.ok() || Done() || in_flight_total_ >= options_.max_in_flight) return std::nullopt;

  // Rarest shard (fewest eligible holders), started before fresh, random among equals
  // (reservoir sampling over the ties).
  size_t best = shards_.size();
  std::vector<std::string> best_candidates;
  std::pair<size_t, int> best_key{std::numeric_limits<size_t>::max(), 0};
  size_t ties = 0;
  for (size_t i = 0; i < shards_.size(); ++i) {
    const Shard& shard = shards_[i];
    if (shard.verified || shard.waiting_pieces == 0) continue;
    std::vector<std::string> candidates = Candidates(shard);
    if (candidates.empty()) continue;
    std::pair<size_t, int> key{EligibleCount(shard) + shard.fetchers, shard.started ? 0 : 1};
    if (key < best_key) {
      best_key = key;
      best = i;
      best_candidates = std::move(candidates);
      ties = 1;
    } else if (key == best_key) {
      ++ties;
      if (std::uniform_int_distribution<size_t>(0, ties - 1)(rng_) == 0) {
        best = i;
        best_candidates = std::move(candidates);
      }
    }
  }
  if (best == shards_.size()) return std::nullopt;
  Shard& shard = shards_[best];

  size_t piece_index = shard.first_piece;
  while (pieces_[piece_index].state != PieceState::kWaiting) ++piece_index;

  // Least-loaded holder, random among equals.
  std::string holder;
  uint64_t best_load = std::numeric_limits<uint64_t>::max();
  ties = 0;
  for (const std::string& h : best_candidates) {
    uint64_t load = Load(h);
    if (load < best_load) {
      best_load = load;
      holder = h;
      ties = 1;
    } else if (load == best_load) {
      ++ties;
      if (std::uniform_int_distribution<size_t>(0, ties - 1)(rng_) == 0) holder = h;
    }
  }

  if (shard.single_holder && shard.pinned.empty()) shard.pinned = holder;
  shard.started = true;
  --shard.waiting_pieces;
  Piece& piece = pieces_[piece_index];
  piece.state = PieceState::kInFlight;
  piece.holder = holder;
  ++in_flight_by_holder_[holder];
  ++in_flight_total_;
  return PieceAssignment{piece_index, best, piece.offset, piece.length, holder};
}

std::optional<size_t> ShardScheduler::PieceDone(size_t index) {
  if (index >= pieces_.size() || pieces_[index].state != PieceState::kInFlight) {
    return std::nullopt;
  }
  Piece& piece = pieces_[index];
  piece.state = PieceState::kDone;
  if (--in_flight_by_holder_[piece.holder] == 0) in_flight_by_holder_.erase(piece.holder);
  --in_flight_total_;
  Shard& shard = shards_[piece.shard];
  ++shard.done_pieces;
  if (shard.done_pieces == shard.piece_count) return piece.shard;
  return std::nullopt;
}

void ShardScheduler::PieceFailed(size_t index) {
  if (index >= pieces_.size() || pieces_[index].state != PieceState::kInFlight) return;
  Piece& piece = pieces_[index];
  piece.state = PieceState::kWaiting;
  if (--in_flight_by_holder_[piece.holder] == 0) in_flight_by_holder_.erase(piece.holder);
  --in_flight_total_;
  Shard& shard = shards_[piece.shard];
  ++shard.waiting_pieces;
  excluded_.insert(piece.holder);
  if (shard.pinned == piece.holder) shard.pinned.clear();
  if (++piece.failures >= options_.max_piece_attempts) {
    Fail(TransferFail(fmt::format(
        "piece {} (shard {}, object bytes {}..{}) failed {} times; last holder {}", index,
        piece.shard, piece.offset, piece.offset + piece.length, piece.failures, piece.holder)));
  }
}

void ShardScheduler::ShardVerified(size_t index) {
  if (index >= shards_.size() || shards_[index].verified) return;
  shards_[index].verified = true;
  ++verified_shards_;
}

void ShardScheduler::ResetShard(size_t index) {
  Shard& shard = shards_[index];
  for (size_t p = shard.first_piece; p < shard.first_piece + shard.piece_count; ++p) {
    if (pieces_[p].state == PieceState::kDone) pieces_[p].state = PieceState::kWaiting;
  }
  shard.done_pieces = 0;
  shard.waiting_pieces = shard.piece_count;
  shard.started = false;
}

void ShardScheduler::ShardCorrupt(size_t index) {
  if (index >= shards_.size() || shards_[index].verified) return;
  Shard& shard = shards_[index];
  std::set<std::string> contributors;
  for (size_t p = shard.first_piece; p < shard.first_piece + shard.piece_count; ++p) {
    contributors.insert(pieces_[p].holder);
  }
  if (contributors.size() == 1) {
    // One holder served the whole shard: it served bad data.
    excluded_.insert(*contributors.begin());
  } else {
    shard.suspects.insert(contributors.begin(), contributors.end());
  }
  shard.single_holder = true;
  shard.pinned.clear();
  ResetShard(index);
  if (++shard.mismatches >= options_.max_shard_verifications) {
    std::string who;
    for (const std::string& h : contributors) who += (who.empty() ? "" : ", ") + h;
    Fail({StatusCode::kChecksumMismatch,
          fmt::format("shard {} failed verification {} times (last served by {})", index,
                      shard.mismatches, who)});
  }
}

void ShardScheduler::Fail(Status status) {
  if (failure_.ok()) failure_ = std::move(status);
}

bool ShardScheduler::Stalled() const {
  if (Done() || !failure_.ok() || in_flight_total_ != 0) return false;
  for (const Shard& shard : shards_) {
    if (!shard.verified && shard.waiting_pieces > 0 && !Candidates(shard).empty()) return false;
  }
  return true;
}

std::vector<std::string> ShardScheduler::HoldersInUse() const {
  std::vector<std::string> out;
  for (const auto& [holder, count] : in_flight_by_holder_) out.push_back(holder);
  return out;
}

std::vector<size_t> ShardScheduler::ShardsWithoutHolder() const {
  std::vector<size_t> out;
  for (size_t i = 0; i < shards_.size(); ++i) {
    const Shard& shard = shards_[i];
    if (!shard.verified && shard.waiting_pieces > 0 && EligibleCount(shard) == 0) {
      out.push_back(i);
    }
  }
  return out;
}

}  // namespace mooncake::p2p
