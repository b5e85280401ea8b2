#include "master/service/master_server.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "common/auth/open_bind.h"
#include "common/logging.h"
#include "common/metrics/metrics_registry.h"
#include "master/codec/master_protocol.h"
#include "master/service/master_http.h"
#include "master/service/master_metrics.h"
#include "master/service/master_service.h"

namespace mooncake::master {

Status MasterServerOptions::Validate() const {
  MC_RETURN_IF_ERROR(core.Validate());
  if (metrics_port < -1 || metrics_port > 65535) {
    return Status(StatusCode::kInvalidParams,
                  "metrics_port " + std::to_string(metrics_port) +
                      " is out of range (-1 disables, 0 picks a free port, else 1..65535)");
  }
  if (tick_interval.count() <= 0) {
    return Status(StatusCode::kInvalidParams, "tick_interval must be > 0");
  }
  return object_tier.Validate();
}

struct MasterServer::State {
  MasterServerOptions options;
  uint64_t incarnation = 0;
  std::unique_ptr<MasterCore> core;
  MetricsRegistry registry;
  std::unique_ptr<MasterMetrics> metrics;
  std::unique_ptr<MasterServiceImpl> service;
  std::unique_ptr<grpc::Server> grpc_server;
  int bound_port = 0;
  std::unique_ptr<MasterHttp> http;

  std::mutex tick_mutex;
  std::condition_variable tick_cv;
  bool stopping = false;
  std::thread tick_thread;
  std::once_flag shutdown_once;

  void TickLoop() {
    std::unique_lock lock(tick_mutex);
    while (!tick_cv.wait_for(lock, options.tick_interval, [&] { return stopping; })) {
      lock.unlock();
      std::vector<NodeId> expired = service->WithCore([](MasterCore& c) {
        c.Tick();
        return c.TakeExpiredNodes();
      });
      for (const NodeId& node : expired) {
        MC_LOG_WARN("node '{}' missed its heartbeats for {} ms: its segments were unmounted", node,
                    options.core.client_ttl.count());
      }
      lock.lock();
    }
  }
};

MasterServer::MasterServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

MasterServer::~MasterServer() { Shutdown(); }

Result<std::unique_ptr<MasterServer>> MasterServer::Create(MasterServerOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  if (options.host.empty()) options.host = auth::DefaultListenHost(options.auth_secret.get());
  auto state = std::make_unique<State>();
  state->options = options;
  state->incarnation = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  // Versions must grow across master restarts (see MasterCoreOptions::first_version): start
  // from the wall clock in nanoseconds unless the caller chose a start.
  MasterCoreOptions core_options = options.core;
  if (core_options.first_version == 1) {
    core_options.first_version =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count());
  }
  if (options.object_tier.enabled()) core_options.object_tier = options.object_tier.policy;
  MC_ASSIGN_OR_RETURN(state->core, MasterCore::Create(core_options, SystemClock::Instance()));
  state->metrics = std::make_unique<MasterMetrics>(state->registry);
  state->service = std::make_unique<MasterServiceImpl>(*state->core, SystemClock::Instance(),
                                                       *state->metrics, state->incarnation);
  state->service->set_object_tier(options.object_tier);
  state->service->set_auth_secret(options.auth_secret);

  // The HTTP server first: it is the cheaper one to tear down if the RPC port is taken.
  if (options.metrics_port >= 0) {
    MC_ASSIGN_OR_RETURN(state->http,
                        MasterHttp::Start(options.host, static_cast<uint16_t>(options.metrics_port),
                                          *state->service, state->registry, *state->metrics));
  }

  grpc::ServerBuilder builder;
  const std::string listen = options.host + ":" + std::to_string(options.port);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &state->bound_port);
  builder.RegisterService(state->service.get());
  // A busy port must be an error, never a second master sharing it; gRPC turns
  // SO_REUSEPORT on by default. (SO_REUSEADDR stays on: gRPC sets it on every listener, so
  // a master restarted right after kill -9 binds at once despite TIME_WAIT.)
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(kMaxMasterMessageBytes);
  builder.SetMaxSendMessageSize(kMaxMasterMessageBytes);
  // Heartbeats are long polls that park a handler thread each (one per node); keep enough
  // pollers that other requests never wait for a thread to be created.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 16);
  state->grpc_server = builder.BuildAndStart();
  if (!state->grpc_server || state->bound_port == 0) {
    if (state->http) state->http->Stop();
    return Status(StatusCode::kInvalidParams,
                  "master cannot listen on " + listen + " (port in use or address not local)");
  }
  state->tick_thread = std::thread([s = state.get()] { s->TickLoop(); });
  MC_LOG_INFO("master listening on {}:{} (metrics {}), incarnation {:016x}, {}", options.host,
              state->bound_port, state->http ? std::to_string(state->http->port()) : "off",
              state->incarnation,
              options.auth_secret ? "cluster secret " + options.auth_secret->KeyId()
                                  : std::string("no cluster secret (open)"));
  std::vector<std::string> listening = {options.host + ":" + std::to_string(state->bound_port)};
  if (state->http) listening.push_back(options.host + ":" + std::to_string(state->http->port()));
  auth::WarnIfOpen("master", listening, options.auth_secret.get());
  return std::unique_ptr<MasterServer>(new MasterServer(std::move(state)));
}

uint16_t MasterServer::port() const { return static_cast<uint16_t>(state_->bound_port); }

uint16_t MasterServer::metrics_port() const { return state_->http ? state_->http->port() : 0; }

std::string MasterServer::address() const {
  const std::string host = state_->options.host == "0.0.0.0" ? "127.0.0.1" : state_->options.host;
  return host + ":" + std::to_string(port());
}

const std::string& MasterServer::host() const { return state_->options.host; }

void MasterServer::Shutdown(std::chrono::milliseconds grace) {
  State& s = *state_;
  std::call_once(s.shutdown_once, [&] {
    s.grpc_server->Shutdown(std::chrono::system_clock::now() + grace);
    {
      std::lock_guard lock(s.tick_mutex);
      s.stopping = true;
    }
    s.tick_cv.notify_all();
    if (s.tick_thread.joinable()) s.tick_thread.join();
    if (s.http) s.http->Stop();
    MC_LOG_INFO("master on port {} shut down", s.bound_port);
  });
}

}  // namespace mooncake::master
