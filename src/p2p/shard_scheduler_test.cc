#include "p2p/shard_scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace mooncake::p2p {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

ShardSchedulerOptions Options(uint64_t seed = 1) {
  ShardSchedulerOptions o;
  o.piece_size = 4 * kMiB;
  o.seed = seed;
  return o;
}

// Completes every piece of `shard` that Next() hands out, returning the holders used.
std::vector<std::string> DrainShard(ShardScheduler& s, size_t shard) {
  std::vector<std::string> holders;
  for (int i = 0; i < 1000; ++i) {
    auto a = s.Next();
    if (!a) break;
    EXPECT_EQ(a->shard, shard);
    holders.push_back(a->holder);
    s.PieceDone(a->piece);
  }
  return holders;
}

TEST(ShardSchedulerTest, PiecesCoverEveryShardExactly) {
  ShardScheduler s({10 * kMiB, 1, 4 * kMiB}, Options());
  ASSERT_TRUE(s.failure().ok());
  EXPECT_EQ(s.piece_count(), 3u + 1u + 1u);
  for (size_t i = 0; i < 3; ++i) s.SetHolders(i, {"seed"});
  std::map<uint64_t, uint64_t> covered;  // offset -> length
  for (int i = 0; i < 10; ++i) {
    auto a = s.Next();
    if (!a) break;
    covered[a->offset] = a->length;
    s.PieceDone(a->piece);
  }
  std::map<uint64_t, uint64_t> expected{{0, 4 * kMiB},
                                        {4 * kMiB, 4 * kMiB},
                                        {8 * kMiB, 2 * kMiB},
                                        {10 * kMiB, 1},
                                        {10 * kMiB + 1, 4 * kMiB}};
  EXPECT_EQ(covered, expected);
}

TEST(ShardSchedulerTest, PieceDoneReportsTheShardOnlyWithItsLastPiece) {
  ShardScheduler s({8 * kMiB}, Options());
  s.SetHolders(0, {"seed"});
  auto a = s.Next();
  auto b = s.Next();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(s.PieceDone(a->piece), std::nullopt);
  EXPECT_FALSE(s.Done());
  EXPECT_EQ(s.PieceDone(b->piece), std::optional<size_t>(0));
  EXPECT_FALSE(s.Done());  // not before verification
  s.ShardVerified(0);
  EXPECT_TRUE(s.Done());
  EXPECT_EQ(s.Next(), std::nullopt);
}

TEST(ShardSchedulerTest, RarestShardGoesFirst) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ShardScheduler s({kMiB, kMiB, kMiB}, Options(seed));
    s.SetHolders(0, {"a", "b", "c"});
    s.SetHolders(1, {"a"});
    s.SetHolders(2, {"a", "b"});
    auto first = s.Next();
    auto second = s.Next();
    auto third = s.Next();
    ASSERT_TRUE(first && second && third);
    EXPECT_EQ(first->shard, 1u);
    EXPECT_EQ(second->shard, 2u);
    EXPECT_EQ(third->shard, 0u);
  }
}

TEST(ShardSchedulerTest, ShardsOthersAreFetchingCountAsLessRare) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ShardScheduler s({kMiB, kMiB, kMiB}, Options(seed));
    for (size_t i = 0; i < 3; ++i) s.SetHolders(i, {"seed"});
    s.SetFetchers(0, 2);
    s.SetFetchers(2, 1);
    auto first = s.Next();
    ASSERT_TRUE(first);
    EXPECT_EQ(first->shard, 1u);
    EXPECT_EQ(s.ShardsInProgress(), (std::vector<bool>{false, true, false}));
    EXPECT_EQ(s.Next()->shard, 2u);
    EXPECT_EQ(s.Next()->shard, 0u);
  }
}

TEST(ShardSchedulerTest, StartedShardBeatsFreshShardOfEqualRarity) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ShardScheduler s({16 * kMiB, 16 * kMiB}, Options(seed));
    s.SetHolders(0, {"a", "b"});
    s.SetHolders(1, {"a", "b"});
    auto first = s.Next();
    ASSERT_TRUE(first);
    for (int i = 0; i < 3; ++i) {
      auto next = s.Next();
      ASSERT_TRUE(next);
      EXPECT_EQ(next->shard, first->shard);
    }
  }
}

