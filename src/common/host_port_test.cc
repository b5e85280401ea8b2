#include "common/host_port.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mooncake {
namespace {

using ::testing::HasSubstr;

TEST(HostPortTest, ParsesIpv4WithPort) {
  auto hp = ParseHostPort("10.0.0.2:12345");
  ASSERT_TRUE(hp.ok()) << hp.status().ToString();
  EXPECT_EQ(hp->host, "10.0.0.2");
  EXPECT_EQ(hp->port, 12345);
}

TEST(HostPortTest, ParsesHostnameWithPort) {
  auto hp = ParseHostPort("node-1.example.com:80");
  ASSERT_TRUE(hp.ok()) << hp.status().ToString();
  EXPECT_EQ(hp->host, "node-1.example.com");
  EXPECT_EQ(hp->port, 80);
}

TEST(HostPortTest, ParsesBracketedIpv6) {
  auto hp = ParseHostPort("[::1]:80");
  ASSERT_TRUE(hp.ok()) << hp.status().ToString();
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 80);
}

TEST(HostPortTest, PortEdgesAreAccepted) {
  EXPECT_EQ(ParseHostPort("h:0").value().port, 0);
  EXPECT_EQ(ParseHostPort("h:65535").value().port, 65535);
}

TEST(HostPortTest, MissingPortIsRefusedWhenRequired) {
  for (const char* text : {"10.0.0.2", "[::1]"}) {
    auto hp = ParseHostPort(text, PortRequirement::kRequired);
    ASSERT_FALSE(hp.ok()) << text;
    EXPECT_EQ(hp.status().code(), StatusCode::kInvalidParams);
    EXPECT_THAT(hp.status().message(), HasSubstr("missing port"));
    EXPECT_THAT(hp.status().message(), HasSubstr(text));
  }
  EXPECT_FALSE(ParseHostPort("10.0.0.2").ok()) << "kRequired is the default";
}

TEST(HostPortTest, MissingPortIsZeroWhenOptional) {
  auto v4 = ParseHostPort("10.0.0.2", PortRequirement::kOptional);
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_EQ(v4->host, "10.0.0.2");
  EXPECT_EQ(v4->port, 0);
  auto v6 = ParseHostPort("[::1]", PortRequirement::kOptional);
  ASSERT_TRUE(v6.ok()) << v6.status().ToString();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
}

TEST(HostPortTest, EmptyPortAfterColonIsRefusedEvenWhenOptional) {
  EXPECT_FALSE(ParseHostPort("h:", PortRequirement::kOptional).ok());
  EXPECT_FALSE(ParseHostPort("[::1]:", PortRequirement::kOptional).ok());
}

TEST(HostPortTest, BadPortsAreRefused) {
  for (const char* text :
       {"h:70000", "h:65536", "h:-1", "h:x", "h:80x", "h:+80", "h: 80", "h:99999999999999999999"}) {
    auto hp = ParseHostPort(text);
    ASSERT_FALSE(hp.ok()) << text;
    EXPECT_EQ(hp.status().code(), StatusCode::kInvalidParams) << text;
    EXPECT_THAT(hp.status().message(), HasSubstr("port")) << text;
  }
}

TEST(HostPortTest, UnbracketedIpv6IsRefused) {
  for (const char* text : {"::1:80", "fe80::1", "a:1:2"}) {
    auto hp = ParseHostPort(text, PortRequirement::kOptional);
    ASSERT_FALSE(hp.ok()) << text;
    EXPECT_EQ(hp.status().code(), StatusCode::kInvalidParams);
    EXPECT_THAT(hp.status().message(), HasSubstr("[addr]:port"));
  }
}

TEST(HostPortTest, MalformedTextIsRefused) {
  for (const char* text : {"", ":80", "[]:80", "[::1", "[::1]80", "[::1]x:80"}) {
    auto hp = ParseHostPort(text, PortRequirement::kOptional);
    EXPECT_FALSE(hp.ok()) << "'" << text << "'";
    EXPECT_EQ(hp.status().code(), StatusCode::kInvalidParams) << text;
  }
}

TEST(HostPortTest, ToStringBracketsIpv6Only) {
  EXPECT_EQ((HostPort{"::1", 80}).ToString(), "[::1]:80");
  EXPECT_EQ((HostPort{"fe80::1%eth0", 7}).ToString(), "[fe80::1%eth0]:7");
  EXPECT_EQ((HostPort{"10.0.0.2", 0}).ToString(), "10.0.0.2:0");
  EXPECT_EQ((HostPort{"node-1", 65535}).ToString(), "node-1:65535");
}

TEST(HostPortTest, ToStringRoundTripsThroughParse) {
  for (const char* text : {"[::1]:80", "10.0.0.2:12345", "node-1:0"}) {
    auto hp = ParseHostPort(text);
    ASSERT_TRUE(hp.ok()) << text;
    EXPECT_EQ(hp->ToString(), text);
  }
}

}  // namespace
}  // namespace mooncake
