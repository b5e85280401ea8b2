// transfer_engine_bench: upstream-compatible Transfer Engine benchmark.
//   target:    transfer_engine_bench --mode=target --local_server_name=127.0.0.1:12345
//   initiator: transfer_engine_bench --mode=initiator --segment_id=127.0.0.1:12345
//              --operation=read --block_size=1048576 --duration=5
//              [--protocol=auto|tcp|shm|ucx|rdma]   (auto: shared memory when the target is on
//              this host; ucx/rdma: UCX one-sided put/get, both sides --protocol=ucx)
//   anchor:    transfer_engine_bench --mode=memcpy --block_size=1048576 --buffer_size=1GiB
//   file segment: a target started with --target_file=PATH serves that file (filled with the
//              pattern, --buffer_size bytes) as file segment "bench", and an initiator given
//              --target_file targets it instead of the target's memory; an initiator given
//              --target_file=PATH and no --segment_id registers PATH itself and reads/writes
//              it locally (straight to io_uring, no socket).
//   --crc32c:  reads ask the engine for the CRC32C of each block (TransferRequest::crc32c), to
//              measure what the fused check costs: the same run with and without.
//   --auth_secret_file: the cluster secret, proved to and demanded of the peer at HELLO. An
//              initiator the target refuses (or that refuses the target) prints
//              "authentication failed: ..." and exits with code 3.

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "apps/common/app_flags.h"
#include "bench_pattern.h"
#include "common/logging.h"
#include "mooncake/common/crc32c.h"
#include "mooncake/common/size.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::bench {
namespace {

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

struct ThreadResult {
  uint64_t bytes = 0;
  uint64_t batches = 0;
  Clock::time_point first_submit{};
  Clock::time_point last_done{};
  std::vector<double> batch_us;
  std::string error;
  bool unauthenticated = false;  // the error is an authentication failure
};

// Polls a batch until every task finished. Backs off to short sleeps so that on a small
// machine the poller does not take CPU from the engine's I/O threads.
Status WaitBatch(transfer::TransferEngine& engine, transfer::BatchId batch, size_t n,
                 std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  int spins = 0;
  for (size_t i = 0; i < n;) {
    MC_ASSIGN_OR_RETURN(transfer::TransferStatus st, engine.GetTransferStatus(batch, i));
    if (st.state == transfer::TransferState::kFailed) return st.error;
    if (st.state == transfer::TransferState::kCompleted) {
      ++i;
      continue;
    }
    if (Clock::now() > deadline) return Status(StatusCode::kRpcTimeout, "batch did not finish");
    if (++spins < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }
  return Status::Ok();
}

// AllocateBuffer, timed (reported as allocate_buffer_s); prints the error and returns
// nullptr on failure.
char* AllocateTimed(transfer::TransferEngine& engine, uint64_t size, double* seconds) {
  auto t0 = Clock::now();
  auto buffer = engine.AllocateBuffer(size);
  if (!buffer.ok()) {
    fmt::print(stderr, "AllocateBuffer failed: {}\n", buffer.status().ToString());
    return nullptr;
  }
  *seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return static_cast<char*>(*buffer);
}

// Writes the target pattern over `size` bytes of `path` (created or truncated) and registers
// it as file segment "bench"; returns its base address.
Result<uint64_t> RegisterPatternFile(transfer::TransferEngine& engine, const std::string& path,
                                     uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status(StatusCode::kFileWriteFail,
                  fmt::format("cannot create '{}': {}", path, std::strerror(errno)));
  }
  std::vector<char> chunk(std::min<uint64_t>(size, 16 << 20));
  for (uint64_t offset = 0; offset < size; offset += chunk.size()) {
    const uint64_t n = std::min<uint64_t>(chunk.size(), size - offset);
    FillPattern(chunk.data(), n, kTargetSeed, offset);
    if (::pwrite(fd, chunk.data(), n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n)) {
      ::close(fd);
      return Status(StatusCode::kFileWriteFail,
                    fmt::format("cannot write '{}': {}", path, std::strerror(errno)));
    }
  }
  ::fsync(fd);  // O_DIRECT readers then measure the device, not dirty page writeback
  ::close(fd);
  return engine.RegisterFileSegment(kFileSegmentName, path, size);
}

int RunTarget(const Flags& flags, transfer::TransferEngine& engine, uint64_t buffer_size) {
  const bool file = !flags.target_file.empty();
  const uint64_t memory_size = file ? std::min(buffer_size, kFileTargetMemory) : buffer_size;
  double alloc_s = 0;
  char* buffer = AllocateTimed(engine, memory_size, &alloc_s);
  if (buffer == nullptr) return 1;
  FillPattern(buffer, memory_size, kTargetSeed);
  std::string file_fields;
  if (file) {
    auto base = RegisterPatternFile(engine, flags.target_file, buffer_size);
    if (!base.ok()) {
      fmt::print(stderr, "cannot serve --target_file: {}\n", base.status().ToString());
      return 1;
    }
    file_fields = fmt::format(" file_base=0x{:x} file_size={}", *base, buffer_size);
  }
  fmt::print("READY segment={} buffer=0x{:x} size={} allocate_buffer_s={:.3f}{}\n",
             engine.local_server_name(), reinterpret_cast<uintptr_t>(buffer), memory_size, alloc_s,
             file_fields);
  std::fflush(stdout);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  fmt::print("target stopping on signal {}\n", sig);
  return 0;
}

Result<transfer::SegmentHandle> OpenWithRetry(transfer::TransferEngine& engine,
                                              const std::string& name) {
  // The target may still be starting: retry for a few seconds.
  Status last;
  for (int attempt = 0; attempt < 50; ++attempt) {
    auto handle = engine.OpenSegment(name);
    if (handle.ok()) return handle;
    last = handle.status();
    // Not worth a retry: e.g. --protocol=shm to a remote peer, or a refused secret.
    if (last.code() == StatusCode::kNotSupported || last.code() == StatusCode::kUnauthenticated) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return last;
}

void RunThread(transfer::TransferEngine& engine, const Flags& flags, int index, char* local,
               uint64_t region, transfer::SegmentHandle target, uint64_t remote_base,
               Clock::time_point stop_at, ThreadResult* out) {
  const uint64_t region_offset = index * region;
  const uint64_t blocks = region / flags.block_size;
  const transfer::TransferOpcode op = flags.operation == "write" ? transfer::TransferOpcode::kWrite
                                                                 : transfer::TransferOpcode::kRead;
  std::vector<transfer::TransferRequest> requests(flags.batch_size);
  std::vector<uint32_t> crcs(flags.batch_size);
  uint64_t next_block = 0;
  out->first_submit = Clock::now();
  while (Clock::now() < stop_at) {
    for (size_t i = 0; i < requests.size(); ++i) {
      uint64_t offset = region_offset + (next_block++ % blocks) * flags.block_size;
      uint32_t* crc = flags.crc32c ? &crcs[i] : nullptr;
      requests[i] = {op, local + offset, target, remote_base + offset, flags.block_size, crc};
    }
    auto start = Clock::now();
    auto batch = engine.AllocateBatchId(requests.size());
    if (!batch.ok()) {
      out->error = batch.status().ToString();
      return;
    }
    Status s = engine.SubmitTransfer(*batch, requests);
    if (s.ok()) s = WaitBatch(engine, *batch, requests.size(), std::chrono::seconds(60));
    if (!s.ok()) {
      out->error = s.ToString();
      out->unauthenticated = s.code() == StatusCode::kUnauthenticated;
      return;
    }
    engine.FreeBatchId(*batch).IgnoreError();
    auto end = Clock::now();
    out->batch_us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
    out->bytes += requests.size() * flags.block_size;
    out->batches++;
    out->last_done = end;
  }
  // The last batch's blocks are distinct (a region holds a batch) and still as read.
  for (size_t i = 0; flags.crc32c && out->batches > 0 && i < requests.size(); ++i) {
    if (crcs[i] != Crc32c(requests[i].source, flags.block_size)) {
      out->error = fmt::format("block {} of the last batch: engine CRC32C differs", i);
    }
  }
}

// Reads back `samples` blocks spread over what was touched and checks their contents.
Status Verify(transfer::TransferEngine& engine, const Flags& flags, char* local, uint64_t touched,
              transfer::SegmentHandle target, uint64_t remote_base) {
  const uint64_t blocks = std::max<uint64_t>(1, touched / flags.block_size);
  const uint64_t samples = std::min<uint64_t>(16, blocks);
  MC_ASSIGN_OR_RETURN(void* scratch_raw, engine.AllocateBuffer(flags.block_size));
  char* scratch = static_cast<char*>(scratch_raw);
  Status result;
  for (uint64_t i = 0; i < samples && result.ok(); ++i) {
    uint64_t offset = (i * blocks / samples) * flags.block_size;
    const char* data = local + offset;
    uint64_t seed = kTargetSeed;
    if (flags.operation == "write") {
      // What we wrote must now be in the target: read it back.
      transfer::TransferRequest r{transfer::TransferOpcode::kRead, scratch, target,
                                  remote_base + offset, flags.block_size};
      MC_ASSIGN_OR_RETURN(transfer::BatchId batch, engine.AllocateBatchId(1));
      MC_RETURN_IF_ERROR(engine.SubmitTransfer(batch, {&r, 1}));
      MC_RETURN_IF_ERROR(WaitBatch(engine, batch, 1, std::chrono::seconds(30)));
      engine.FreeBatchId(batch).IgnoreError();
      data = scratch;
      seed = kInitiatorSeed;
    }
    // After a write run, a target holds our pattern in places: reads accept either.
    int64_t bad =
        flags.operation == "write"
            ? FirstMismatch(data, flags.block_size, seed, offset)
            : FirstMismatchEither(data, flags.block_size, kTargetSeed, kInitiatorSeed, offset);
    if (bad >= 0) {
      result =
          Status(StatusCode::kInvalidRead, fmt::format("data mismatch at offset {}", offset + bad));
    }
  }
  engine.FreeBuffer(scratch).IgnoreError();
  return result;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

int RunInitiator(const Flags& flags, transfer::TransferEngine& engine, uint64_t buffer_size) {
  const bool local_file = !flags.target_file.empty() && flags.segment_id.empty();
  if (flags.segment_id.empty() && !local_file) {
    fmt::print(stderr, "--segment_id=<target host:port> is required for an initiator\n");
    return 2;
  }
  double alloc_s = 0;
  char* local = AllocateTimed(engine, buffer_size, &alloc_s);
  if (local == nullptr) return 1;
  if (flags.operation == "write") FillPattern(local, buffer_size, kInitiatorSeed);
  if (local_file) {
    auto base = RegisterPatternFile(engine, flags.target_file, buffer_size);
    if (!base.ok()) {
      fmt::print(stderr, "cannot register --target_file: {}\n", base.status().ToString());
      return 1;
    }
  }
  const std::string segment = local_file ? engine.local_server_name() : flags.segment_id;

  auto target = OpenWithRetry(engine, segment);
  if (!target.ok()) {
    const bool refused = target.status().code() == StatusCode::kUnauthenticated;
    fmt::print(stderr, "{}cannot open segment {}: {}\n", refused ? "authentication failed: " : "",
               segment, target.status().ToString());
    return refused ? kExitUnauthenticated : 1;
  }
  auto descriptor = engine.GetSegmentDescriptor(*target);
  if (!descriptor.ok() || descriptor->buffers.empty()) {
    fmt::print(stderr, "segment {} has no registered buffer\n", segment);
    return 1;
  }
  int index = 0;
  if (!flags.target_file.empty()) {
    index = descriptor->FindFileSegment(kFileSegmentName);
    if (index < 0) {
      fmt::print(stderr, "segment {} serves no file segment '{}' (start it with --target_file)\n",
                 segment, kFileSegmentName);
      return 1;
    }
  }
  const uint64_t remote_base = descriptor->buffers[index].address;
  const uint64_t usable = std::min<uint64_t>(buffer_size, descriptor->buffers[index].length);
  const uint64_t region = usable / flags.threads;
  if (region < flags.block_size * flags.batch_size) {
    fmt::print(stderr,
               "buffer too small: each of {} threads needs batch_size*block_size = {} bytes\n",
               flags.threads, flags.batch_size * flags.block_size);
    return 2;
  }

  std::vector<ThreadResult> results(flags.threads);
  std::vector<std::thread> workers;
  auto stop_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(flags.duration));
  for (int t = 0; t < flags.threads; ++t) {
    workers.emplace_back(RunThread, std::ref(engine), std::cref(flags), t, local, region, *target,
                         remote_base, stop_at, &results[t]);
  }
  for (auto& w : workers) w.join();

  uint64_t bytes = 0, batches = 0;
  Clock::time_point first = Clock::time_point::max(), last{};
  std::vector<double> latencies;
  for (auto& r : results) {
    if (!r.error.empty()) {
      fmt::print(stderr, "{}transfer failed: {}\n",
                 r.unauthenticated ? "authentication failed: " : "", r.error);
      return r.unauthenticated ? kExitUnauthenticated : 1;
    }
    bytes += r.bytes;
    batches += r.batches;
    first = std::min(first, r.first_submit);
    last = std::max(last, r.last_done);
    latencies.insert(latencies.end(), r.batch_us.begin(), r.batch_us.end());
  }
  // Verify samples thread 0's region, as far as its completed batches reached (a slow
  // transport may not have gone round it once).
  const uint64_t touched = std::min<uint64_t>(
      region, std::max<uint64_t>(1, results[0].batches) * flags.batch_size * flags.block_size);
  Status verified = Verify(engine, flags, local, touched, *target, remote_base);
  if (!verified.ok()) {
    fmt::print(stderr, "VERIFY FAILED: {}\n", verified.ToString());
    return 1;
  }
  double seconds = std::chrono::duration<double>(last - first).count();
  double gbps = seconds > 0 ? bytes / seconds / 1e9 : 0;
  fmt::print("Test completed: duration {:.2f}, batch count {}, throughput {:.3f} GB/s\n", seconds,
             batches, gbps);
  const char* target_kind = local_file                  ? "local_file"
                            : flags.target_file.empty() ? "memory"
                                                        : "file";
  fmt::print(
      "RESULT protocol={} operation={} block_size={} batch_size={} threads={} "
      "throughput_GBps={:.3f} p50_batch_us={:.1f} p99_batch_us={:.1f} "
      "allocate_buffer_s={:.3f} verified=yes target={} crc32c={}\n",
      flags.protocol, flags.operation, flags.block_size, flags.batch_size, flags.threads, gbps,
      Percentile(latencies, 0.5), Percentile(latencies, 0.99), alloc_s, target_kind,
      flags.crc32c ? "on" : "off");
  return 0;
}

// The anchor of bench/te_shm_vs_memcpy.sh: one thread memcpy'ing `block_size` blocks between
// two prefaulted DRAM buffers of `buffer_size` bytes, walking them in the order an initiator
// thread walks its region (so cache behaviour matches), for `duration` seconds.
int RunMemcpy(const Flags& flags, uint64_t buffer_size) {
  const uint64_t blocks = buffer_size / flags.block_size;
  if (blocks == 0) {
    fmt::print(stderr, "--buffer_size must hold at least one block\n");
    return 2;
  }
  std::vector<char> src(buffer_size), dst(buffer_size);  // value-initialised: prefaulted
  FillPattern(src.data(), buffer_size, kInitiatorSeed);
  uint64_t bytes = 0, next_block = 0;
  const auto start = Clock::now();
  const auto stop_at = start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(flags.duration));
  while (Clock::now() < stop_at) {
    for (size_t i = 0; i < flags.batch_size; ++i) {
      const uint64_t offset = (next_block++ % blocks) * flags.block_size;
      std::memcpy(dst.data() + offset, src.data() + offset, flags.block_size);
    }
    bytes += flags.batch_size * flags.block_size;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (FirstMismatch(dst.data(), flags.block_size, kInitiatorSeed, 0) != -1) {
    fmt::print(stderr, "VERIFY FAILED: memcpy destination differs\n");
    return 1;
  }
  fmt::print(
      "RESULT mode=memcpy block_size={} batch_size={} threads=1 throughput_GBps={:.3f} "
      "verified=yes\n",
      flags.block_size, flags.batch_size, bytes / seconds / 1e9);
  return 0;
}

int Main(int argc, char** argv) {
  Flags flags;
  CLI::App app{"Transfer Engine benchmark (upstream-compatible flags)"};
  app::AppFlags common(app, "transfer_engine_bench", LogLevel::kWarn);
  app.add_option("--mode", flags.mode,
                 "target | initiator | memcpy (single-thread memcpy anchor, no engine)")
      ->check(CLI::IsMember({"target", "initiator", "memcpy"}));
  app.add_option("--operation", flags.operation, "read | write")
      ->check(CLI::IsMember({"read", "write"}));
  app.add_option(
      "--protocol", flags.protocol,
      "auto (shm for same-host peers, ucx to RDMA-capable peers, else tcp) | tcp | shm | "
      "ucx | rdma (alias of ucx; target and initiator both need it)");
  app.add_option("--shareable_buffers", flags.shareable_buffers,
                 "AllocateBuffer in shared memory (false: private THP memory, which same-host "
                 "peers reach with process_vm_readv/writev)");
  app.add_option("--metadata_server", flags.metadata_server, "P2PHANDSHAKE | etcd://host:port");
  app.add_option("--metadata_lease_ttl", flags.metadata_lease_ttl,
                 "etcd lease TTL of this engine's descriptor, seconds")
      ->check(CLI::Range(1, 3600));
  app.add_option("--local_server_name", flags.local_server_name, "host:port of this engine");
  app.add_option("--segment_id", flags.segment_id, "target segment name (host:port)");
  app.add_option("--device_name", flags.device_name, "RDMA device (ignored for tcp)");
  app.add_option("--buffer_size", flags.buffer_size, "bytes or size string, e.g. 1GiB");
  app.add_option("--block_size", flags.block_size, "bytes per request")
      ->check(CLI::Range(1ull, 1ull << 30));
  app.add_option("--batch_size", flags.batch_size, "requests per batch")
      ->check(CLI::Range(1, 65536));
  app.add_option("--threads", flags.threads, "submitting threads")->check(CLI::Range(1, 64));
  app.add_option("--duration", flags.duration, "seconds")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--io_threads", flags.io_threads, "engine event-loop threads")
      ->check(CLI::Range(1, 64));
  app.add_option("--connections", flags.connections, "TCP connections per peer")
      ->check(CLI::Range(1, 64));
  app.add_option("--slice_size", flags.slice_size, "slice size, e.g. 1MiB");
  app.add_option("--nics", flags.nics, "local NIC addresses to use, e.g. 10.0.0.1,10.0.1.1");
  app.add_option("--transfer_timeout_ms", flags.transfer_timeout_ms,
                 "a connection with no progress for this long is dropped and its slices retried")
      ->check(CLI::Range(1, 3600000));
  app.add_option("--target_file", flags.target_file,
                 "target: also serve this file (--buffer_size bytes, pattern-filled) as file "
                 "segment 'bench'; initiator: target that file segment (of --segment_id, or "
                 "this file registered locally when --segment_id is not given)");
  app.add_option("--crc32c", flags.crc32c,
                 "reads: the engine reports each block's CRC32C (fused with copy / receive)");
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;
  if (flags.crc32c && flags.operation != "read") {
    fmt::print(stderr, "--crc32c is for reads only\n");
    return 2;
  }

  auto buffer_size = ParseSize(flags.buffer_size);
  auto slice_size = ParseSize(flags.slice_size);
  if (!buffer_size.ok() || !slice_size.ok()) {
    fmt::print(stderr, "{}\n",
               (!buffer_size.ok() ? buffer_size.status() : slice_size.status()).ToString());
    return 2;
  }
  std::string protocol = flags.protocol == "rdma" ? "ucx" : flags.protocol;
  if (flags.mode == "memcpy") return RunMemcpy(flags, *buffer_size);

  // Block termination signals in every thread; the target waits for them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  transfer::TransferEngineOptions options;
  options.metadata_server = flags.metadata_server;
  options.metadata_lease_ttl = std::chrono::seconds(flags.metadata_lease_ttl);
  options.local_server_name = flags.local_server_name;
  options.protocol = protocol;
  options.shareable_buffers = flags.shareable_buffers;
  options.io_threads = flags.io_threads;
  options.connections_per_peer = flags.connections;
  options.slice_size = *slice_size;
  options.transfer_timeout = std::chrono::milliseconds(flags.transfer_timeout_ms);
  options.auth_secret = common.auth_secret();
  for (size_t start = 0; start < flags.nics.size();) {
    size_t comma = flags.nics.find(',', start);
    if (comma == std::string::npos) comma = flags.nics.size();
    if (comma > start) options.nics.push_back(flags.nics.substr(start, comma - start));
    start = comma + 1;
  }
  auto engine = transfer::TransferEngine::Create(options);
  if (!engine.ok()) {
    fmt::print(stderr, "cannot start transfer engine: {}\n", engine.status().ToString());
    return 1;
  }
  if (flags.mode == "target") return RunTarget(flags, **engine, *buffer_size);
  return RunInitiator(flags, **engine, *buffer_size);
}

}  // namespace
}  // namespace mooncake::bench

int main(int argc, char** argv) { return mooncake::bench::Main(argc, argv); }
