#pragma once

// transfer_engine_bench's modes, one file each: the target (target.cc), the initiator
// (initiator.cc) and the memcpy anchor with the flags (main.cc). Internal to the binary.

#include <chrono>
#include <cstdint>
#include <string>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::bench {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kTargetSeed = 0x7a7a;     // what a target's buffer holds
constexpr uint64_t kInitiatorSeed = 0x1717;  // what an initiator writes
constexpr const char* kFileSegmentName = "bench";
// A file target's memory buffer: the data lives in the file.
constexpr uint64_t kFileTargetMemory = 4 << 20;
// Exit code of an initiator whose peer did not authenticate (or refused to authenticate us).
constexpr int kExitUnauthenticated = 3;

struct Flags {
  std::string mode = "initiator";
  std::string operation = "read";
  std::string protocol = "auto";
  bool shareable_buffers = true;
  std::string metadata_server = "P2PHANDSHAKE";
  int metadata_lease_ttl = 10;  // seconds
  std::string local_server_name;
  std::string segment_id;
  std::string device_name;
  std::string buffer_size = "1GiB";
  uint64_t block_size = 65536;
  size_t batch_size = 128;
  int threads = 1;
  double duration = 5;
  int io_threads = 2;
  int connections = 4;
  std::string slice_size = "1MiB";
  std::string nics;  // comma-separated local NIC addresses
  int transfer_timeout_ms = 10000;
  std::string target_file;  // file segment to serve (target) or to target (initiator)
  bool crc32c = false;      // reads: ask for each block's CRC32C
};

// AllocateBuffer, timed (reported as allocate_buffer_s); prints the error and returns nullptr
// on failure.
char* AllocateTimed(transfer::TransferEngine& engine, uint64_t size, double* seconds);
// Writes the target pattern over `size` bytes of `path` (created or truncated) and registers
// it as file segment "bench"; returns its base address.
Result<uint64_t> RegisterPatternFile(transfer::TransferEngine& engine, const std::string& path,
                                     uint64_t size);
// Each mode returns the process's exit code.
int RunTarget(const Flags& flags, transfer::TransferEngine& engine, uint64_t buffer_size);
int RunInitiator(const Flags& flags, transfer::TransferEngine& engine, uint64_t buffer_size);

}  // namespace mooncake::bench
