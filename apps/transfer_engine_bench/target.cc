// transfer_engine_bench --mode=target: owns a registered buffer (and optionally a file
// segment) filled with the target pattern, prints READY, serves until SIGINT/SIGTERM.

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bench_modes.h"
#include "bench_pattern.h"

namespace mooncake::bench {

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

}  // namespace mooncake::bench
