#pragma once

// The `mooncake` CLI's commands. Data commands (put, get) move bytes through a store Client;
// index commands (rm, exists, ls, stat) are master RPCs only, so they start no Transfer Engine.
// Each returns the outcome main() turns into a message and an exit code; results go to stdout.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "cli_status.h"
#include "mooncake/common/cluster_secret.h"

namespace mooncake::cli {

// Flags every command shares.
struct CliOptions {
  // "host:port" of mooncake_master. Default "127.0.0.1:50051".
  std::string master = "127.0.0.1:50051";
  // Deadline of each master RPC. Default 5 s.
  std::chrono::milliseconds rpc_timeout{5000};
  // Transfer Engine protocol of put/get. Default "tcp".
  std::string protocol = "tcp";
  // This process's Transfer Engine name; port 0 picks a free one. Default "127.0.0.1:0".
  std::string local_hostname = "127.0.0.1:0";
  // Transfer Engine metadata. Default "P2PHANDSHAKE".
  std::string metadata_server = "P2PHANDSHAKE";
  // The cluster secret (--auth_secret_file or $MC_AUTH_SECRET_FILE); null: none.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
};

struct PutArgs {
  std::string key;
  // A file path, or "-" for stdin.
  std::string source = "-";
  int replica_num = 1;
  // Replace an existing key instead of failing with kKeyExists.
  bool upsert = false;
};

struct GetArgs {
  std::string key;
  // A file path, or "-" for stdout.
  std::string destination = "-";
};

struct RemoveArgs {
  std::string key;
  // Remove even while a reader holds a lease.
  bool force = false;
};

struct ListArgs {
  std::string prefix;
  // Most keys printed; 0 = all of them.
  uint64_t limit = 1000;
};

// data_commands.cc
Outcome RunPut(const CliOptions& options, const PutArgs& args);
Outcome RunGet(const CliOptions& options, const GetArgs& args);

// index_commands.cc
Outcome RunRemove(const CliOptions& options, const RemoveArgs& args);
// kOk when the key exists, kNotFound (silently) when it does not.
Outcome RunExists(const CliOptions& options, const std::string& key);
Outcome RunList(const CliOptions& options, const ListArgs& args);
Outcome RunStat(const CliOptions& options);

}  // namespace mooncake::cli
