#include "common/http/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "common/logging.h"

namespace mooncake {
namespace {

// httplib 0.11.4's default_socket_options sets SO_REUSEPORT (not SO_REUSEADDR) on Linux. With
// it a second master started on the same port would bind too and silently share the
// connections with the first, so "port already in use" would never be reported. SO_REUSEADDR
// alone lets a restarted process bind right after kill -9 (ports left in TIME_WAIT) while a
// live listener still makes bind fail with EADDRINUSE.
void ReuseAddrOnly(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// Bounds how long Stop waits for a worker parked on an idle keep-alive connection (Prometheus
// keeps its scrape connection open); httplib's default is 5 s.
constexpr time_t kKeepAliveTimeoutSeconds = 1;

}  // namespace

Status HttpServerOptions::Validate() const {
  if (host.empty()) return InvalidParams(name + " server: empty host");
  if (threads < 1) {
    return InvalidParams(name + " server: threads must be >= 1, got " + std::to_string(threads));
  }
  return Status::Ok();
}

struct HttpServer::Impl {
  HttpServerOptions options;

  std::mutex handlers_mu;
  std::map<std::string, HttpHandler, std::less<>> handlers;  // Guarded by handlers_mu.

  std::atomic<uint16_t> port{0};
  // Set while running: between a successful Start and Stop.
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::atomic<bool> listen_returned{false};

  void Dispatch(const httplib::Request& req, httplib::Response& res) {
    HttpHandler handler;
    {
      std::lock_guard<std::mutex> lock(handlers_mu);
      auto it = handlers.find(req.path);
      if (it != handlers.end()) handler = it->second;
    }
    if (!handler) {
      res.status = 404;
      res.set_content("404 not found\n", "text/plain; charset=utf-8");
      return;
    }
    HttpRequest request;
    request.path = req.path;
    for (const auto& [key, value] : req.params) request.query.emplace(key, value);
    HttpResponse response = handler(request);
    res.status = response.status;
    res.set_content(std::move(response.body), response.content_type.c_str());
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::Create(HttpServerOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string path, HttpHandler handler) {
  std::lock_guard<std::mutex> lock(impl_->handlers_mu);
  impl_->handlers[std::move(path)] = std::move(handler);
}

uint16_t HttpServer::port() const { return impl_->port.load(); }

Status HttpServer::Start() {
  const HttpServerOptions& options = impl_->options;
  if (impl_->server) return InvalidParams(options.name + " server already started");

  auto server = std::make_unique<httplib::Server>();
  server->set_socket_options(ReuseAddrOnly);
  server->set_keep_alive_timeout(kKeepAliveTimeoutSeconds);
  const size_t threads = static_cast<size_t>(options.threads);
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  Impl* impl = impl_.get();
  server->Get(".*", [impl](const httplib::Request& req, httplib::Response& res) {
    impl->Dispatch(req, res);
  });

  // httplib reports a failed bind as a bare false; errno still holds bind(2)'s reason because
  // only close(2) and freeaddrinfo(3) run after it, and they leave errno alone on success.
  errno = 0;
  int bound_port = options.port;
  bool bound = false;
  if (options.port == 0) {
    bound_port = server->bind_to_any_port(options.host);
    bound = bound_port > 0;
  } else {
    bound = server->bind_to_port(options.host, options.port);
  }
  if (!bound) {
    const int error = errno;
    const std::string where = options.host + ":" + std::to_string(options.port);
    if (error == EADDRINUSE) {
      return InvalidParams(options.name + " port " + std::to_string(options.port) +
                           " already in use: cannot bind " + where + " (" + std::strerror(error) +
                           ")");
    }
    return InvalidParams(options.name + " server cannot listen on " + where + ": " +
                         (error != 0 ? std::strerror(error) : "address not resolvable"));
  }

  impl_->listen_returned = false;
  impl_->thread = std::thread([impl, raw = server.get()] {
    if (!raw->listen_after_bind()) {
      MC_LOG_ERROR("{} server: accept loop failed", impl->options.name);
    }
    impl->listen_returned = true;
  });
  // The socket already listens, but httplib's stop() is a no-op until its accept loop has
  // marked itself running, so Stop right after Start would hang on join. 0.11 offers no ready
  // signal (wait_until_ready came later), hence the short poll.
  while (!server->is_running() && !impl_->listen_returned) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  impl_->server = std::move(server);
  if (impl_->listen_returned) {
    Stop();
    return InternalError(options.name + " server: accept loop ended at start on port " +
                         std::to_string(bound_port));
  }
  impl_->port = static_cast<uint16_t>(bound_port);
  MC_LOG_INFO("{} server listening on {}:{}", options.name, options.host, bound_port);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_->server) return;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->server.reset();
  impl_->port = 0;
}

}  // namespace mooncake
