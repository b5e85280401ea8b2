#include "transfer/slice_router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

// A transport that takes (and completes) the slices it is told to, or hands them back.
class FakeTransport final : public Transport {
 public:
  std::vector<EndpointDescriptor> endpoints() const override { return {}; }
  Status Connect(const SegmentDescriptor& target) override {
    ++connects;
    return connect_result;
  }
  Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) override {
    submitted += slices.size();
    if (!take) return refusal;
    for (Slice& slice : slices) slice.task->SliceSucceeded(slice.length);
    slices.clear();
    return Status::Ok();
  }
  void Disconnect(const std::string& segment_name) override {
    disconnected.push_back(segment_name);
  }

  bool take = true;
  Status refusal = Status(StatusCode::kTransferFail, "refused");
  Status connect_result;
  size_t submitted = 0;
  int connects = 0;
  std::vector<std::string> disconnected;
};

class SliceRouterTest : public ::testing::Test {
 protected:
  SliceRouter Router(Protocol protocol) {
    LocalTransports local;
    local.protocol = protocol;
    local.host_id = "host-1";
    local.shm = true;
    return SliceRouter(local, {&tcp_, &shm_, nullptr, &files_}, "self:1", 7);
  }

  // `n` one-slice tasks of one batch, as the engine would cut them.
  std::vector<Slice> Slices(size_t n) {
    batch_ = std::make_shared<Batch>(n);
    EXPECT_TRUE(batch_->ReserveTasks(n).ok());
    std::vector<Slice> slices(n);
    for (size_t i = 0; i < n; ++i) {
      batch_->task(i).Start(1);
      slices[i].length = 100;
      slices[i].batch = batch_;
      slices[i].task = &batch_->task(i);
    }
    return slices;
  }

  TransferStatus Task(size_t i) { return batch_->task(i).Snapshot(); }

  static SegmentDescriptor SameHostPeer() {
    SegmentDescriptor d;
    d.name = "peer:2";
    d.host_id = "host-1";
    d.shm_endpoint = "@mc-shm-peer";
    d.incarnation = 9;
    return d;
  }

  FakeTransport tcp_, shm_, files_;
  std::shared_ptr<Batch> batch_;
};

TEST_F(SliceRouterTest, WhatSharedMemoryHandsBackGoesToTcpUnderAuto) {
  SliceRouter router = Router(Protocol::kAuto);
  ASSERT_EQ(router.RouteFor(SameHostPeer()).value(), Route::kShm);
  shm_.take = false;
  std::vector<Slice> slices = Slices(3);
  EXPECT_TRUE(router.DispatchMemory(SameHostPeer(), Route::kShm, slices).ok());
  EXPECT_TRUE(slices.empty());
  EXPECT_EQ(shm_.submitted, 3u);
  EXPECT_EQ(tcp_.submitted, 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(Task(i).state, TransferState::kCompleted);
}

TEST_F(SliceRouterTest, WhatSharedMemoryHandsBackFailsUnderProtocolShm) {
  SliceRouter router = Router(Protocol::kShm);
  shm_.take = false;
  std::vector<Slice> slices = Slices(2);
  EXPECT_TRUE(router.DispatchMemory(SameHostPeer(), Route::kShm, slices).ok());
  EXPECT_EQ(tcp_.submitted, 0u) << "protocol shm never falls back to TCP";
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(Task(i).state, TransferState::kFailed);
    EXPECT_THAT(Task(i).error.message(), HasSubstr("protocol shm"));
  }
}

TEST_F(SliceRouterTest, ATcpRefusalFailsItsSlicesAndIsTheCallsError) {
  SliceRouter router = Router(Protocol::kTcp);
  tcp_.take = false;
  std::vector<Slice> slices = Slices(2);
  Status dispatched = router.DispatchMemory(SameHostPeer(), Route::kTcp, slices);
  EXPECT_EQ(dispatched.code(), StatusCode::kTransferFail);
  EXPECT_TRUE(slices.empty());
  EXPECT_EQ(Task(0).state, TransferState::kFailed);
  EXPECT_EQ(Task(1).state, TransferState::kFailed);
}

TEST_F(SliceRouterTest, OwnFileSlicesStayLocalAndOthersGoOverTcp) {
  SliceRouter router = Router(Protocol::kAuto);
  SegmentDescriptor self;
  self.name = "self:1";
  self.incarnation = 7;
  std::vector<Slice> own = Slices(2);
  EXPECT_TRUE(router.DispatchFile(self, own).ok());
  EXPECT_EQ(files_.submitted, 2u);
  EXPECT_EQ(tcp_.submitted, 0u);
  // The same name from another incarnation (a restarted engine) is not us.
  self.incarnation = 8;
  std::vector<Slice> other = Slices(1);
  EXPECT_TRUE(router.DispatchFile(self, other).ok());
  EXPECT_EQ(files_.submitted, 2u);
  EXPECT_EQ(tcp_.submitted, 1u);
  EXPECT_EQ(shm_.submitted, 0u) << "shared memory reaches memory only";
}

TEST_F(SliceRouterTest, ConnectFallsBackToTcpOnlyUnderAuto) {
  shm_.connect_result = Status(StatusCode::kInvalidParams, "another user's memory");
  EXPECT_TRUE(Router(Protocol::kAuto).Connect(SameHostPeer()).ok());
  EXPECT_EQ(tcp_.connects, 1);
  EXPECT_EQ(Router(Protocol::kShm).Connect(SameHostPeer()).code(), StatusCode::kInvalidParams);
  EXPECT_EQ(tcp_.connects, 1);
}

TEST_F(SliceRouterTest, ARouteTheProtocolCannotTakeIsRefused) {
  SegmentDescriptor remote = SameHostPeer();
  remote.host_id = "host-2";
  auto route = Router(Protocol::kShm).RouteFor(remote);
  EXPECT_EQ(route.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(route.status().message(), HasSubstr("peer:2"));
}

TEST_F(SliceRouterTest, DisconnectReachesEveryRunningTransport) {
  Router(Protocol::kAuto).Disconnect("peer:2");
  EXPECT_EQ(tcp_.disconnected, std::vector<std::string>{"peer:2"});
  EXPECT_EQ(shm_.disconnected, std::vector<std::string>{"peer:2"});
  EXPECT_TRUE(files_.disconnected.empty()) << "our own files have no connection to drop";
}

TEST(ProtocolTest, ParsesUpstreamNamesAndRefusesOthers) {
  EXPECT_EQ(ParseProtocol("auto").value(), Protocol::kAuto);
  EXPECT_EQ(ParseProtocol("tcp").value(), Protocol::kTcp);
  EXPECT_EQ(ParseProtocol("shm").value(), Protocol::kShm);
  EXPECT_EQ(ParseProtocol("ucx").value(), Protocol::kUcx);
  EXPECT_EQ(ParseProtocol("rdma").value(), Protocol::kUcx) << "upstream's name for it";
  auto bad = ParseProtocol("nvlink");
  EXPECT_EQ(bad.status().code(), StatusCode::kNotSupported);
  EXPECT_THAT(bad.status().message(), HasSubstr("nvlink"));
  EXPECT_STREQ(ProtocolName(Protocol::kUcx), "ucx");
}

}  // namespace
}  // namespace mooncake::transfer
