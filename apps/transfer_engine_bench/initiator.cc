// transfer_engine_bench --mode=initiator: threads moving batches of blocks to or from a
// target's buffer (or file segment) for --duration, then a verification of a sample and one
// RESULT line.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench_modes.h"
#include "bench_pattern.h"
#include "mooncake/common/crc32c.h"

namespace mooncake::bench {
namespace {

struct ThreadResult {
  uint64_t bytes = 0;
  uint64_t batches = 0;
  Clock::time_point first_submit{};
  Clock::time_point last_done{};
  std::vector<double> batch_us;
  std::string error;
  bool unauthenticated = false;  // the error is an authentication failure
};

// Waits for a batch the way a store client does: TransferEngine::WaitBatch (a short spin, then
// woken by the transport thread that finishes the last task), then the tasks' outcomes.
// Polling here (as this bench did until 2026-12-08) added its own sleep granularity to every
// batch-1 latency it reported.
Status WaitBatch(transfer::TransferEngine& engine, transfer::BatchId batch, size_t n,
                 std::chrono::seconds limit) {
  MC_RETURN_IF_ERROR(engine.WaitBatch(batch, Clock::now() + limit));
  for (size_t i = 0; i < n; ++i) {
    MC_ASSIGN_OR_RETURN(transfer::TransferStatus st, engine.GetTransferStatus(batch, i));
    if (st.state == transfer::TransferState::kFailed) return st.error;
  }
  return Status::Ok();
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

}  // namespace

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

}  // namespace mooncake::bench
