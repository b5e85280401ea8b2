#pragma once

// mooncake.engine.TransferEngine: upstream Mooncake's Python Transfer Engine API over
// mooncake::TransferEngine. Ints are 0 or a negative StatusCode; addresses are ints; an async
// submit that fails (unknown peer, bad request) returns batch id 0. Blocking calls release the
// GIL.
//
// Thread safety: any method from any Python thread once initialize() returned 0.

#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/transfer_runner.h"
#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::python {

class PyTransferEngine {
 public:
  using Addresses = std::vector<uintptr_t>;
  using Lengths = std::vector<uint64_t>;

  PyTransferEngine() = default;
  ~PyTransferEngine();

  // local_hostname without a port gets a free one of 12300-14300. device_name (RDMA NICs) is
  // unused by tcp/shm. auth_secret_file: the cluster secret's file ("" = $MC_AUTH_SECRET_FILE,
  // else none); an unusable one fails (INVALID_PARAMS, logged).
  int Initialize(const std::string& local_hostname, const std::string& metadata_server,
                 const std::string& protocol, const std::string& device_name,
                 const std::string& auth_secret_file);
  // The port peers reach this engine on; < 0 before initialize().
  int GetRpcPort() const;

  // Registered memory owned by the engine; 0 on failure.
  uintptr_t AllocateManagedBuffer(uint64_t length);
  int FreeManagedBuffer(uintptr_t address, uint64_t length);
  int RegisterMemory(uintptr_t address, uint64_t length, const std::string& location);
  int UnregisterMemory(uintptr_t address);

  int TransferSync(const std::string& target, uintptr_t buffer, uintptr_t peer_address,
                   uint64_t length, transfer::TransferOpcode opcode);
  int BatchTransferSync(const std::string& target, const Addresses& buffers,
                        const Addresses& peer_addresses, const Lengths& lengths,
                        transfer::TransferOpcode opcode);
  // The batch id to give get_batch_transfer_status; 0 when nothing was submitted.
  uint64_t BatchTransferAsync(const std::string& target, const Addresses& buffers,
                              const Addresses& peer_addresses, const Lengths& lengths,
                              transfer::TransferOpcode opcode);
  // Waits for every batch, frees them; 0 when every transfer completed, else the first error.
  int GetBatchTransferStatus(const std::vector<uint64_t>& batch_ids);

  int WriteBytesToBuffer(uintptr_t address, pybind11::buffer bytes, uint64_t length);
  pybind11::bytes ReadBytesFromBuffer(uintptr_t address, uint64_t length);
  // Address of the first buffer `segment_name` publishes; 0 when unknown.
  uintptr_t GetFirstBufferAddress(const std::string& segment_name);

 private:
  // The requests moving each (buffer, peer address, length) to/from `target`.
  Result<std::vector<transfer::TransferRequest>> Requests(const std::string& target,
                                                          const Addresses& buffers,
                                                          const Addresses& peer_addresses,
                                                          const Lengths& lengths,
                                                          transfer::TransferOpcode opcode);
  Status WaitBatch(transfer::BatchId batch, size_t tasks);

  // Shared by calls, exclusive for initialize / destruction.
  mutable std::shared_mutex mutex_;
  std::unique_ptr<transfer::TransferEngine> engine_;
  std::unique_ptr<store::TransferRunner> runner_;
  std::chrono::milliseconds transfer_timeout_{10000};

  std::mutex batches_mutex_;
  std::unordered_map<transfer::BatchId, size_t> async_batches_;  // batch -> tasks submitted
};

}  // namespace mooncake::python
