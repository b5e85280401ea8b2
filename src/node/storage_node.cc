#include "node/storage_node.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/logging.h"
#include "master/client/master_client.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake {

Status StorageNodeOptions::Validate() const {
  if (master_address.empty()) return InvalidParams("node: master address is empty");
  if (listen.empty()) return InvalidParams("node: listen address is empty");
  if (segment_size == 0) return InvalidParams("node: segment_size must be > 0");
  if (heartbeat_interval.count() <= 0) return InvalidParams("node: heartbeat_interval must be > 0");
  if (rpc_timeout.count() <= 0) return InvalidParams("node: rpc_timeout must be > 0");
  return Status::Ok();
}

struct StorageNode::State {
  StorageNodeOptions options;
  std::unique_ptr<MasterClient> master;
  std::unique_ptr<TransferEngine> engine;
  SegmentSpec spec;
  std::atomic<uint64_t> remounts{0};

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread heartbeat;
  std::once_flag stop_once;

  Status Mount() {
    // The manifest (objects this node already holds) is empty: a DRAM segment starts empty
    // and the node does not yet track what clients wrote into it.
    auto report = master->MountSegment(spec);
    return report.status();
  }

  void HeartbeatLoop() {
    std::unique_lock lock(mutex);
    while (!wake.wait_for(lock, options.heartbeat_interval, [&] { return stopping; })) {
      lock.unlock();
      Status beat = master->Heartbeat(spec.node_id, spec.epoch);
      if (beat.code() == StatusCode::kClientNotFound) {
        MC_LOG_WARN(
            "master does not know node '{}' (restarted, or declared it dead): mounting "
            "segment '{}' again",
            spec.node_id, spec.name);
        if (Status mounted = Mount(); mounted.ok()) {
          remounts.fetch_add(1);
        } else {
          MC_LOG_WARN("re-mount failed: {}", mounted.ToString());
        }
      } else if (!beat.ok()) {
        MC_LOG_WARN("heartbeat failed: {}", beat.ToString());
      }
      lock.lock();
    }
  }
};

StorageNode::StorageNode(std::unique_ptr<State> state) : state_(std::move(state)) {}

StorageNode::~StorageNode() { Stop(); }

Result<std::unique_ptr<StorageNode>> StorageNode::Create(StorageNodeOptions options) {
  MC_RETURN_IF_ERROR(options.Validate());
  auto state = std::make_unique<State>();
  MasterClientOptions master_options;
  master_options.master_address = options.master_address;
  master_options.rpc_timeout = options.rpc_timeout;
  master_options.client_id = options.listen;
  MC_ASSIGN_OR_RETURN(state->master, MasterClient::Create(master_options));

  TransferEngineOptions engine_options;
  engine_options.local_server_name = options.listen;
  engine_options.metadata_server = options.metadata_server;
  engine_options.protocol = options.protocol;
  MC_ASSIGN_OR_RETURN(state->engine, TransferEngine::Create(engine_options));
  MC_ASSIGN_OR_RETURN(void* base, state->engine->AllocateBuffer(options.segment_size));

  const std::string name = state->engine->local_server_name();
  state->spec.name = name;
  state->spec.node_id = options.node_id.empty() ? name : options.node_id;
  // Wall-clock nanoseconds: grows across restarts of the process, which is all an epoch needs.
  state->spec.epoch = static_cast<Epoch>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  state->spec.medium = Medium::kDram;
  state->spec.base = reinterpret_cast<uint64_t>(base);
  state->spec.size = options.segment_size;
  state->options = std::move(options);
  MC_RETURN_IF_ERROR(state->Mount().WithContext("mounting segment '" + name + "'"));
  state->heartbeat = std::thread([s = state.get()] { s->HeartbeatLoop(); });
  MC_LOG_INFO("node '{}' mounted segment '{}' ({} bytes, epoch {})", state->spec.node_id, name,
              state->spec.size, state->spec.epoch);
  return std::unique_ptr<StorageNode>(new StorageNode(std::move(state)));
}

const std::string& StorageNode::node_id() const { return state_->spec.node_id; }
const std::string& StorageNode::segment_name() const { return state_->spec.name; }
uint64_t StorageNode::epoch() const { return state_->spec.epoch; }
uint64_t StorageNode::remounts() const { return state_->remounts.load(); }

void StorageNode::Stop() {
  State& s = *state_;
  std::call_once(s.stop_once, [&] {
    {
      std::lock_guard lock(s.mutex);
      s.stopping = true;
    }
    s.wake.notify_all();
    if (s.heartbeat.joinable()) s.heartbeat.join();
    if (Status unmounted = s.master->UnmountSegment(s.spec.name, s.spec.node_id, s.spec.epoch);
        !unmounted.ok()) {
      MC_LOG_WARN("unmount of '{}' failed: {}", s.spec.name, unmounted.ToString());
    }
    s.engine.reset();
  });
}

}  // namespace mooncake
