// StorageNode::Create that fails part-way leaves a borrowed Transfer Engine (a client's own,
// which lives on) as it found it: the segment's memory no longer published to peers, the SSD
// file segment unregistered.

#include "node/storage_node.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "mooncake/transfer/transfer_engine.h"
#include "testing/temp_dir.h"

namespace mooncake::node {
namespace {

std::unique_ptr<transfer::TransferEngine> NewEngine() {
  transfer::TransferEngineOptions options;
  options.local_server_name = "127.0.0.1:0";
  options.protocol = "tcp";
  auto engine = transfer::TransferEngine::Create(options);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(*engine) : nullptr;
}

// How many buffers `engine` publishes, as a peer that never saw it before fetches them.
size_t PublishedBuffers(transfer::TransferEngine& engine) {
  auto peer = NewEngine();
  if (peer == nullptr) return 0;
  auto segment = peer->OpenSegment(engine.local_server_name());
  EXPECT_TRUE(segment.ok()) << segment.status().ToString();
  if (!segment.ok()) return 0;
  auto descriptor = peer->GetSegmentDescriptor(*segment);
  EXPECT_TRUE(descriptor.ok()) << descriptor.status().ToString();
  return descriptor.ok() ? descriptor->buffers.size() : 0;
}

TEST(StorageNodeCreateTest, AFailedMountGivesABorrowedEngineItsMemoryAndFileSegmentBack) {
  auto dir = testing::TempDir::Create("storage_node_test");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  auto engine = NewEngine();
  ASSERT_NE(engine, nullptr);
  const size_t before = PublishedBuffers(*engine);

  StorageNodeOptions options;
  // Nothing listens there: Create gets as far as mounting (segment allocated, SSD file
  // registered, copier and uploader started) and fails there.
  options.master_address = "127.0.0.1:1";
  options.rpc_timeout = std::chrono::milliseconds(300);
  options.listen = engine->local_server_name();
  options.engine = engine.get();
  options.segment_size = uint64_t{4} << 20;
  options.ssd_path = dir->File("node.ssd");
  options.ssd_size = uint64_t{4} << 20;
  auto node = StorageNode::Create(options);
  ASSERT_FALSE(node.ok()) << "no master to mount in";
  ASSERT_EQ(node.status().code(), StatusCode::kRpcTimeout)
      << "Create must fail at the mount, after everything else: " << node.status().ToString();
  EXPECT_EQ(PublishedBuffers(*engine), before)
      << "the failed node's segment is still allocated and published by the borrowed engine";
  auto ssd = engine->RegisterFileSegment("ssd", dir->File("other.ssd"), uint64_t{4} << 20);
  EXPECT_TRUE(ssd.ok()) << "the failed node's SSD file segment is still registered: "
                        << ssd.status().ToString();
}

}  // namespace
}  // namespace mooncake::node
