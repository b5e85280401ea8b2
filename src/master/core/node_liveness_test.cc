// NodeLiveness on its own: seen times, who is dead at a given instant, the expiry list, and
// the invariant against the pool's mounted nodes.
#include "master/core/node_liveness.h"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;

TEST(NodeLivenessTest, ANodeIsDeadOnceTtlPassesSinceItWasLastSeen) {
  NodeLiveness liveness;
  const TimePoint t0{};
  liveness.Seen("a", t0);
  liveness.Seen("b", t0 + milliseconds(500));
  EXPECT_TRUE(liveness.CollectDead(t0 + milliseconds(999), milliseconds(1000)).empty());
  EXPECT_EQ(liveness.CollectDead(t0 + milliseconds(1000), milliseconds(1000)),
            std::vector<NodeId>{"a"});
  // A heartbeat moves the deadline; collecting changes nothing by itself.
  liveness.Seen("a", t0 + milliseconds(900));
  EXPECT_TRUE(liveness.CollectDead(t0 + milliseconds(1000), milliseconds(1000)).empty());
  EXPECT_EQ(liveness.CollectDead(t0 + milliseconds(1900), milliseconds(1000)),
            (std::vector<NodeId>{"a", "b"}));
}

TEST(NodeLivenessTest, ExpiredNodesAreHandedOutOnceInOrder) {
  NodeLiveness liveness;
  liveness.Seen("a", TimePoint{});
  liveness.Forget("a");
  EXPECT_FALSE(liveness.Tracked("a"));
  liveness.RecordExpired("z");
  liveness.RecordExpired("a");
  EXPECT_EQ(liveness.TakeExpired(), (std::vector<NodeId>{"z", "a"}));
  EXPECT_TRUE(liveness.TakeExpired().empty());
}

TEST(NodeLivenessTest, EveryMountedNodeMustBeTracked) {
  NodeLiveness liveness;
  liveness.Seen("a", TimePoint{});
  EXPECT_TRUE(liveness.CheckInvariants({"a"}).ok());
  // Tracked without segments is allowed (it unmounted its last one and has not expired).
  EXPECT_TRUE(liveness.CheckInvariants({}).ok());
  const Status broken = liveness.CheckInvariants({"a", "b"});
  EXPECT_EQ(broken.code(), StatusCode::kInternalError);
  EXPECT_NE(broken.message().find("'b'"), std::string::npos) << broken.ToString();
}

}  // namespace
}  // namespace mooncake::master
