#include "master/codec/proto_convert.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>

namespace mooncake::master {
namespace {

using std::chrono::milliseconds;

TEST(ProtoConvertTest, CopyTaskRoundTripsEveryFieldButTheDestinationNode) {
  CopyTask task;
  task.task_id = 42;
  task.key = "k";
  task.version = 7;
  task.size = 4096;
  task.checksum = 0xdeadbeef;
  task.source = {"node-a:1", 0x1000, 4096};
  task.destination = {"node-b:2/ssd", 0x2000, 4096};
  task.destination_node = "node-b";
  task.timeout = milliseconds(1500);
  pb::CopyTask message;
  ToProto(task, &message);
  const CopyTask back = FromProto(message);
  EXPECT_EQ(back.task_id, 42u);
  EXPECT_EQ(back.key, "k");
  EXPECT_EQ(back.version, 7u);
  EXPECT_EQ(back.size, 4096u);
  EXPECT_EQ(back.checksum, 0xdeadbeefu);
  EXPECT_EQ(back.source, task.source);
  EXPECT_EQ(back.destination, task.destination);
  EXPECT_EQ(back.timeout, milliseconds(1500));
  EXPECT_EQ(back.destination_node, "") << "the task goes to that node: it does not travel";
}

TEST(ProtoConvertTest, UploadTaskRoundTripsItsFlags) {
  UploadTask task;
  task.task_id = 9;
  task.key = "obj";
  task.version = 3;
  task.size = 10;
  task.checksum = 5;
  task.source = {"n:1", 64, 10};
  task.check_first = true;
  task.remove_only = true;
  task.timeout = milliseconds(20);
  pb::UploadTask message;
  ToProto(task, &message);
  const UploadTask back = FromProto(message);
  EXPECT_EQ(back.task_id, 9u);
  EXPECT_EQ(back.key, "obj");
  EXPECT_EQ(back.version, 3u);
  EXPECT_EQ(back.size, 10u);
  EXPECT_EQ(back.checksum, 5u);
  EXPECT_EQ(back.source, task.source);
  EXPECT_TRUE(back.check_first);
  EXPECT_TRUE(back.remove_only);
  EXPECT_EQ(back.timeout, milliseconds(20));
}

TEST(ProtoConvertTest, TaskTimeoutsAreNeverNegativeNorBeyondADay) {
  CopyTask task;
  task.timeout = milliseconds(-5);
  pb::CopyTask message;
  ToProto(task, &message);
  EXPECT_EQ(message.timeout_ms(), 0u);
  message.set_timeout_ms(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(FromProto(message).timeout, milliseconds(24 * 3600 * 1000));
}

TEST(ProtoConvertTest, ReplicateConfigRoundTripsAndRefusesBadValues) {
  ReplicateConfig config;
  config.replica_num = 3;
  config.preferred_segments = {"a", "b"};
  config.medium = Medium::kSsd;
  config.with_hard_pin = true;
  config.soft_pin_ttl = milliseconds(250);
  config.from_object_store = true;
  pb::ReplicateConfig message;
  ToProto(config, &message);
  auto back = FromProto(message);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->replica_num, 3);
  EXPECT_EQ(back->preferred_segments, config.preferred_segments);
  EXPECT_EQ(back->medium, Medium::kSsd);
  EXPECT_TRUE(back->with_hard_pin);
  EXPECT_EQ(back->soft_pin_ttl, milliseconds(250));
  EXPECT_TRUE(back->from_object_store);

  message.set_replica_num(0);  // older clients send 0 for "default"
  EXPECT_EQ(FromProto(message)->replica_num, 1);
  message.set_replica_num(-1);
  EXPECT_EQ(FromProto(message).status().code(), StatusCode::kInvalidParams);
  message.set_replica_num(1);
  message.set_medium(static_cast<pb::Medium>(77));  // a newer peer's medium
  EXPECT_EQ(FromProto(message).status().code(), StatusCode::kInvalidParams);
}

TEST(ProtoConvertTest, SegmentSpecWithAnUnknownMediumIsRefusedNamingTheSegment) {
  SegmentSpec spec{"seg", "node", 4, Medium::kDram, 0x1000, 1 << 20, true};
  pb::SegmentSpec message;
  ToProto(spec, &message);
  auto back = FromProto(message);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->name, "seg");
  EXPECT_EQ(back->epoch, 4u);
  EXPECT_TRUE(back->track_manifest);
  message.set_medium(static_cast<pb::Medium>(77));
  auto refused = FromProto(message);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidParams);
  EXPECT_NE(refused.status().message().find("seg"), std::string::npos);
}

