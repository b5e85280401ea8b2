#pragma once

// A small embedded HTTP/1.1 server for GET endpoints such as /metrics and the status page. It
// wraps cpp-httplib, which stays out of this header.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "mooncake/common/status.h"

namespace mooncake {

struct HttpServerOptions {
  // Address to listen on: "127.0.0.1" (default: this machine only, secure by default), "0.0.0.0"
  // for every IPv4 interface, "::" for IPv6 and IPv4. Servers choose per auth/open_bind.h.
  std::string host = "127.0.0.1";
  // TCP port; 0 (default) lets the kernel pick a free one, read back with HttpServer::port().
  uint16_t port = 0;
  // Threads serving requests, besides the one accepting connections; >= 1. Default 2.
  int threads = 2;
  // What the server is for, named in errors and logs ("metrics port 9003 already in use").
  // Default "http".
  std::string name = "http";

  Status Validate() const;
};

struct HttpRequest {
  // Decoded path without the query string, e.g. "/metrics".
  std::string path;
  // Decoded query parameters; for a repeated key, the first value.
  std::map<std::string, std::string> query;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Runs on one of the server's threads, possibly on several at once.
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Serves GET (and HEAD) requests by exact path. Start, Stop and the destructor are called by
// the owner's thread; Handle and port() from any thread.
class HttpServer {
 public:
  // Fails only on invalid options; binds nothing yet.
  static Result<std::unique_ptr<HttpServer>> Create(HttpServerOptions options);
  // Stops the server.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves GET `path` (exact match) with `handler`, replacing an earlier one for that path.
  // Other paths answer 404 with a short text body. May be called before or after Start.
  void Handle(std::string path, HttpHandler handler);

  // Binds, listens and starts serving on a background thread; returns once the socket listens
  // (connections made after it returns are served) or binding failed. A port in use is
  // kInvalidParams, "<name> port <port> already in use: ...". A stopped server may be started
  // again (with port 0, on a new port). kInvalidParams if it is running.
  Status Start();

  // The bound port while running (the kernel's choice for port 0); 0 before Start and after
  // Stop.
  uint16_t port() const;

  // Stops accepting, finishes requests in flight and joins the threads. Connections idle in
  // keep-alive are dropped within about a second. Idempotent; no-op if never started.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace mooncake
