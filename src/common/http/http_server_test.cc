#include "common/http/http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace mooncake {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::unique_ptr<HttpServer> StartedServer(uint16_t port = 0) {
  auto server = HttpServer::Create({.host = "127.0.0.1", .port = port, .name = "metrics"});
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  (*server)->Handle("/hello", [](const HttpRequest&) {
    return HttpResponse{.status = 200, .content_type = "text/plain", .body = "hi\n"};
  });
  Status started = (*server)->Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
  return std::move(server).value();
}

// A listening IPv4 socket on 127.0.0.1 with an ephemeral port, closed on destruction.
class ListeningSocket {
 public:
  ListeningSocket() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
  }
  ~ListeningSocket() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// Sends a raw HTTP/1.1 request with "Connection: close" and returns everything the server sent
// until it closed the connection. The server closing first leaves its port in TIME_WAIT.
std::string RawGet(uint16_t port, const std::string& target) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "connect failed";
  }
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) reply.append(buf, n);
  close(fd);
  return reply;
}

TEST(HttpServerTest, ServesHandlerOnEphemeralPort) {
  auto server = StartedServer();
  ASSERT_NE(server->port(), 0);
  httplib::Client client("127.0.0.1", server->port());
  auto res = client.Get("/hello");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hi\n");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain");
}

TEST(HttpServerTest, UnknownPathIs404WithShortTextBody) {
  auto server = StartedServer();
  httplib::Client client("127.0.0.1", server->port());
  auto res = client.Get("/nope");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(res->body, "404 not found\n");
}

TEST(HttpServerTest, QueryParameterReachesHandler) {
  auto server = StartedServer();
  server->Handle("/echo", [](const HttpRequest& req) {
    auto it = req.query.find("name");
    return HttpResponse{.body = req.path + " " + (it == req.query.end() ? "-" : it->second)};
  });
  std::string reply = RawGet(server->port(), "/echo?name=a%20b&x=1");
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(reply, HasSubstr("\r\n\r\n/echo a b"));
}

TEST(HttpServerTest, HandlerStatusAndContentTypeAreSent) {
  auto server = StartedServer();
  server->Handle("/teapot", [](const HttpRequest&) {
    return HttpResponse{.status = 418, .content_type = "text/html", .body = "<p>tea</p>"};
  });
  httplib::Client client("127.0.0.1", server->port());
  auto res = client.Get("/teapot");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 418);
  EXPECT_EQ(res->body, "<p>tea</p>");
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/html");
}

TEST(HttpServerTest, BusyPortIsAClearError) {
  ListeningSocket busy;
  auto server = HttpServer::Create({.host = "127.0.0.1", .port = busy.port(), .name = "metrics"});
  ASSERT_TRUE(server.ok());
  Status status = (*server)->Start();
  EXPECT_EQ(status.code(), StatusCode::kInvalidParams);
  EXPECT_THAT(status.message(),
              HasSubstr("metrics port " + std::to_string(busy.port()) + " already in use: "));
  EXPECT_EQ((*server)->port(), 0);
}

// httplib's default socket options (SO_REUSEPORT) would let the second server bind as well.
TEST(HttpServerTest, SecondServerOnTheSamePortFails) {
  auto first = StartedServer();
  auto second = HttpServer::Create({.host = "127.0.0.1", .port = first->port()});
  ASSERT_TRUE(second.ok());
  Status status = (*second)->Start();
  EXPECT_THAT(status.message(), HasSubstr("already in use"));
}

TEST(HttpServerTest, RestartBindsTheSamePortRightAfterServing) {
  auto first = StartedServer();
  const uint16_t port = first->port();
  EXPECT_THAT(RawGet(port, "/hello"), HasSubstr("\r\n\r\nhi\n"));
  first->Stop();  // The served connection now sits in TIME_WAIT on `port`.
  auto second = StartedServer(port);
  EXPECT_EQ(second->port(), port);
  EXPECT_THAT(RawGet(port, "/hello"), HasSubstr("\r\n\r\nhi\n"));
}

TEST(HttpServerTest, StartStopTwice) {
  auto server = StartedServer();
  EXPECT_EQ(server->Start().code(), StatusCode::kInvalidParams) << "already running";
  server->Stop();
  server->Stop();
  EXPECT_EQ(server->port(), 0);
  ASSERT_TRUE(server->Start().ok());
  EXPECT_THAT(RawGet(server->port(), "/hello"), HasSubstr("\r\n\r\nhi\n"));
  server->Stop();
  server->Stop();
}

TEST(HttpServerTest, StopRightAfterStartReturns) {
  for (int i = 0; i < 20; ++i) {
    auto server = StartedServer();
    server->Stop();
  }
}

TEST(HttpServerTest, StopReturnsWhileAClientHoldsAKeepAliveConnection) {
  auto server = StartedServer();
  httplib::Client client("127.0.0.1", server->port());
  client.set_keep_alive(true);
  auto res = client.Get("/hello");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  server->Stop();  // Must not wait for the client to hang up.
}

TEST(HttpServerTest, DestructorStopsAServerNeverStarted) {
  auto server = HttpServer::Create({});
  ASSERT_TRUE(server.ok());
  EXPECT_EQ((*server)->port(), 0);
}

TEST(HttpServerTest, InvalidOptionsAreRefused) {
  EXPECT_EQ(HttpServer::Create({.threads = 0}).status().code(), StatusCode::kInvalidParams);
  EXPECT_EQ(HttpServer::Create({.host = ""}).status().code(), StatusCode::kInvalidParams);
}

}  // namespace
}  // namespace mooncake
