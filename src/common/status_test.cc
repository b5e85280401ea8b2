#include "mooncake/common/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace mooncake {
namespace {

TEST(StatusTest, CodesKeepUpstreamNumericValues) {
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kOk), 0);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kInternalError), -1);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kSegmentNotFound), -101);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kNoAvailableHandle), -200);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kInvalidParams), -600);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kObjectNotFound), -704);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kObjectHasLease), -706);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kLeaseExpired), -707);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kTransferFail), -800);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kRpcFail), -900);
  EXPECT_EQ(static_cast<int32_t>(StatusCode::kFileNotFound), -1100);
}

TEST(StatusTest, CodeNamesMatchUpstreamSpelling) {
  EXPECT_EQ(StatusCodeName(StatusCode::kOk), "OK");
  EXPECT_EQ(StatusCodeName(StatusCode::kObjectNotFound), "OBJECT_NOT_FOUND");
  EXPECT_EQ(StatusCodeName(StatusCode::kNoAvailableHandle), "NO_AVAILABLE_HANDLE");
  EXPECT_EQ(StatusCodeName(StatusCode::kObjectHasLease), "OBJECT_HAS_LEASE");
  EXPECT_EQ(StatusCodeName(StatusCode::kFileWriteFail), "FILE_WRITE_FAIL");
  EXPECT_EQ(StatusCodeName(StatusCode::kUnauthenticated), "UNAUTHENTICATED");
}

TEST(StatusTest, UnknownCodeNameShowsTheNumber) {
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(-4242)), "UNKNOWN(-4242)");
}

TEST(StatusTest, DefaultIsOkWithEmptyMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.raw_code(), 0);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s, Status::Ok());
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s(StatusCode::kObjectHasLease, "key 'a' is leased");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.raw_code(), -706);
  EXPECT_EQ(s.message(), "key 'a' is leased");
  EXPECT_EQ(s.ToString(), "OBJECT_HAS_LEASE: key 'a' is leased");
}

TEST(StatusTest, ErrorWithoutMessagePrintsOnlyTheName) {
  EXPECT_EQ(Status(StatusCode::kRpcFail, "").ToString(), "RPC_FAIL");
}

TEST(StatusTest, EqualityComparesCodeAndMessage) {
  EXPECT_EQ(InvalidParams("x"), Status(StatusCode::kInvalidParams, "x"));
  EXPECT_FALSE(InvalidParams("x") == InvalidParams("y"));
  EXPECT_FALSE(InvalidParams("x") == InternalError("x"));
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCode) {
  Status s = SegmentNotFound("segment 7").WithContext("mount");
  EXPECT_EQ(s.code(), StatusCode::kSegmentNotFound);
  EXPECT_EQ(s.message(), "mount: segment 7");
  EXPECT_EQ(s.ToString(), "SEGMENT_NOT_FOUND: mount: segment 7");
}

TEST(StatusTest, WithContextOnOkStaysOk) {
  Status s = Status::Ok().WithContext("mount");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, WithContextDoesNotChangeTheOriginal) {
  Status original = TransferFail("peer gone");
  Status copy = original;
  Status wrapped = original.WithContext("batch 3");
  EXPECT_EQ(original.message(), "peer gone");
  EXPECT_EQ(copy.message(), "peer gone");
  EXPECT_EQ(wrapped.message(), "batch 3: peer gone");
}

TEST(ResultTest, HoldsValue) {
  Result<std::string> r(std::string("abc"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(*r, "abc");
  EXPECT_EQ(r->size(), 3u);
  EXPECT_EQ(r.value_or("zzz"), "abc");
}

TEST(ResultTest, HoldsError) {
  Result<int> r(NotSupported("no ucx"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotSupported);
  EXPECT_EQ(r.status().message(), "no ucx");
  EXPECT_EQ(r.value_or(5), 5);
}

TEST(ResultTest, OkStatusBecomesInternalError) {
  Result<int> r(Status::Ok());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternalError);
}

TEST(ResultTest, MoveOnlyValueCanBeTakenOut) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

Status FailIf(bool fail) { return fail ? InvalidParams("bad") : Status::Ok(); }

Status TwoSteps(bool fail_first, int* steps) {
  MC_RETURN_IF_ERROR(FailIf(fail_first));
  ++*steps;
  return Status::Ok();
}

TEST(MacrosTest, ReturnIfErrorPropagatesFailure) {
  int steps = 0;
  Status s = TwoSteps(/*fail_first=*/true, &steps);
  EXPECT_EQ(s, InvalidParams("bad"));
  EXPECT_EQ(steps, 0);
}

TEST(MacrosTest, ReturnIfErrorContinuesOnOk) {
  int steps = 0;
  EXPECT_TRUE(TwoSteps(/*fail_first=*/false, &steps).ok());
  EXPECT_EQ(steps, 1);
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidParams("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  MC_ASSIGN_OR_RETURN(int half, Half(x));
  MC_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(MacrosTest, AssignOrReturnAssignsValues) {
  Result<int> r = Quarter(20);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 5);
}

TEST(MacrosTest, AssignOrReturnPropagatesTheFirstError) {
  Result<int> r = Quarter(6);  // 6 -> 3 -> odd.
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status(), InvalidParams("odd: 3"));
}

}  // namespace
}  // namespace mooncake
