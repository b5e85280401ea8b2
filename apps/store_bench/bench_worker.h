#pragma once

// One store_bench client thread: its own store Client, a registered buffer of batch_size
// values, and a loop of zero-copy PutFrom/GetInto (batched forms when batch_size > 1).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/store/client.h"

namespace mooncake::bench {

struct BenchOptions {
  std::string master = "127.0.0.1:50051";
  // "put" (upserts a ring of `keys` keys per thread, as redis SET overwrites) or "get" (reads
  // the keys the thread put first).
  std::string op = "get";
  uint64_t value_size = uint64_t{1} << 20;
  size_t batch_size = 1;
  int threads = 1;
  double duration_s = 5;
  int replica_num = 1;
  std::string protocol = "auto";
  // ClientOptions::verify_checksum: reads check the CRC32C of what they read (the default).
  bool verify_checksum = true;
  // Keys per thread; 0 = batch_size rounded up so a thread's keys hold about 64 MiB, at most
  // 1024 keys (KeysPerThread).
  size_t keys = 0;
  // get only: read one range of this many bytes of each value (GetIntoRanges, at an offset
  // that moves with every call, aligned to the range size) instead of the whole value; 0 (the
  // default) reads whole values.
  uint64_t range_size = 0;
  // Every key starts with this (unique per run, so runs never collide and cleanup is one
  // RemoveByRegex).
  std::string prefix;
  // The cluster secret (--auth_secret_file), passed to every thread's Client. Null: none.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
};

// The key count a thread uses under `options`.
size_t KeysPerThread(const BenchOptions& options);

struct WorkerStats {
  uint64_t ok_ops = 0;
  uint64_t failed_ops = 0;
  // One sample per call (a batch is one call), in microseconds.
  std::vector<double> latency_us;
  std::string first_error;
};

class BenchWorker {
 public:
  BenchWorker(const BenchOptions& options, int thread);
  ~BenchWorker();

  // Connects, registers the buffer, and for get puts the thread's keys and checks that one
  // reads back intact. Not timed.
  Status Prepare();
  // Runs calls until `stop`; counts only items that succeeded.
  WorkerStats Run(const std::atomic<bool>& stop);
  // Removes every key of the run, all threads' (forced). Fails if Prepare could not connect.
  Status RemoveRunKeys();

 private:
  // One call over keys [first, first + batch_size) of the ring; returns how many succeeded.
  size_t Call(size_t first, std::string* error);
  // Where a range read of the call's item number `call_item` starts (0 for whole values).
  uint64_t RangeOffset(size_t call_item) const;
  std::string Key(size_t index) const;

  const BenchOptions& options_;
  const int thread_;
  const size_t keys_;
  std::unique_ptr<store::Client> client_;
  std::vector<uint8_t> buffer_;  // batch_size values, registered
  std::vector<std::string> batch_keys_;
  std::vector<const void*> sources_;
  std::vector<void*> destinations_;
  std::vector<size_t> lengths_;
  bool registered_ = false;
};

// The q-quantile (0..1) of `samples` (reordered).
double Quantile(std::vector<double>& samples, double q);

}  // namespace mooncake::bench