TEST(ShardSchedulerTest, PicksTheHolderWithFewestActiveReaders) {
  ShardSchedulerOptions o = Options();
  o.max_in_flight = 3;
  ShardScheduler s({64 * kMiB}, o);
  s.SetHolders(0, {"a", "b", "c"});
  std::set<std::string> used;
  for (int i = 0; i < 3; ++i) used.insert(s.Next()->holder);
  EXPECT_EQ(used, (std::set<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s.Next(), std::nullopt);  // max_in_flight
  EXPECT_EQ(s.HoldersInUse().size(), 3u);
}

TEST(ShardSchedulerTest, BiasSteersReadsAwayFromAHolder) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    ShardSchedulerOptions o = Options(seed);
    o.max_in_flight = 2;
    ShardScheduler s({64 * kMiB}, o);
    s.SetHolders(0, {"seed", "peer"});
    s.SetHolderBias("seed", 1);
    auto a = s.Next();
    ASSERT_TRUE(a);
    EXPECT_EQ(a->holder, "peer");
    // peer now has 1 reader, seed 0 + bias 1: a tie, either may come.
    ASSERT_TRUE(s.Next());
  }
}

TEST(ShardSchedulerTest, TieBreakIsRandomButSeedable) {
  auto sequence = [](uint64_t seed) {
    ShardSchedulerOptions o = Options(seed);
    o.max_in_flight = 1;
    ShardScheduler s({kMiB, kMiB, kMiB, kMiB, kMiB, kMiB, kMiB, kMiB}, o);
    for (size_t i = 0; i < 8; ++i) s.SetHolders(i, {"a", "b", "c", "d"});
    std::vector<std::string> out;
    for (int i = 0; i < 8; ++i) {
      auto a = s.Next();
      out.push_back(std::to_string(a->shard) + "@" + a->holder);
      s.PieceDone(a->piece);
    }
    return out;
  };
  EXPECT_EQ(sequence(7), sequence(7));
  std::set<std::vector<std::string>> distinct;
  for (uint64_t seed = 1; seed <= 10; ++seed) distinct.insert(sequence(seed));
  EXPECT_GT(distinct.size(), 5u);
}

TEST(ShardSchedulerTest, PerHolderLimitSpillsToOtherHolders) {
  ShardSchedulerOptions o = Options();
  o.max_in_flight = 8;
  o.max_in_flight_per_holder = 2;
  ShardScheduler s({64 * kMiB}, o);
  s.SetHolders(0, {"a"});
  ASSERT_TRUE(s.Next());
  ASSERT_TRUE(s.Next());
  EXPECT_EQ(s.Next(), std::nullopt);
  EXPECT_FALSE(s.Stalled());  // pieces in flight
  s.SetHolders(0, {"a", "b"});
  auto c = s.Next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->holder, "b");
}

TEST(ShardSchedulerTest, FailedHolderIsExcludedAndThePieceRetriedElsewhere) {
  ShardSchedulerOptions o = Options();
  o.max_in_flight = 1;
  ShardScheduler s({kMiB}, o);
  s.SetHolders(0, {"a", "b"});
  auto first = s.Next();
  ASSERT_TRUE(first);
  s.PieceFailed(first->piece);
  EXPECT_TRUE(s.failure().ok());
  EXPECT_EQ(s.excluded().count(first->holder), 1u);
  auto retry = s.Next();
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->piece, first->piece);
  EXPECT_NE(retry->holder, first->holder);
  // Re-reading the holders does not bring the failed one back.
  s.SetHolders(0, {"a", "b"});
  s.PieceFailed(retry->piece);
  EXPECT_TRUE(s.Stalled());
  EXPECT_EQ(s.ShardsWithoutHolder(), std::vector<size_t>{0});
  // A new holder (another peer verified the shard) unblocks it.
  s.SetHolders(0, {"a", "b", "c"});
  EXPECT_FALSE(s.Stalled());
  auto third = s.Next();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->holder, "c");
  EXPECT_EQ(s.PieceDone(third->piece), std::optional<size_t>(0));
}

TEST(ShardSchedulerTest, PieceAttemptsAreBounded) {
  ShardSchedulerOptions o = Options();
  o.max_piece_attempts = 3;
  ShardScheduler s({kMiB}, o);
  s.SetHolders(0, {"a", "b", "c", "d", "e"});
  for (int i = 0; i < 3; ++i) {
    auto a = s.Next();
    ASSERT_TRUE(a);
    s.PieceFailed(a->piece);
  }
  EXPECT_FALSE(s.failure().ok());
  EXPECT_EQ(s.failure().code(), StatusCode::kTransferFail);
  EXPECT_NE(s.failure().message().find("failed 3 times"), std::string::npos);
  EXPECT_EQ(s.Next(), std::nullopt);
  EXPECT_FALSE(s.Stalled());  // failed, not stalled
}

TEST(ShardSchedulerTest, NoHoldersMeansStalled) {
  ShardScheduler s({kMiB}, Options());
  EXPECT_EQ(s.Next(), std::nullopt);
  EXPECT_TRUE(s.Stalled());
}

