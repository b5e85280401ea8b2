#pragma once

// A store in the test's own process for ClientImpl unit tests: the master's real core behind an
// InProcessMaster (time from a FakeClock), storage nodes as regions of a MemoryFabric, and
// clients on MemoryTransferEngines over that fabric. No process, socket, thread or sleep: a
// test kills a node by making its engine unreachable, and the master forgets it only when the
// test says so (as when its heartbeats stop), so stale and failed reads happen on cue.
//
// Header-only: for the client's unit tests (client_*_test.cc) alone.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "client/client_impl.h"
#include "master/service/in_process_master.h"
#include "testing/fake_clock.h"
#include "testing/memory_transfer_engine.h"

namespace mooncake::store {

class InProcessStore {
 public:
  static constexpr uint64_t kSegmentSize = uint64_t{1} << 20;

  // `object_tier`: what the master hands clients in Ping (default: none).
  explicit InProcessStore(ObjectTierConfig object_tier = {}) {
    master_ =
        master::InProcessMaster::Create(master::MasterCoreOptions{}, clock_, std::move(object_tier))
            .value();
  }

  // Mounts a segment of node `node` on `medium`, served by the node's engine "<node>:1": the
  // segment's name too for memory, "<node>:1/ssd" for SSD (as a node names its file segment).
  void AddNode(const std::string& node, Medium medium = Medium::kDram) {
    const std::string engine = EngineOf(node);
    const std::string name = medium == Medium::kSsd ? engine + "/ssd" : engine;
    const uint64_t base = next_base_;
    next_base_ += uint64_t{1} << 32;
    segments_[name] = Segment{base, fabric_.AddRegion(engine, base, kSegmentSize)};
    const Status mounted = master_->WithCore([&](master::MasterCore& core) {
      return core.Mount(SegmentSpec{name, node, 1, medium, base, kSegmentSize});
    });
    EXPECT_TRUE(mounted.ok()) << mounted.ToString();
  }
  // The node's process dies: every transfer to it fails. The master still lists its replicas
  // until ForgetNode.
  void KillNode(const std::string& node) { fabric_.SetReachable(EngineOf(node), false); }
  // The master stops listing the node (its heartbeats stopped): its replicas are dropped.
  void ForgetNode(const std::string& node) {
    master_->WithCore([&](master::MasterCore& core) { return core.UnmountNode(node); });
  }

  // A client of this store; `options` as ClientOptions (master_address is filled in).
  std::unique_ptr<ClientImpl> NewClient(ClientOptions options = DefaultOptions()) {
    options.master_address = "in-process";
    auto engine = std::make_unique<testing::MemoryTransferEngine>(
        fabric_, "client" + std::to_string(++clients_) + ":1");
    auto client = ClientImpl::Assemble(std::move(options), master_->Connect(), std::move(engine));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }
  static ClientOptions DefaultOptions() {
    ClientOptions options;
    options.local_buffer_size = 256 << 10;
    return options;
  }

  // The object as the master lists it now (grants a lease, as any lookup does).
  Result<master::ObjectView> Lookup(const std::string& key) {
    return master_->WithCore([&](master::MasterCore& core) { return core.GetReplicaList(key); });
  }
  // The bytes of `allocation` (a replica's, a copy task's) in its node's memory, for a test
  // to damage or copy.
  std::span<uint8_t> BytesOf(const Allocation& allocation) {
    const Segment& segment = segments_.at(allocation.segment);
    return segment.bytes.subspan(allocation.address - segment.base, allocation.length);
  }
  // Runs the copy tasks the master hands `node` (repairs, promotions), as its copy worker
  // would, and reports them done.
  void RunCopyTasks(const std::string& node) {
    master_->WithCore([&](master::MasterCore& core) {
      for (const CopyTask& task : core.TakeCopyTasks(node, 100)) {
        std::span<uint8_t> from = BytesOf(task.source);
        std::copy(from.begin(), from.end(), BytesOf(task.destination).begin());
        EXPECT_TRUE(core.CompleteRepair(task.task_id, node, Status::Ok()).ok());
      }
    });
  }

  master::InProcessMaster& master() { return *master_; }
  testing::MemoryFabric& fabric() { return fabric_; }
  testing::FakeClock& clock() { return clock_; }
  static std::string EngineOf(const std::string& node) { return node + ":1"; }

 private:
  struct Segment {
    uint64_t base = 0;
    std::span<uint8_t> bytes;
  };

  testing::FakeClock clock_;
  testing::MemoryFabric fabric_;
  std::unique_ptr<master::InProcessMaster> master_;
  uint64_t next_base_ = uint64_t{1} << 32;
  int clients_ = 0;
  std::map<std::string, Segment> segments_;  // by name
};

// `size` bytes of a pattern that differs per `seed`.
inline std::vector<uint8_t> TestValue(size_t size, uint8_t seed) {
  std::vector<uint8_t> value(size);
  for (size_t i = 0; i < size; ++i) value[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 8));
  return value;
}

}  // namespace mooncake::store