TEST(ProtoConvertTest, ReplicaKeepsItsSlicesInOrderAndReadsAnUnknownMediumAsDram) {
  const Allocation slices[] = {{"s1", 10, 5}, {"s2", 20, 6}};
  pb::Replica message;
  ToProto(Medium::kSsd, "node-1", /*complete=*/true, slices, &message);
  ReplicaLocation back = FromProto(message);
  EXPECT_EQ(back.medium, Medium::kSsd);
  EXPECT_EQ(back.node_id, "node-1");
  EXPECT_TRUE(back.complete);
  ASSERT_EQ(back.slices.size(), 2u);
  EXPECT_EQ(back.slices[0], slices[0]);
  EXPECT_EQ(back.slices[1], slices[1]);
  message.set_medium(static_cast<pb::Medium>(77));
  message.set_status(pb::REPLICA_PROCESSING);
  back = FromProto(message);
  EXPECT_EQ(back.medium, Medium::kDram);
  EXPECT_FALSE(back.complete);
}

TEST(ProtoConvertTest, ClusterInfoRoundTripsItsCounters) {
  ClusterInfo info;
  SegmentInfo segment;
  segment.name = "n:1";
  segment.node_id = "n";
  segment.epoch = 2;
  segment.medium = Medium::kSsd;
  segment.capacity = 100;
  segment.used = 40;
  segment.draining = true;
  info.segments = {segment};
  info.objects = 11;
  info.objects_below_replica_target = 1;
  info.lookups_hit = 30;
  info.lookups_miss = 4;
  info.manifest_backlog = 2;
  info.repairs_in_flight = 3;
  info.repairs = {5, 4, 1, 2, 6, 0};
  info.tier.ssd_puts = 1;
  info.tier.demotions_completed = 2;
  info.tier.promotions_failed = 3;
  info.tier.dram_hits = 20;
  info.tier.ssd_hits = 10;
  info.tier.object_read_throughs = 4;
  info.tier.upload_backlog_bytes = 4096;
  info.tier.uploads_in_flight = 1;
  info.object_store_policy = "write-back";
  info.integrity.corrupt_reports = 3;
  info.integrity.corrupt_replicas_dropped = 2;
  info.integrity.objects_lost_to_corruption = 1;
  info.integrity.At("n", Medium::kSsd) = {"n", Medium::kSsd, 2, 1};
  info.integrity.At("m", Medium::kDram) = {"m", Medium::kDram, 1, 1};
  pb::GetClusterInfoResponse message;
  ToProto(info, &message);
  const ClusterInfo back = FromProto(message);
  ASSERT_EQ(back.segments.size(), 1u);
  EXPECT_EQ(back.segments[0].name, "n:1");
  EXPECT_EQ(back.segments[0].medium, Medium::kSsd);
  EXPECT_EQ(back.segments[0].used, 40u);
  EXPECT_TRUE(back.segments[0].draining);
  EXPECT_EQ(back.objects, 11u);
  EXPECT_EQ(back.lookups_hit, 30u);
  EXPECT_EQ(back.lookups_miss, 4u);
  EXPECT_EQ(back.repairs.scheduled, 5u);
  EXPECT_EQ(back.repairs.cancelled, 6u);
  EXPECT_EQ(back.tier.demotions_completed, 2u);
  EXPECT_EQ(back.tier.promotions_failed, 3u);
  EXPECT_EQ(back.tier.dram_hits, 20u);
  EXPECT_EQ(back.tier.ssd_hits, 10u);
  EXPECT_EQ(back.tier.object_read_throughs, 4u);
  EXPECT_EQ(back.tier.upload_backlog_bytes, 4096u);
  EXPECT_EQ(back.tier.uploads_in_flight, 1u);
  EXPECT_EQ(back.object_store_policy, "write-back");
  EXPECT_EQ(back.integrity.corrupt_reports, 3u);
  EXPECT_EQ(back.integrity.corrupt_replicas_dropped, 2u);
  EXPECT_EQ(back.integrity.objects_lost_to_corruption, 1u);
  ASSERT_EQ(back.integrity.per_node.size(), 2u);
  EXPECT_EQ(back.integrity.per_node[0].node, "m");
  EXPECT_EQ(back.integrity.per_node[0].medium, Medium::kDram);
  EXPECT_EQ(back.integrity.per_node[1].node, "n");
  EXPECT_EQ(back.integrity.per_node[1].medium, Medium::kSsd);
  EXPECT_EQ(back.integrity.per_node[1].detected, 2u);
  EXPECT_EQ(back.integrity.per_node[1].dropped, 1u);
}

TEST(ProtoConvertTest, AStatusCodeThisBuildDoesNotKnowIsKept) {
  pb::Status message;
  message.set_code(-4242);
  message.set_message("from the future");
  const Status status = FromProto(message);
  EXPECT_EQ(status.raw_code(), -4242);
  EXPECT_EQ(status.message(), "from the future");
  pb::Status ok;
  ToProto(Status::Ok(), &ok);
  EXPECT_EQ(ok.code(), 0);
  EXPECT_TRUE(FromProto(ok).ok());
}

}  // namespace
}  // namespace mooncake::master
