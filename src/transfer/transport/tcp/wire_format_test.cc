#include "transfer/transport/tcp/wire_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace mooncake::transfer::tcp {
namespace {

using ::testing::HasSubstr;

constexpr FrameType kAllTypes[] = {FrameType::kHello,         FrameType::kHelloAck,
                                   FrameType::kReadRequest,   FrameType::kReadResponse,
                                   FrameType::kWriteRequest,  FrameType::kWriteResponse,
                                   FrameType::kAuthChallenge, FrameType::kAuthProof};

FrameHeader SampleHeader(FrameType type) {
  FrameHeader h;
  h.type = type;
  h.status = 0;
  h.request_id = 0x0102030405060708ull;
  h.address = 0x7f00deadbeef0000ull;
  h.length = 4096;
  return h;
}

TEST(WireFormatTest, EveryFrameTypeRoundTrips) {
  for (FrameType type : kAllTypes) {
    SCOPED_TRACE(FrameTypeName(type));
    FrameHeader in = SampleHeader(type);
    EncodedHeader bytes = EncodeHeader(in);
    auto out = DecodeHeader(bytes.data());
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(out->version, kProtocolVersion);
    EXPECT_EQ(out->type, type);
    EXPECT_EQ(out->status, 0);
    EXPECT_EQ(out->request_id, in.request_id);
    EXPECT_EQ(out->address, in.address);
    EXPECT_EQ(out->length, in.length);
  }
}

TEST(WireFormatTest, ErrorResponseKeepsNegativeStatus) {
  FrameHeader in = SampleHeader(FrameType::kReadResponse);
  in.status = static_cast<int32_t>(StatusCode::kInvalidParams);
  in.length = 17;
  auto out = DecodeHeader(EncodeHeader(in).data());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->status, -600);
}

TEST(WireFormatTest, HeaderLayoutIsLittleEndianAtDocumentedOffsets) {
  FrameHeader in = SampleHeader(FrameType::kWriteRequest);
  in.status = -1;
  EncodedHeader bytes = EncodeHeader(in);
  ASSERT_EQ(bytes.size(), kFrameHeaderSize);
  EXPECT_EQ(std::memcmp(bytes.data(), "MCTE", 4), 0);
  EXPECT_EQ(bytes[4], kProtocolVersion & 0xff);
  EXPECT_EQ(bytes[5], kProtocolVersion >> 8);
  EXPECT_EQ(bytes[6], static_cast<uint8_t>(FrameType::kWriteRequest));
  EXPECT_EQ(bytes[7], 0);  // flags
  EXPECT_EQ(bytes[8], 0xff);
  for (int i = 12; i < 16; ++i) EXPECT_EQ(bytes[i], 0) << "reserved byte " << i;
  EXPECT_EQ(bytes[16], 0x08);  // request id, least significant byte first
  EXPECT_EQ(bytes[23], 0x01);
  EXPECT_EQ(bytes[32], 0x00);  // length 4096 = 0x1000
  EXPECT_EQ(bytes[33], 0x10);
}

TEST(WireFormatTest, BadMagicIsRejected) {
  EncodedHeader bytes = EncodeHeader(SampleHeader(FrameType::kHello));
  bytes[0] = 'X';
  auto out = DecodeHeader(bytes.data());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidParams);
  EXPECT_THAT(out.status().message(), HasSubstr("magic"));
}

TEST(WireFormatTest, WrongVersionIsRejectedAsInvalidVersion) {
  FrameHeader in = SampleHeader(FrameType::kHello);
  in.version = kProtocolVersion + 1;
  auto out = DecodeHeader(EncodeHeader(in).data());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidVersion);
  EXPECT_THAT(out.status().message(), HasSubstr("v3"));
  EXPECT_THAT(out.status().message(), HasSubstr("v2"));
}

TEST(WireFormatTest, UnknownFrameTypesAreRejected) {
  for (uint8_t type : {uint8_t{0}, uint8_t{9}, uint8_t{255}}) {
    SCOPED_TRACE(static_cast<int>(type));
    EncodedHeader bytes = EncodeHeader(SampleHeader(FrameType::kHello));
    bytes[6] = type;
    auto out = DecodeHeader(bytes.data());
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidParams);
    EXPECT_THAT(out.status().message(), HasSubstr("unknown frame type"));
  }
}

TEST(WireFormatTest, ControlPayloadAboveLimitIsRejected) {
  for (FrameType type : {FrameType::kHelloAck, FrameType::kWriteResponse}) {
    SCOPED_TRACE(FrameTypeName(type));
    FrameHeader in = SampleHeader(type);
    in.length = kMaxControlPayload;
    EXPECT_TRUE(DecodeHeader(EncodeHeader(in).data()).ok());
    in.length = kMaxControlPayload + 1;
    auto out = DecodeHeader(EncodeHeader(in).data());
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidParams);
    EXPECT_THAT(out.status().message(), HasSubstr(FrameTypeName(type)));
    EXPECT_THAT(out.status().message(), HasSubstr("limit"));
  }
}

