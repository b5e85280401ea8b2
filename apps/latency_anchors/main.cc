// latency_anchors: the anchors the latency benchmarks print next to their own figures, measured
// on this machine in the same run (bench/te_latency.sh).
//   --anchor=tcp          a blocking TCP request of --request_bytes answered with
//                         --response_bytes over loopback (tcp_request_response.h)
//   --anchor=memcpy_wake  a futex handoff to another thread that copies --response_bytes and
//                         wakes the caller back (memcpy_wake.h)
// Threads unpinned unless --pinned. Prints one line:
//   RESULT anchor=… request_bytes=… response_bytes=… round_trips=… pinned=0|1 p50_us=… p99_us=…
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "apps/common/app_flags.h"
#include "apps/latency_anchors/memcpy_wake.h"
#include "apps/latency_anchors/tcp_request_response.h"

int main(int argc, char** argv) {
  CLI::App app{"Latency anchors for the engine's latency benchmark"};
  mooncake::app::AppFlags common(app, "latency_anchors", mooncake::LogLevel::kWarn);
  std::string anchor = "tcp";
  size_t request_bytes = 64;
  size_t response_bytes = 4096;
  size_t round_trips = 5000;
  bool pinned = false;
  app.add_option("--anchor", anchor, "tcp or memcpy_wake")
      ->check(CLI::IsMember({"tcp", "memcpy_wake"}));
  app.add_option("--request_bytes", request_bytes, "request size (tcp)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  app.add_option("--response_bytes", response_bytes, "response size (tcp), bytes copied (memcpy)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  app.add_option("--round_trips", round_trips, "measured round trips (after 200 warm-up ones)")
      ->check(CLI::Range(size_t{1}, size_t{10000000}));
  app.add_flag("--pinned", pinned,
               "pin the two threads to CPUs 0 and 1 (default: unpinned, like the engine's)");
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;

  using mooncake::bench::Pinning;
  const Pinning pinning = pinned ? Pinning::kPinned : Pinning::kUnpinned;
  auto result = anchor == "tcp"
                    ? mooncake::bench::RunTcpRequestResponse(round_trips, request_bytes,
                                                             response_bytes, pinning)
                    : mooncake::bench::RunMemcpyWake(round_trips, response_bytes, pinning);
  if (!result.ok()) {
    fmt::print(stderr, "latency_anchors: {}\n", result.status().ToString());
    return 1;
  }
  fmt::print(
      "RESULT anchor={} request_bytes={} response_bytes={} round_trips={} pinned={} "
      "p50_us={:.1f} p99_us={:.1f}\n",
      anchor, anchor == "tcp" ? request_bytes : 0, response_bytes, round_trips, pinned ? 1 : 0,
      result->p50_us, result->p99_us);
  return 0;
}
