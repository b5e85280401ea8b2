// The master's gRPC service end to end over loopback: a MasterServer in this process, real
// gRPC channels, MasterClient calls and raw stubs for envelopes a well-behaved client never
// sends (wrong protocol version, unknown enum values, garbage bytes).

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "master/client/master_client.h"
#include "master/codec/master_protocol.h"
#include "master/service/master_server.h"
#include "master/service/master_service_test_fixture.h"
#include "mooncake/proto/master.grpc.pb.h"
#include "testing/free_port.h"

namespace mooncake::master {
namespace {

using ::testing::HasSubstr;
namespace pb = ::mooncake::master::v1;

TEST_F(MasterServiceTest, PingReportsVersionAndIncarnation) {
  auto ping = client_->Ping();
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(ping->protocol_version, kMasterProtocolVersion);
  EXPECT_NE(ping->master_incarnation, 0u);
}

TEST_F(MasterServiceTest, CopyTasksTravelWithHeartbeatsAndWakeTheLongPoll) {
  for (const char* node : {"a", "b", "c"}) {
    SegmentSpec spec = Segment(std::string("seg-") + node, node);
    spec.track_manifest = true;
    ASSERT_TRUE(client_->MountSegment(spec).ok());
  }
  ReplicateConfig two;
  two.replica_num = 2;
  two.preferred_segments = {"seg-a", "seg-b"};
  ASSERT_TRUE(client_->PutStart("k", 4096, two).ok());
  ASSERT_TRUE(client_->PutEnd("k", 0xfeed).ok());
  ASSERT_TRUE(client_->UnmountSegment("seg-a", "a", 1).ok());

  // c's long poll answers as soon as the tick schedules the copy, not after its full wait.
  const auto asked = std::chrono::steady_clock::now();
  std::vector<CopyTask> tasks;
  uint64_t acked = 0;
  for (int beat = 0; beat < 10 && tasks.empty(); ++beat) {
    auto reply = client_->Heartbeat("c", 1, {{"seg-c", acked}}, {}, std::chrono::seconds(1));
    ASSERT_TRUE(reply.ok()) << reply.status().ToString();
    tasks = reply->copy_tasks;
  }
  const auto waited = std::chrono::steady_clock::now() - asked;
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_LT(waited, std::chrono::milliseconds(900)) << "the long poll was not woken by the task";
  const CopyTask& task = tasks[0];
  EXPECT_EQ(task.key, "k");
  EXPECT_EQ(task.checksum, 0xfeedu);
  EXPECT_EQ(task.size, 4096u);
  EXPECT_EQ(task.source.segment, "seg-b");
  EXPECT_EQ(task.destination.segment, "seg-c");
  EXPECT_GT(task.timeout.count(), 0);
  auto info = client_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects_below_replica_target, 1u);
  EXPECT_EQ(info->repairs_in_flight, 1u);

  // The report comes with a heartbeat; the new replica is readable and in c's manifest.
  auto reply = client_->Heartbeat("c", 1, {{"seg-c", acked}}, {{task.task_id, Status::Ok()}},
                                  std::chrono::seconds(1));
  ASSERT_TRUE(reply.ok()) << reply.status().ToString();
  ASSERT_EQ(reply->deltas.size(), 1u);
  ASSERT_EQ(reply->deltas[0].batch.changes.size(), 1u);
  EXPECT_EQ(reply->deltas[0].batch.changes[0].entry.key, "k");
  EXPECT_EQ(reply->deltas[0].batch.changes[0].entry.address, task.destination.address);
  auto list = client_->GetReplicaList("k");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->replicas.size(), 2u);
  info = client_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->objects_below_replica_target, 0u);
  EXPECT_EQ(info->repairs_in_flight, 0u);
  EXPECT_EQ(info->repairs.completed, 1u);
  // /metrics carries the counters.
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("mooncake_repairs_completed_total 1"));
  EXPECT_THAT(metrics->body, HasSubstr("mooncake_repairs_scheduled_total 1"));
}

