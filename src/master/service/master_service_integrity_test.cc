// ReportCorruptReplicas end to end over loopback: a MasterServer in this process, a
// MasterClient reporting replicas it found corrupt, and the counters in GetClusterInfo,
// /metrics and the status page.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>
#include <vector>

#include "master/client/master_client.h"
#include "master/codec/master_protocol.h"
#include "master/service/master_server.h"
#include "master/service/master_service_test_fixture.h"

namespace mooncake::master {
namespace {

using ::testing::HasSubstr;

// The loopback fixture (master_service_test_fixture.h) with three nodes mounted.
class MasterServiceIntegrityTest : public MasterServiceTest {
 protected:
  void SetUp() override {
    MasterServiceTest::SetUp();
    for (const char* node : {"node-a", "node-b", "node-c"}) {
      Mount(std::string("seg-") + node, node);
    }
  }

  // Puts `key` with a replica on each of `segments` and returns its replica list.
  ReplicaListReply Put(const std::string& key, const std::vector<std::string>& segments) {
    ReplicateConfig config;
    config.replica_num = static_cast<int>(segments.size());
    config.preferred_segments = segments;
    EXPECT_TRUE(client_->PutStart(key, 4096, config).ok());
    EXPECT_TRUE(client_->PutEnd(key, 0xabcd).ok());
    auto list = client_->GetReplicaList(key);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : ReplicaListReply{};
  }
  // The report naming `key`'s replica on `node` in `list`.
  static CorruptReplicaReport ReportOf(const std::string& key, const ReplicaListReply& list,
                                       const std::string& node) {
    for (const ReplicaLocation& r : list.replicas) {
      if (r.node_id == node) return {key, list.version, r.slices[0].segment, r.slices[0].address};
    }
    ADD_FAILURE() << "no replica of " << key << " on " << node;
    return {};
  }
  std::string Get(const std::string& path) {
    httplib::Client http("127.0.0.1", server_->metrics_port());
    auto reply = http.Get(path);
    EXPECT_TRUE(reply);
    return reply ? reply->body : "";
  }
};

TEST_F(MasterServiceIntegrityTest, ReportDropsTheReplicaAndTheCountersShowIt) {
  const ReplicaListReply list = Put("k", {"seg-node-a", "seg-node-b"});
  const CorruptReplicaReport bad = ReportOf("k", list, "node-a");
  CorruptReplicaReport stale = ReportOf("k", list, "node-b");
  ++stale.version;
  auto statuses = client_->ReportCorruptReplicas(
      {bad, bad, stale, CorruptReplicaReport{"missing", 1, bad.segment, bad.address}});
  ASSERT_TRUE(statuses.ok()) << statuses.status().ToString();
  ASSERT_EQ(statuses->size(), 4u);
  EXPECT_TRUE((*statuses)[0].ok()) << (*statuses)[0].ToString();
  EXPECT_EQ((*statuses)[1].code(), StatusCode::kInvalidReplica);  // already dropped
  EXPECT_EQ((*statuses)[2].code(), StatusCode::kInvalidVersion);
  EXPECT_EQ((*statuses)[3].code(), StatusCode::kObjectNotFound);

  auto after = client_->GetReplicaList("k");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  ASSERT_EQ(after->replicas.size(), 1u);
  EXPECT_EQ(after->replicas[0].node_id, "node-b");

  auto info = client_->GetClusterInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->integrity.corrupt_reports, 1u);
  EXPECT_EQ(info->integrity.corrupt_replicas_dropped, 1u);
  EXPECT_EQ(info->integrity.objects_lost_to_corruption, 0u);
  ASSERT_EQ(info->integrity.per_node.size(), 1u);
  EXPECT_EQ(info->integrity.per_node[0].node, "node-a");
  EXPECT_EQ(info->integrity.per_node[0].medium, Medium::kDram);
  EXPECT_EQ(info->integrity.per_node[0].detected, 1u);
  EXPECT_EQ(info->integrity.per_node[0].dropped, 1u);
  EXPECT_EQ(info->objects_below_replica_target, 1u);  // until a copy lands

  const std::string metrics = Get("/metrics");
  EXPECT_THAT(metrics, HasSubstr("mooncake_master_corrupt_reports_total 1"));
  EXPECT_THAT(metrics, HasSubstr("mooncake_master_objects_lost_to_corruption_total 0"));
  EXPECT_THAT(metrics, HasSubstr("mooncake_master_corrupt_replicas_detected_total{medium=\"DRAM\","
                                 "node=\"node-a\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("mooncake_master_corrupt_replicas_dropped_total{medium=\"DRAM\","
                                 "node=\"node-a\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("mooncake_master_rpc_requests_total{rpc=\"report_corrupt_"
                                 "replicas\"} 1"));
  EXPECT_THAT(metrics, HasSubstr("mooncake_master_item_errors_total{code=\"INVALID_REPLICA\","
                                 "rpc=\"report_corrupt_replicas\"} 1"));
  const std::string page = Get("/");
  EXPECT_THAT(page, HasSubstr("<tr><td>corrupt_reports</td><td class=\"num\">1</td></tr>"));
  EXPECT_THAT(page, HasSubstr("<tr><td>node-a</td><td>DRAM</td><td class=\"num\">1</td>"));
}

TEST_F(MasterServiceIntegrityTest, LastCorruptReplicaTakesTheObject) {
  const ReplicaListReply list = Put("k", {"seg-node-c"});
  auto statuses = client_->ReportCorruptReplicas({ReportOf("k", list, "node-c")});
  ASSERT_TRUE(statuses.ok()) << statuses.status().ToString();
  ASSERT_EQ(statuses->size(), 1u);
  EXPECT_TRUE((*statuses)[0].ok()) << (*statuses)[0].ToString();
  EXPECT_EQ(client_->GetReplicaList("k").status().code(), StatusCode::kObjectNotFound);
  auto info = client_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects, 0u);
  EXPECT_EQ(info->integrity.objects_lost_to_corruption, 1u);
  EXPECT_THAT(Get("/metrics"), HasSubstr("mooncake_master_objects_lost_to_corruption_total 1"));
}

TEST_F(MasterServiceIntegrityTest, OversizedBatchIsRefusedAsAWhole) {
  const ReplicaListReply list = Put("k", {"seg-node-a"});
  std::vector<CorruptReplicaReport> reports(kMaxBatchItems + 1, ReportOf("k", list, "node-a"));
  EXPECT_EQ(client_->ReportCorruptReplicas(reports).status().code(), StatusCode::kInvalidParams);
  EXPECT_TRUE(client_->GetReplicaList("k").ok());
  EXPECT_EQ(client_->GetClusterInfo()->integrity.corrupt_reports, 0u);
}

}  // namespace
}  // namespace mooncake::master
