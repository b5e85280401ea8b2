#include "transfer/segment_descriptor_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace mooncake::transfer {
namespace {

using ::testing::HasSubstr;

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

SegmentDescriptor Sample() {
  SegmentDescriptor d;
  d.name = "10.0.0.2:12345";
  d.protocol_version = 1;
  d.incarnation = 0xfedcba9876543210ull;
  d.host_id = "boot-id/4026531840";
  d.endpoints = {{"10.0.0.2", 12345}, {"::1", 65535}};
  d.buffers = {{0x7f0000000000ull, 1ull << 30, "cpu", ""}, {kMax - 10, 10, "cuda:1", ""}};
  return d;
}

TEST(SegmentDescriptorCodecTest, RoundTripKeepsEveryField) {
  SegmentDescriptor in = Sample();
  auto out = DecodeSegmentDescriptor(EncodeSegmentDescriptor(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->name, in.name);
  EXPECT_EQ(out->protocol_version, in.protocol_version);
  EXPECT_EQ(out->incarnation, in.incarnation);
  EXPECT_EQ(out->host_id, in.host_id);
  ASSERT_EQ(out->endpoints.size(), 2u);
  EXPECT_EQ(out->endpoints[0].host, "10.0.0.2");
  EXPECT_EQ(out->endpoints[0].port, 12345);
  EXPECT_EQ(out->endpoints[1].host, "::1");
  EXPECT_EQ(out->endpoints[1].port, 65535);
  ASSERT_EQ(out->buffers.size(), 2u);
  EXPECT_EQ(out->buffers[0].address, 0x7f0000000000ull);
  EXPECT_EQ(out->buffers[0].length, 1ull << 30);
  EXPECT_EQ(out->buffers[0].location, "cpu");
  EXPECT_EQ(out->buffers[1].address, kMax - 10);
  EXPECT_EQ(out->buffers[1].location, "cuda:1");
}

TEST(SegmentDescriptorCodecTest, EmptyListsRoundTrip) {
  SegmentDescriptor in;
  in.name = "h:1";
  auto out = DecodeSegmentDescriptor(EncodeSegmentDescriptor(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->endpoints.empty());
  EXPECT_TRUE(out->buffers.empty());
}

TEST(SegmentDescriptorCodecTest, EncodingInvalidUtf8DoesNotThrow) {
  // Names and locations come from users; a stray byte must not throw out of the library.
  SegmentDescriptor in = Sample();
  in.buffers[0].location = "cpu\xff";
  in.host_id = std::string("\xc3", 1);
  std::string json;
  ASSERT_NO_THROW(json = EncodeSegmentDescriptor(in));
  auto out = DecodeSegmentDescriptor(json);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->name, in.name);
  EXPECT_EQ(out->buffers[0].address, in.buffers[0].address);
}

TEST(SegmentDescriptorCodecTest, UnknownFieldsAreIgnoredAndOptionalOnesDefault) {
  auto out = DecodeSegmentDescriptor(
      R"({"name":"a:1","protocol_version":1,"incarnation":7,"endpoints":[],)"
      R"("buffers":[{"addr":4096,"length":10}],"future_field":{"x":1}})");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->host_id, "");
  ASSERT_EQ(out->buffers.size(), 1u);
  EXPECT_EQ(out->buffers[0].location, "cpu");
}

void ExpectInvalid(const std::string& json, const std::string& mentions) {
  SCOPED_TRACE(json);
  Result<SegmentDescriptor> out = InvalidParams("not run");
  ASSERT_NO_THROW(out = DecodeSegmentDescriptor(json));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(out.status().message(), HasSubstr(mentions));
}

TEST(SegmentDescriptorCodecTest, MalformedJsonIsInvalidParams) {
  ExpectInvalid("", "not a JSON object");
  ExpectInvalid("{", "not a JSON object");
  ExpectInvalid("{\"name\": }", "not a JSON object");
  ExpectInvalid("[1,2,3]", "not a JSON object");
  ExpectInvalid("\"just a string\"", "not a JSON object");
  ExpectInvalid(std::string("{\"name\":\"\xff\"}"), "not a JSON object");
}

TEST(SegmentDescriptorCodecTest, MissingFieldIsInvalidParamsNamingIt) {
  ExpectInvalid(R"({"protocol_version":1,"incarnation":1,"endpoints":[],"buffers":[]})", "name");
  ExpectInvalid(R"({"name":"a:1","incarnation":1,"endpoints":[],"buffers":[]})",
                "protocol_version");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"endpoints":[],"buffers":[]})",
                "incarnation");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"incarnation":1,"buffers":[]})", "endpoints");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"incarnation":1,"endpoints":[]})", "buffers");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"incarnation":1,"endpoints":[{"port":1}],)"
                R"("buffers":[]})",
                "host");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"incarnation":1,"endpoints":[],)"
                R"("buffers":[{"addr":1}]})",
                "length");
}