TEST_F(MasterServiceTest, DrainCountsWhatOnlyTheNodeHoldsAndShowsOnTheSegment) {
  Mount("seg-a", "node-a");
  Mount("seg-b", "node-b");
  ReplicateConfig on_a;
  on_a.preferred_segments = {"seg-a"};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client_->PutStart("k" + std::to_string(i), 100, on_a).ok());
    ASSERT_TRUE(client_->PutEnd("k" + std::to_string(i), 1).ok());
  }
  auto remaining = client_->Drain("node-a", 1);
  ASSERT_TRUE(remaining.ok()) << remaining.status().ToString();
  EXPECT_EQ(*remaining, 3u);
  auto info = client_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  for (const SegmentInfo& s : info->segments) EXPECT_EQ(s.draining, s.name == "seg-a") << s.name;
  EXPECT_EQ(info->repairs_in_flight, 3u);  // scheduled by the Drain call itself
  EXPECT_EQ(client_->Drain("node-x", 1).status().code(), StatusCode::kClientNotFound);
  EXPECT_EQ(client_->Drain("node-a", 7).status().code(), StatusCode::kInvalidVersion);
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_THAT(page->body, HasSubstr("node-a (draining)"));
}

TEST_F(MasterServiceTest, TwoPhasePutThenGet) {
  Mount("seg-a", "node-a");
  auto start = client_->PutStart("k1", 4096, ReplicateConfig{});
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  ASSERT_EQ(start->replicas.size(), 1u);
  const ReplicaLocation& replica = start->replicas[0];
  EXPECT_FALSE(replica.complete);
  EXPECT_EQ(replica.node_id, "node-a");
  ASSERT_EQ(replica.slices.size(), 1u);
  EXPECT_EQ(replica.slices[0].segment, "seg-a");
  EXPECT_GE(replica.slices[0].address, kSegmentBase);
  EXPECT_LE(replica.slices[0].address + 4096, kSegmentBase + kSegmentSize);

  // Invisible until PutEnd.
  EXPECT_EQ(client_->GetReplicaList("k1").status().code(), StatusCode::kObjectNotFound);
  EXPECT_FALSE(client_->ExistKey("k1").value());

  ASSERT_TRUE(client_->PutEnd("k1", 0x1234).ok());
  auto got = client_->GetReplicaList("k1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size, 4096u);
  EXPECT_EQ(got->checksum, 0x1234u);
  EXPECT_EQ(got->version, start->version);
  ASSERT_EQ(got->replicas.size(), 1u);
  EXPECT_TRUE(got->replicas[0].complete);
  EXPECT_EQ(got->replicas[0].slices, replica.slices);
  EXPECT_GT(got->lease_ttl.count(), 0);
  EXPECT_LE(got->lease_ttl.count(), 5000);
  EXPECT_TRUE(client_->ExistKey("k1").value());
  EXPECT_EQ(client_->GetSize("k1").value(), 4096u);
}

TEST_F(MasterServiceTest, BatchesReportOneResultPerKeyInOrder) {
  Mount("seg-a", "node-a");
  Put("exists", 100);
  auto starts = client_->BatchPutStart(
      {{"new-1", 100}, {"exists", 100}, {"", 100}, {"huge", uint64_t{1} << 50}, {"new-2", 200}},
      ReplicateConfig{});
  ASSERT_TRUE(starts.ok()) << starts.status().ToString();
  ASSERT_EQ(starts->size(), 5u);
  EXPECT_TRUE((*starts)[0].ok());
  EXPECT_EQ((*starts)[1].status().code(), StatusCode::kObjectAlreadyExists);
  EXPECT_EQ((*starts)[2].status().code(), StatusCode::kInvalidKey);
  EXPECT_EQ((*starts)[3].status().code(), StatusCode::kInvalidParams);
  EXPECT_TRUE((*starts)[4].ok());

  auto ends = client_->BatchPutEnd({{"new-1", 1}, {"missing", 1}, {"new-2", 2}});
  ASSERT_TRUE(ends.ok());
  ASSERT_EQ(ends->size(), 3u);
  EXPECT_TRUE((*ends)[0].ok());
  EXPECT_EQ((*ends)[1].code(), StatusCode::kObjectNotFound);
  EXPECT_TRUE((*ends)[2].ok());

  auto gets = client_->BatchGetReplicaList({"new-2", "missing", "new-1"});
  ASSERT_TRUE(gets.ok());
  ASSERT_EQ(gets->size(), 3u);
  EXPECT_EQ((*gets)[0]->size, 200u);
  EXPECT_EQ((*gets)[1].status().code(), StatusCode::kObjectNotFound);
  EXPECT_EQ((*gets)[2]->size, 100u);

  auto sizes = client_->BatchGetSize({"new-1", "missing"});
  ASSERT_TRUE(sizes.ok());
  EXPECT_EQ(*(*sizes)[0], 100u);
  EXPECT_EQ((*sizes)[1].status().code(), StatusCode::kObjectNotFound);
}

TEST_F(MasterServiceTest, UpsertReplacesAndPutDoesNot) {
  Mount("seg-a", "node-a");
  Put("k", 100);
  EXPECT_EQ(client_->PutStart("k", 300, ReplicateConfig{}).status().code(),
            StatusCode::kObjectAlreadyExists);
  auto upsert = client_->PutStart("k", 300, ReplicateConfig{}, PutMode::kUpsert);
  ASSERT_TRUE(upsert.ok()) << upsert.status().ToString();
  EXPECT_EQ(client_->GetSize("k").value(), 100u);  // old version until PutEnd
  ASSERT_TRUE(client_->PutEnd("k", 7).ok());
  EXPECT_EQ(client_->GetSize("k").value(), 300u);
}

TEST_F(MasterServiceTest, LeasesGuardRemovalUnlessForced) {
  Mount("seg-a", "node-a");
  Put("leased", 10);
  ASSERT_TRUE(client_->GetReplicaList("leased").ok());
  EXPECT_EQ(client_->Remove("leased", RemoveMode::kNormal).code(), StatusCode::kObjectHasLease);
  EXPECT_TRUE(client_->ExistKey("leased").value());
  EXPECT_TRUE(client_->Remove("leased", RemoveMode::kForce).ok());
  EXPECT_FALSE(client_->ExistKey("leased").value());

  Put("a-1", 10);
  Put("a-2", 10);
  Put("b-1", 10);
  EXPECT_EQ(client_->RemoveByRegex("^a-", RemoveMode::kNormal).value(), 2u);
  EXPECT_EQ(client_->RemoveAll(RemoveMode::kNormal).value(), 1u);
  EXPECT_EQ(client_->GetClusterInfo().value().objects, 0u);
}

TEST_F(MasterServiceTest, UnmountWithLeasedObjectsDropsThem) {
  Mount("seg-a", "node-a");
  Put("k", 10);
  ASSERT_TRUE(client_->GetReplicaList("k").ok());  // leased
  // The segment's memory is going away whatever readers hold: unmount wins, the object goes.
  EXPECT_TRUE(client_->UnmountSegment("seg-a", "node-a", 1).ok());
  EXPECT_EQ(client_->GetReplicaList("k").status().code(), StatusCode::kObjectNotFound);
}

TEST_F(MasterServiceTest, ReplicasLandOnDistinctNodes) {
  Mount("seg-a", "node-a");
  Mount("seg-b", "node-b");
  ReplicateConfig two;
  two.replica_num = 2;
  auto start = client_->PutStart("k", 1000, two);
  ASSERT_TRUE(start.ok());
  ASSERT_EQ(start->replicas.size(), 2u);
  EXPECT_NE(start->replicas[0].node_id, start->replicas[1].node_id);
  ReplicateConfig three;
  three.replica_num = 3;
  auto short_put = client_->PutStart("k3", 1000, three);
  ASSERT_TRUE(short_put.ok());
  EXPECT_EQ(short_put->replicas.size(), 2u);
  EXPECT_EQ(short_put->replicas_short, 1);
}

TEST_F(MasterServiceTest, ConcurrentClientsAllSucceed) {
  Mount("seg-a", "node-a");
  Mount("seg-b", "node-b");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = NewClient();
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!client->PutStart(key, 4096, ReplicateConfig{}).ok() ||
            !client->PutEnd(key, static_cast<uint32_t>(i)).ok() ||
            client->GetReplicaList(key).value().checksum != static_cast<uint32_t>(i)) {
          failures.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(client_->GetClusterInfo().value().objects, uint64_t{kThreads * kPerThread});
}

TEST_F(MasterServiceTest, ListKeysPagesVisibleKeysAndClusterInfoCountsLookups) {
  Mount("seg-a", "node-a");
  for (const char* key : {"job/3", "job/1", "other", "job/2"}) Put(key, 64);
  ASSERT_TRUE(client_->PutStart("job/pending", 64, ReplicateConfig{}).ok());  // invisible

  auto page = client_->ListKeys("job/", 2);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->keys, (std::vector<std::string>{"job/1", "job/2"}));
  EXPECT_TRUE(page->truncated);
  auto rest = client_->ListKeys("job/", 0, page->keys.back());
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->keys, (std::vector<std::string>{"job/3"}));
  EXPECT_FALSE(rest->truncated);
  EXPECT_EQ(client_->ListKeys("", 0)->keys.size(), 4u);
  EXPECT_EQ(client_->ListKeys("", kMaxBatchItems + 1).status().code(), StatusCode::kInvalidParams);

  ASSERT_TRUE(client_->GetReplicaList("job/1").ok());
  ASSERT_FALSE(client_->GetReplicaList("job/missing").ok());
  auto info = client_->GetClusterInfo();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->lookups_hit, 1u);
  EXPECT_EQ(info->lookups_miss, 1u);
}