TEST(WireFormatTest, FramesBeforeAuthenticationAreHeldToTheHandshakeLimit) {
  for (FrameType type : {FrameType::kHello, FrameType::kAuthChallenge, FrameType::kAuthProof}) {
    SCOPED_TRACE(FrameTypeName(type));
    FrameHeader in = SampleHeader(type);
    in.length = kMaxHandshakePayload;
    EXPECT_TRUE(DecodeHeader(EncodeHeader(in).data()).ok());
    in.length = kMaxHandshakePayload + 1;
    auto out = DecodeHeader(EncodeHeader(in).data());
    ASSERT_FALSE(out.ok());
    EXPECT_THAT(out.status().message(), HasSubstr("limit"));
  }
}

TEST(WireFormatTest, HandshakePayloadsRoundTrip) {
  HelloPayload hello{auth::RandomNonce(), "10.0.0.1:1234"};
  auto back = DecodeHello(EncodeHello(hello));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->nonce, hello.nonce);
  EXPECT_EQ(back->name, hello.name);
  ChallengePayload challenge{auth::RandomNonce(), {}, "10.0.0.2:99"};
  challenge.proof.fill(0xab);
  auto c = DecodeChallenge(EncodeChallenge(challenge));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->nonce, challenge.nonce);
  EXPECT_EQ(c->proof, challenge.proof);
  EXPECT_EQ(c->name, challenge.name);
  auto proof = DecodeProof(auth::AsBytes(challenge.proof));
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(*proof, challenge.proof);
}

TEST(WireFormatTest, ShortHandshakePayloadsAreRejected) {
  // A v1 HELLO (the name alone) has no nonce.
  auto hello = DecodeHello("short-name");
  ASSERT_FALSE(hello.ok());
  EXPECT_THAT(hello.status().message(), HasSubstr("nonce"));
  EXPECT_FALSE(DecodeChallenge(std::string(63, 'x')).ok());
  EXPECT_FALSE(DecodeProof(std::string(31, 'x')).ok());
  EXPECT_FALSE(DecodeProof(std::string(33, 'x')).ok());
}

TEST(WireFormatTest, ErrorResponseIsHeldToTheControlLimit) {
  // A non-OK READ_RESPONSE carries an error message, not data.
  FrameHeader in = SampleHeader(FrameType::kReadResponse);
  in.status = static_cast<int32_t>(StatusCode::kInvalidParams);
  in.length = kMaxControlPayload + 1;
  auto out = DecodeHeader(EncodeHeader(in).data());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidParams);
}

TEST(WireFormatTest, DataPayloadAboveLimitIsRejected) {
  for (FrameType type :
       {FrameType::kReadRequest, FrameType::kReadResponse, FrameType::kWriteRequest}) {
    SCOPED_TRACE(FrameTypeName(type));
    FrameHeader in = SampleHeader(type);
    in.length = kMaxDataPayload;
    EXPECT_TRUE(DecodeHeader(EncodeHeader(in).data()).ok());
    in.length = kMaxDataPayload + 1;
    auto out = DecodeHeader(EncodeHeader(in).data());
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidParams);
    EXPECT_THAT(out.status().message(), HasSubstr("limit"));
  }
}

TEST(WireFormatTest, HugeLengthIsRejectedWithoutOverflow) {
  FrameHeader in = SampleHeader(FrameType::kWriteRequest);
  in.length = ~0ull;
  EXPECT_FALSE(DecodeHeader(EncodeHeader(in).data()).ok());
}

TEST(WireFormatTest, ReadRequestCarriesNoPayload) {
  FrameHeader h = SampleHeader(FrameType::kReadRequest);
  h.length = 1 << 20;
  EXPECT_EQ(h.PayloadBytes(), 0u);
  for (FrameType type : kAllTypes) {
    if (type == FrameType::kReadRequest) continue;
    h.type = type;
    EXPECT_EQ(h.PayloadBytes(), 1u << 20) << FrameTypeName(type);
  }
}

TEST(WireFormatTest, FrameTypeNamesAreDistinct) {
  std::vector<std::string> names;
  for (FrameType type : kAllTypes) names.emplace_back(FrameTypeName(type));
  EXPECT_THAT(names, ::testing::ElementsAre("HELLO", "HELLO_ACK", "READ_REQUEST", "READ_RESPONSE",
                                            "WRITE_REQUEST", "WRITE_RESPONSE", "AUTH_CHALLENGE",
                                            "AUTH_PROOF"));
  EXPECT_STREQ(FrameTypeName(static_cast<FrameType>(99)), "UNKNOWN");
}

}  // namespace
}  // namespace mooncake::transfer::tcp