TEST(SegmentDescriptorCodecTest, WrongTypeIsInvalidParams) {
  ExpectInvalid(R"({"name":5,"protocol_version":1,"incarnation":1,"endpoints":[],"buffers":[]})",
                "malformed segment descriptor");
  ExpectInvalid(
      R"({"name":"a:1","protocol_version":"1","incarnation":1,"endpoints":[],"buffers":[]})",
      "malformed segment descriptor");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"incarnation":1,"host_id":3,"endpoints":[],)"
                R"("buffers":[]})",
                "malformed segment descriptor");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"incarnation":1,"endpoints":7,"buffers":[]})",
                "malformed segment descriptor");
  ExpectInvalid(
      R"({"name":"a:1","protocol_version":1,"incarnation":1,"endpoints":[],"buffers":["x"]})",
      "malformed segment descriptor");
  ExpectInvalid(R"({"name":"a:1","protocol_version":1,"incarnation":1,"endpoints":[],)"
                R"("buffers":[{"addr":"0x1000","length":1}]})",
                "malformed segment descriptor");
}

TEST(SegmentDescriptorFindBufferTest, FindsTheBufferAtItsEdges) {
  SegmentDescriptor d;
  d.buffers = {{0x1000, 0x100, "cpu", ""}, {0x4000, 0x100, "cpu", ""}};
  EXPECT_EQ(d.FindBuffer(0x1000, 0x100), 0);
  EXPECT_EQ(d.FindBuffer(0x10ff, 1), 0) << "last byte";
  EXPECT_EQ(d.FindBuffer(0x1100, 1), -1) << "one past the end";
  EXPECT_EQ(d.FindBuffer(0x0fff, 1), -1) << "one before the start";
  EXPECT_EQ(d.FindBuffer(0x1000, 0x101), -1);
  EXPECT_EQ(d.FindBuffer(0x4000, 0x10), 1);
  EXPECT_EQ(d.FindBuffer(0x1050, 0), 0) << "empty range inside";
  EXPECT_EQ(d.FindBuffer(0x2000, 1), -1) << "between buffers";
}

TEST(SegmentDescriptorFindBufferTest, NoBuffersFindsNothing) {
  SegmentDescriptor d;
  EXPECT_EQ(d.FindBuffer(0, 0), -1);
  EXPECT_EQ(d.FindBuffer(0x1000, 1), -1);
}

TEST(SegmentDescriptorFindBufferTest, OverflowingRangesAreNotFound) {
  SegmentDescriptor d;
  d.buffers = {{0x1000, 0x100, "cpu", ""}, {kMax - 0xff, 0x100, "cpu", ""}};
  // address + length wraps around to an address inside the first buffer.
  EXPECT_EQ(d.FindBuffer(0x1001, kMax), -1);
  EXPECT_EQ(d.FindBuffer(0x1000, kMax), -1);
  EXPECT_EQ(d.FindBuffer(kMax - 0xff, kMax), -1);
  EXPECT_EQ(d.FindBuffer(kMax, 2), -1);
  // The very last byte of the address space is addressable.
  EXPECT_EQ(d.FindBuffer(kMax, 1), 1);
  EXPECT_EQ(d.FindBuffer(kMax - 0xff, 0x100), 1);
}

}  // namespace
}  // namespace mooncake::transfer