TEST_F(MasterServiceTest, MetricsHealthAndStatusPage) {
  Mount("seg-metrics", "node-a");
  Put("k", 4096);
  ASSERT_TRUE(client_->GetReplicaList("k").ok());
  ASSERT_FALSE(client_->GetReplicaList("missing").ok());
  ASSERT_FALSE(client_->PutStart("", 1, ReplicateConfig{}).ok());

  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto health = http.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const std::string& text = metrics->body;
  EXPECT_THAT(text, HasSubstr("mooncake_master_rpc_requests_total{rpc=\"put_start\"} 2"));
  EXPECT_THAT(text, HasSubstr("mooncake_master_lookups_total{result=\"hit\"} 1"));
  EXPECT_THAT(text, HasSubstr("mooncake_master_lookups_total{result=\"miss\"} 1"));
  EXPECT_THAT(text, HasSubstr("code=\"INVALID_KEY\""));
  EXPECT_THAT(text, HasSubstr("mooncake_master_segment_bytes{kind=\"used\",medium=\"DRAM\","
                              "node=\"node-a\",segment=\"seg-metrics\"} 4096"));
  EXPECT_THAT(text, HasSubstr("mooncake_master_state{what=\"objects\"} 1"));
  EXPECT_THAT(text, HasSubstr("mooncake_master_rpc_latency_seconds_bucket"));
  EXPECT_THAT(text, HasSubstr("mooncake_master_lock_hold_seconds_count"));
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes "));
  // The integrity totals are there before any report.
  EXPECT_THAT(text, HasSubstr("mooncake_master_corrupt_reports_total 0"));
  EXPECT_THAT(text, HasSubstr("mooncake_master_objects_lost_to_corruption_total 0"));
  EXPECT_THAT(text, HasSubstr("# TYPE mooncake_master_corrupt_replicas_dropped_total"));

  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->body, HasSubstr("seg-metrics"));
  EXPECT_THAT(page->body, HasSubstr("INVALID_KEY"));
  EXPECT_THAT(page->body, HasSubstr("<h2>Integrity</h2>"));
}

}  // namespace
}  // namespace mooncake::master
