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

#include <fmt/format.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "apps/common/app_flags.h"
#include "bench_modes.h"
#include "bench_pattern.h"
#include "common/logging.h"
#include "mooncake/common/size.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::bench {
namespace {

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
