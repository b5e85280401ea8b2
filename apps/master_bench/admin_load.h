#pragma once

// master_bench --op=admin: what whole-index admin calls cost everyone else. Measures the
// latency of small single-key RPCs (ExistKey and GetReplicaList, alternating) first on an idle
// master, then while another client loops RemoveByRegex with a backtracking-prone pattern and
// ListKeys over the same index, in the same run, and prints both with their ratio.

#include <cstddef>
#include <string>

namespace mooncake::bench {

struct AdminLoadOptions {
  // host:port of the master. Required.
  std::string master;
  // Objects put first (a tenth are runs of 'a' ending in 'b': the worst case for ^(a+)+$ under
  // a backtracking matcher). Default 20000.
  size_t keys = 20000;
  // Seconds each phase (idle, under admin load) measures. Default 5.
  double duration_s = 5;
  // Deadline of every RPC, ms. Default 5000.
  int rpc_timeout_ms = 5000;
  // The pattern the admin client removes by; it must match none of the preloaded keys, so
  // every call scans the same index. Default ^(a+)+$.
  std::string pattern = "^(a+)+$";
  // Client id and key prefix unique to the run.
  std::string run_id;
};

// Runs both phases and prints the figures and a final RESULT line; returns the exit code.
int RunAdminLoad(const AdminLoadOptions& options);

}  // namespace mooncake::bench
