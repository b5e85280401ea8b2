#include "python/py_transfer_engine.h"

#include <fmt/format.h>

#include <cstring>
#include <thread>

#include "common/auth/open_bind.h"
#include "common/host_port.h"
#include "common/logging.h"
#include "python/buffer_view.h"
#include "python/interpreter.h"
#include "python/local_hostname.h"

namespace py = pybind11;

namespace mooncake::python {
namespace {

int Code(const char* method, const Status& status) {
  if (!status.ok()) MC_LOG_WARN("TransferEngine.{}: {}", method, status.ToString());
  return status.raw_code();
}

Status NotInitialized(const char* method) {
  return InvalidParams(std::string("TransferEngine.") + method +
                       ": not initialized: call initialize() first");
}

// The first error of a batch, OK when there is none.
Status FirstError(const std::vector<Status>& results) {
  for (const Status& status : results) {
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

}  // namespace

PyTransferEngine::~PyTransferEngine() {
  std::unique_ptr<store::TransferRunner> runner = std::move(runner_);
  std::unique_ptr<transfer::TransferEngine> engine = std::move(engine_);
  runner.reset();
  if (engine == nullptr) return;
  if (InterpreterRunning()) {
    py::gil_scoped_release nogil;  // stopping the I/O threads may wait for them
    engine.reset();
  }
}

int PyTransferEngine::Initialize(const std::string& local_hostname,
                                 const std::string& metadata_server, const std::string& protocol,
                                 const std::string& device_name,
                                 const std::string& auth_secret_file) {
  py::gil_scoped_release nogil;
  std::unique_lock lock(mutex_);
  if (engine_ != nullptr) {
    return Code("initialize",
                InvalidParams("already initialized as '" + engine_->local_server_name() + "'"));
  }
  if (!device_name.empty()) {
    MC_LOG_DEBUG("TransferEngine.initialize: device_name '{}' unused with protocol {}", device_name,
                 protocol);
  }
  transfer::TransferEngineOptions options;
  // Like an app, the binding reads the secret file: the keyword's, else $MC_AUTH_SECRET_FILE's.
  auto secret = auth::LoadConfiguredSecret(auth_secret_file);
  if (!secret.ok()) return Code("initialize", secret.status());
  options.auth_secret = std::move(*secret);
  options.metadata_server = metadata_server;
  options.protocol = protocol;
  const std::string host = local_hostname.empty() ? "127.0.0.1" : local_hostname;
  const bool pick_port = LacksPort(host);
  for (int attempt = 1;; ++attempt) {
    if (pick_port) {
      auto named = WithFreePort(host);
      if (!named.ok()) return Code("initialize", named.status());
      options.local_server_name = *named;
    } else {
      options.local_server_name = host;
    }
    auto engine = transfer::TransferEngine::Create(options);
    if (engine.ok()) {
      engine_ = std::move(*engine);
      transfer_timeout_ = options.transfer_timeout;
      runner_ = std::make_unique<store::TransferRunner>(*engine_, transfer_timeout_);
      auth::WarnIfOpen("TransferEngine", {engine_->local_server_name()}, options.auth_secret.get());
      return 0;
    }
    auto picked = ParseHostPort(options.local_server_name);
    if (!pick_port || attempt >= 5 || !picked.ok() || PortIsFree(host, picked->port)) {
      return Code("initialize", engine.status());
    }
  }
}

int PyTransferEngine::GetRpcPort() const {
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) return Code("get_rpc_port", NotInitialized("get_rpc_port"));
  auto name = ParseHostPort(engine_->local_server_name());
  return name.ok() ? name->port : Code("get_rpc_port", name.status());
}

uintptr_t PyTransferEngine::AllocateManagedBuffer(uint64_t length) {
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) {
    Code("allocate_managed_buffer", NotInitialized("allocate_managed_buffer"));
    return 0;
  }
  auto buffer = engine_->AllocateBuffer(length);
  if (!buffer.ok()) {
    Code("allocate_managed_buffer", buffer.status());
    return 0;
  }
  return reinterpret_cast<uintptr_t>(*buffer);
}

int PyTransferEngine::FreeManagedBuffer(uintptr_t address, uint64_t /*length*/) {
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) return Code("free_managed_buffer", NotInitialized("free_managed_buffer"));
  return Code("free_managed_buffer", engine_->FreeBuffer(reinterpret_cast<void*>(address)));
}

int PyTransferEngine::RegisterMemory(uintptr_t address, uint64_t length,
                                     const std::string& location) {
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) return Code("register_memory", NotInitialized("register_memory"));
  return Code("register_memory",
              engine_->RegisterLocalMemory(reinterpret_cast<void*>(address), length,
                                           transfer::MemoryLocation{location}));
}

int PyTransferEngine::UnregisterMemory(uintptr_t address) {
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) return Code("unregister_memory", NotInitialized("unregister_memory"));
  return Code("unregister_memory",
              engine_->UnregisterLocalMemory(reinterpret_cast<void*>(address)));
}

Result<std::vector<transfer::TransferRequest>> PyTransferEngine::Requests(
    const std::string& target, const Addresses& buffers, const Addresses& peer_addresses,
    const Lengths& lengths, transfer::TransferOpcode opcode) {
  if (peer_addresses.size() != buffers.size() || lengths.size() != buffers.size()) {
    return InvalidParams(fmt::format("{} buffers, {} peer_buffer_addresses, {} lengths",
                                     buffers.size(), peer_addresses.size(), lengths.size()));
  }
  if (buffers.empty()) return InvalidParams("no buffers given");
  MC_ASSIGN_OR_RETURN(transfer::SegmentHandle segment, runner_->Segment(target));
  std::vector<transfer::TransferRequest> requests;
  requests.reserve(buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    requests.push_back(
        {opcode, reinterpret_cast<void*>(buffers[i]), segment, peer_addresses[i], lengths[i]});
  }
  return requests;
}