TEST(ShardSchedulerTest, CorruptShardFromOneHolderExcludesIt) {
  ShardSchedulerOptions o = Options();
  o.max_in_flight = 1;
  ShardScheduler s({8 * kMiB}, o);
  s.SetHolders(0, {"bad"});
  std::vector<std::string> used = DrainShard(s, 0);
  EXPECT_EQ(used, (std::vector<std::string>{"bad", "bad"}));
  s.ShardCorrupt(0);
  EXPECT_TRUE(s.failure().ok());
  EXPECT_EQ(s.excluded().count("bad"), 1u);
  EXPECT_TRUE(s.Stalled());
  s.SetHolders(0, {"bad", "good"});
  used = DrainShard(s, 0);
  EXPECT_EQ(used, (std::vector<std::string>{"good", "good"}));
  s.ShardVerified(0);
  EXPECT_TRUE(s.Done());
}

TEST(ShardSchedulerTest, UnattributableMismatchRefetchesFromOneHolderUntilConvicted) {
  ShardSchedulerOptions o = Options();
  o.max_in_flight_per_holder = 1;
  ShardScheduler s({8 * kMiB}, o);
  s.SetHolders(0, {"a", "b"});
  auto p = s.Next();
  auto q = s.Next();
  ASSERT_TRUE(p && q);
  EXPECT_NE(p->holder, q->holder);  // one piece each
  s.PieceDone(p->piece);
  s.PieceDone(q->piece);
  s.ShardCorrupt(0);
  EXPECT_TRUE(s.excluded().empty());  // cannot tell who
  // Now the whole shard comes from one holder.
  auto r = s.Next();
  ASSERT_TRUE(r);
  EXPECT_EQ(s.Next(), std::nullopt);  // pinned holder is busy (per-holder limit 1)
  s.PieceDone(r->piece);
  auto t = s.Next();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->holder, r->holder);
  s.PieceDone(t->piece);
  s.ShardCorrupt(0);  // r->holder served all of it: convicted
  EXPECT_EQ(s.excluded(), (std::set<std::string>{r->holder}));
  std::vector<std::string> used = DrainShard(s, 0);
  ASSERT_EQ(used.size(), 2u);
  EXPECT_NE(used[0], r->holder);
  EXPECT_EQ(used[0], used[1]);
  s.ShardVerified(0);
  EXPECT_TRUE(s.Done());
}

TEST(ShardSchedulerTest, SuspectsAreAvoidedWhenACleanHolderExists) {
  ShardSchedulerOptions o = Options();
  o.max_in_flight_per_holder = 1;
  ShardScheduler s({8 * kMiB}, o);
  s.SetHolders(0, {"a", "b"});
  s.PieceDone(s.Next()->piece);
  s.PieceDone(s.Next()->piece);
  s.ShardCorrupt(0);
  s.SetHolders(0, {"a", "b", "c"});
  std::vector<std::string> used = DrainShard(s, 0);
  EXPECT_EQ(used, (std::vector<std::string>{"c", "c"}));
}

TEST(ShardSchedulerTest, ShardVerificationsAreBounded) {
  ShardSchedulerOptions o = Options();
  o.max_shard_verifications = 2;
  ShardScheduler s({kMiB}, o);
  s.SetHolders(0, {"a", "b", "c"});
  for (int i = 0; i < 2; ++i) {
    DrainShard(s, 0);
    s.ShardCorrupt(0);
  }
  EXPECT_EQ(s.failure().code(), StatusCode::kChecksumMismatch);
  EXPECT_NE(s.failure().message().find("shard 0 failed verification 2 times"), std::string::npos);
}

TEST(ShardSchedulerTest, InvalidInputStartsFailed) {
  ShardSchedulerOptions o = Options();
  o.piece_size = 0;
  EXPECT_EQ(ShardScheduler({kMiB}, o).failure().code(), StatusCode::kInvalidParams);
  EXPECT_EQ(ShardScheduler({kMiB, 0}, Options()).failure().code(), StatusCode::kInvalidParams);
}

TEST(ShardSchedulerTest, ReportsForUnknownPiecesAreIgnored) {
  ShardScheduler s({kMiB}, Options());
  EXPECT_EQ(s.PieceDone(5), std::nullopt);
  s.PieceFailed(5);
  EXPECT_EQ(s.PieceDone(0), std::nullopt);  // not in flight
  EXPECT_TRUE(s.failure().ok());
  EXPECT_TRUE(s.excluded().empty());
}

}  // namespace
}  // namespace mooncake::p2p
