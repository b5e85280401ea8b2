// object_store_bench: puts and gets whole objects through the object-storage tier
// (tier::ObjectStore) and prints throughput; the anchor in bench/tier_bench.sh is `aws s3 cp`
// against the same server.
//   object_store_bench --url=s3://bucket/prefix --endpoint=http://127.0.0.1:4568
//                      --op=put|get|both --size=64MiB --count=4
// Credentials and region come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
// and AWS_DEFAULT_REGION (or AWS_REGION), as for the AWS CLI.
// Last line: RESULT op=... size=... count=... put_MBps=... get_MBps=... verified=yes

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/app_flags.h"
#include "common/logging.h"
#include "mooncake/common/size.h"
#include "tier/object_store.h"
#include "tier/object_store_credentials.h"

namespace mooncake::tier {
namespace {

using Clock = std::chrono::steady_clock;

std::string Env(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v != nullptr && *v ? v : fallback;
}

void Fill(std::vector<char>& data, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < data.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(data.data() + i, &x, std::min<size_t>(8, data.size() - i));
  }
}

int Main(int argc, char** argv) {
  std::string url, endpoint, op = "both", size_text = "64MiB";
  int count = 4;
  CLI::App app{"object-storage tier benchmark"};
  app::AppFlags common(app, "object_store_bench", LogLevel::kWarn);
  app.add_option("--url", url, "s3://bucket[/prefix] or file:///dir")->required();
  app.add_option("--endpoint", endpoint, "S3-compatible server, e.g. http://127.0.0.1:4568");
  app.add_option("--op", op, "put | get | both")->check(CLI::IsMember({"put", "get", "both"}));
  app.add_option("--size", size_text, "bytes per object, e.g. 64MiB");
  app.add_option("--count", count, "objects")->check(CLI::Range(1, 10000));
  if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;
  auto size = ParseSize(size_text);
  if (!size.ok()) {
    fmt::print(stderr, "--size: {}\n", size.status().ToString());
    return 2;
  }
  ObjectTierConfig tier;
  tier.url = url;
  tier.endpoint = endpoint;
  tier.region = Env("AWS_DEFAULT_REGION", Env("AWS_REGION", "us-east-1"));
  auto store = ObjectStore::Open(tier, CredentialsFromEnvironment());
  if (!store.ok()) {
    fmt::print(stderr, "cannot open the object store: {}\n", store.status().ToString());
    return 1;
  }
  std::vector<char> data(*size), back(*size);
  double put_mbps = 0, get_mbps = 0;
  if (op != "get") {
    double seconds = 0;
    for (int i = 0; i < count; ++i) {
      Fill(data, i);
      const auto start = Clock::now();
      Status s = (*store)->Put(fmt::format("bench-{}", i), data);
      seconds += std::chrono::duration<double>(Clock::now() - start).count();
      if (!s.ok()) {
        fmt::print(stderr, "put failed: {}\n", s.ToString());
        return 1;
      }
    }
    put_mbps = static_cast<double>(*size) * count / seconds / 1e6;
  }
  if (op != "put") {
    double seconds = 0;
    for (int i = 0; i < count; ++i) {
      const auto start = Clock::now();
      Status s = (*store)->Get(fmt::format("bench-{}", i), 0, back);
      seconds += std::chrono::duration<double>(Clock::now() - start).count();
      if (!s.ok()) {
        fmt::print(stderr, "get failed: {}\n", s.ToString());
        return 1;
      }
      Fill(data, i);
      if (back != data) {
        fmt::print(stderr, "VERIFY FAILED: object bench-{} differs\n", i);
        return 1;
      }
    }
    get_mbps = static_cast<double>(*size) * count / seconds / 1e6;
  }
  fmt::print("RESULT op={} size={} count={} put_MBps={:.1f} get_MBps={:.1f} verified=yes\n", op,
             *size, count, put_mbps, get_mbps);
  return 0;
}

}  // namespace
}  // namespace mooncake::tier

int main(int argc, char** argv) { return mooncake::tier::Main(argc, argv); }