int PyTransferEngine::TransferSync(const std::string& target, uintptr_t buffer,
                                   uintptr_t peer_address, uint64_t length,
                                   transfer::TransferOpcode opcode) {
  return BatchTransferSync(target, {buffer}, {peer_address}, {length}, opcode);
}

int PyTransferEngine::BatchTransferSync(const std::string& target, const Addresses& buffers,
                                        const Addresses& peer_addresses, const Lengths& lengths,
                                        transfer::TransferOpcode opcode) {
  const char* method =
      opcode == transfer::TransferOpcode::kRead ? "transfer_sync_read" : "transfer_sync_write";
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) return Code(method, NotInitialized(method));
  auto requests = Requests(target, buffers, peer_addresses, lengths, opcode);
  if (!requests.ok()) return Code(method, requests.status());
  return Code(method, FirstError(runner_->Run(*requests)));
}

uint64_t PyTransferEngine::BatchTransferAsync(const std::string& target, const Addresses& buffers,
                                              const Addresses& peer_addresses,
                                              const Lengths& lengths,
                                              transfer::TransferOpcode opcode) {
  const char* method = opcode == transfer::TransferOpcode::kRead ? "batch_transfer_async_read"
                                                                 : "batch_transfer_async_write";
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) {
    Code(method, NotInitialized(method));
    return 0;
  }
  auto requests = Requests(target, buffers, peer_addresses, lengths, opcode);
  if (!requests.ok()) {
    Code(method, requests.status());
    return 0;
  }
  auto batch = engine_->AllocateBatchId(requests->size());
  if (!batch.ok()) {
    Code(method, batch.status());
    return 0;
  }
  if (Status submitted = engine_->SubmitTransfer(*batch, *requests); !submitted.ok()) {
    engine_->FreeBatchId(*batch).IgnoreError();
    Code(method, submitted);
    return 0;
  }
  std::lock_guard batches(batches_mutex_);
  async_batches_[*batch] = requests->size();
  return *batch;
}

Status PyTransferEngine::WaitBatch(transfer::BatchId batch, size_t tasks) {
  // The engine bounds every slice with its own timeout; this only guards against a task that
  // never settles.
  const auto deadline =
      std::chrono::steady_clock::now() + transfer_timeout_ + std::chrono::seconds(2);
  Status first_error;
  std::vector<bool> done(tasks, false);
  size_t remaining = tasks;
  for (int spins = 0; remaining > 0; ++spins) {
    for (size_t i = 0; i < tasks; ++i) {
      if (done[i]) continue;
      auto status = engine_->GetTransferStatus(batch, i);
      Status outcome;
      if (!status.ok()) {
        outcome = status.status();
      } else if (status->state == transfer::TransferState::kFailed) {
        outcome = status->error.ok() ? TransferFail("transfer failed") : status->error;
      } else if (status->state != transfer::TransferState::kCompleted) {
        continue;
      }
      if (!outcome.ok() && first_error.ok()) first_error = outcome;
      done[i] = true;
      --remaining;
    }
    if (remaining == 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      return TransferFail("batch " + std::to_string(batch) + " did not settle in time");
    }
    if (spins < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  engine_->FreeBatchId(batch).IgnoreError();
  return first_error;
}

int PyTransferEngine::GetBatchTransferStatus(const std::vector<uint64_t>& batch_ids) {
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) {
    return Code("get_batch_transfer_status", NotInitialized("get_batch_transfer_status"));
  }
  Status first_error;
  for (uint64_t id : batch_ids) {
    size_t tasks = 0;
    {
      std::lock_guard batches(batches_mutex_);
      auto it = async_batches_.find(id);
      if (it != async_batches_.end()) {
        tasks = it->second;
        async_batches_.erase(it);
      }
    }
    Status status = tasks == 0 ? InvalidParams("unknown batch id " + std::to_string(id) +
                                               " (not submitted, or already waited for)")
                               : WaitBatch(id, tasks);
    if (!status.ok() && first_error.ok()) first_error = status;
  }
  return Code("get_batch_transfer_status", first_error);
}

int PyTransferEngine::WriteBytesToBuffer(uintptr_t address, py::buffer bytes, uint64_t length) {
  const BufferView view(bytes, /*writable=*/false);
  if (length > view.size()) {
    return Code(
        "write_bytes_to_buffer",
        InvalidParams(fmt::format("length {} exceeds the {} bytes given", length, view.size())));
  }
  std::memcpy(reinterpret_cast<void*>(address), view.data(), length);
  return 0;
}

py::bytes PyTransferEngine::ReadBytesFromBuffer(uintptr_t address, uint64_t length) {
  return py::bytes(reinterpret_cast<const char*>(address), length);
}

uintptr_t PyTransferEngine::GetFirstBufferAddress(const std::string& segment_name) {
  py::gil_scoped_release nogil;
  std::shared_lock lock(mutex_);
  if (engine_ == nullptr) return 0;
  auto segment = runner_->Segment(segment_name);
  if (!segment.ok()) {
    Code("get_first_buffer_address", segment.status());
    return 0;
  }
  auto descriptor = engine_->GetSegmentDescriptor(*segment);
  if (!descriptor.ok() || descriptor->buffers.empty()) return 0;
  return descriptor->buffers[0].address;
}

}  // namespace mooncake::python