namespace mooncake::transfer {
namespace {

TEST(SegmentDescriptorCodecRangeTest, OutOfRangeNumbersAreRefusedNotTruncated) {
  SegmentDescriptor d;
  d.name = "n:1";
  d.protocol_version = 1;
  d.endpoints = {{"h", 80}};
  std::string good = EncodeSegmentDescriptor(d);
  ASSERT_TRUE(DecodeSegmentDescriptor(good).ok());
  std::string bad_port = good;
  bad_port.replace(bad_port.find("\"port\":80"), 9, "\"port\":70000");
  auto r = DecodeSegmentDescriptor(bad_port);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidParams);
  EXPECT_NE(r.status().message().find("port"), std::string::npos) << r.status().ToString();
  std::string negative = good;
  negative.replace(negative.find("\"protocol_version\":1"), 20, "\"protocol_version\":-1");
  EXPECT_FALSE(DecodeSegmentDescriptor(negative).ok());
  std::string null_list = good;
  null_list.replace(null_list.find("\"endpoints\":["), 13, "\"endpoints\":null,\"x\":[");
  EXPECT_FALSE(DecodeSegmentDescriptor(null_list).ok());
}

}  // namespace
}  // namespace mooncake::transfer

namespace mooncake::transfer {
namespace {

TEST(SegmentDescriptorCodecUcxTest, UcxAddressRdmaFlagAndKeysRoundTrip) {
  SegmentDescriptor in = Sample();
  in.ucx_address = "00ff10ab";
  in.ucx_rdma = true;
  in.buffers[0].ucx_rkey = "0a0b";
  auto out = DecodeSegmentDescriptor(EncodeSegmentDescriptor(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->ucx_address, "00ff10ab");
  EXPECT_TRUE(out->ucx_rdma);
  EXPECT_EQ(out->buffers[0].ucx_rkey, "0a0b");
  EXPECT_EQ(out->buffers[1].ucx_rkey, "");  // a buffer without a key stays without one
}

TEST(SegmentDescriptorCodecUcxTest, DescriptorWithoutUcxHasNoUcxFields) {
  const std::string json = EncodeSegmentDescriptor(Sample());
  EXPECT_EQ(json.find("ucx"), std::string::npos) << json;
  auto out = DecodeSegmentDescriptor(json);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->ucx_address.empty());
  EXPECT_FALSE(out->ucx_rdma);
}

TEST(SegmentDescriptorCodecUcxTest, MalformedUcxBlobsAreRefusedNamingTheField) {
  SegmentDescriptor d = Sample();
  d.ucx_address = "abcd";
  d.buffers[0].ucx_rkey = "abcd";
  const std::string good = EncodeSegmentDescriptor(d);
  ASSERT_TRUE(DecodeSegmentDescriptor(good).ok());
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return DecodeSegmentDescriptor(s);
  };
  for (const char* bad : {"\"abcX\"", "\"abc\"", "\"ABCD\"", "17"}) {
    auto r = replaced("\"ucx_rkey\":\"abcd\"", std::string("\"ucx_rkey\":") + bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidParams);
    EXPECT_THAT(r.status().message(), HasSubstr("ucx_rkey")) << r.status().ToString();
    r = replaced("\"ucx_address\":\"abcd\"", std::string("\"ucx_address\":") + bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.status().message(), HasSubstr("ucx_address")) << r.status().ToString();
  }
  auto huge = replaced("\"ucx_rkey\":\"abcd\"", "\"ucx_rkey\":\"" + std::string(10000, 'a') + "\"");
  EXPECT_FALSE(huge.ok());
  auto not_bool = replaced("\"ucx_rdma\":false", "\"ucx_rdma\":\"yes\"");
  EXPECT_FALSE(not_bool.ok());
}

}  // namespace
}  // namespace mooncake::transfer
