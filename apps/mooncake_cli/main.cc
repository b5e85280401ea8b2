// mooncake: the Mooncake Store command line.
//   mooncake --master=127.0.0.1:50051 put KEY FILE|-     (--replica_num N, --upsert)
//   mooncake get KEY [FILE|-]                             (default: stdout)
//   mooncake rm KEY [--force] | exists KEY | ls [PREFIX] [--limit N] | stat
// Exit codes: 0 ok, 1 key not found (exists: absent), 2 usage, 3 master unreachable,
// 4 pool full, 5 key exists, 6 local file error, 7 other failure, 8 authentication failed.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <string>

#include "apps/common/app_flags.h"
#include "commands.h"
#include "common/logging.h"

namespace mooncake::cli {
namespace {

constexpr const char* kFooter =
    "Exit codes: 0 ok, 1 key not found (exists: absent), 2 usage, 3 master unreachable,\n"
    "4 pool full, 5 key exists (put without --upsert), 6 local file error, 7 other failure,\n"
    "8 authentication failed (the master refused this process's cluster secret: use the\n"
    "master's --auth_secret_file or $MC_AUTH_SECRET_FILE).";

int Run(int argc, char** argv) {
  CliOptions options;
  int timeout_ms = static_cast<int>(options.rpc_timeout.count());
  CLI::App app{"Mooncake Store command line: put, get, remove and list objects; cluster status"};
  app::AppFlags common(app, "mooncake", LogLevel::kError);
  app.footer(kFooter);
  app.fallthrough();  // global flags may also follow the command
  app.require_subcommand(1);
  app.add_option("--master", options.master, "host:port of mooncake_master")->capture_default_str();
  app.add_option("--timeout_ms", timeout_ms, "Deadline of each master RPC")
      ->check(CLI::Range(1, 3600000))
      ->capture_default_str();
  app.add_option("--protocol", options.protocol, "Transfer Engine protocol for put/get")
      ->capture_default_str();
  app.add_option("--local_hostname", options.local_hostname,
                 "This process's Transfer Engine host:port (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--metadata_server", options.metadata_server, "P2PHANDSHAKE or etcd://host:port")
      ->capture_default_str();

  PutArgs put;
  CLI::App* put_cmd = app.add_subcommand("put", "Store FILE (or stdin: -) under KEY");
  put_cmd->add_option("KEY", put.key, "Object key")->required();
  put_cmd->add_option("FILE", put.source, "File to store, - for stdin")->required();
  put_cmd->add_option("--replica_num", put.replica_num, "Copies on distinct nodes")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  put_cmd->add_flag("--upsert", put.upsert, "Replace KEY if it exists");

  GetArgs get;
  CLI::App* get_cmd = app.add_subcommand("get", "Write KEY's value to FILE (default: stdout)");
  get_cmd->add_option("KEY", get.key, "Object key")->required();
  get_cmd->add_option("FILE", get.destination, "Destination file, - for stdout");

  RemoveArgs rm;
  CLI::App* rm_cmd = app.add_subcommand("rm", "Remove KEY");
  rm_cmd->add_option("KEY", rm.key, "Object key")->required();
  rm_cmd->add_flag("--force", rm.force, "Remove even while a reader holds a lease");

  std::string exists_key;
  CLI::App* exists_cmd = app.add_subcommand("exists", "Exit 0 if KEY exists, 1 if not");
  exists_cmd->add_option("KEY", exists_key, "Object key")->required();

  ListArgs ls;
  CLI::App* ls_cmd = app.add_subcommand("ls", "List keys (sorted), optionally with a PREFIX");
  ls_cmd->add_option("PREFIX", ls.prefix, "Only keys starting with this");
  ls_cmd->add_option("--limit", ls.limit, "Most keys listed; 0: all")->capture_default_str();

  CLI::App* stat_cmd =
      app.add_subcommand("stat", "Nodes, segments, capacity and use, objects, hit rate");

  if (std::optional<int> exit_code = common.Parse(argc, argv, static_cast<int>(ExitCode::kUsage))) {
    return *exit_code;
  }
  options.rpc_timeout = std::chrono::milliseconds(timeout_ms);
  options.auth_secret = common.auth_secret();

  Outcome outcome;
  if (*put_cmd) {
    outcome = RunPut(options, put);
  } else if (*get_cmd) {
    outcome = RunGet(options, get);
  } else if (*rm_cmd) {
    outcome = RunRemove(options, rm);
  } else if (*exists_cmd) {
    outcome = RunExists(options, exists_key);
  } else if (*ls_cmd) {
    outcome = RunList(options, ls);
  } else if (*stat_cmd) {
    outcome = RunStat(options);
  }
  std::fflush(stdout);
  if (!outcome.ok() && !outcome.message.empty()) {
    std::fprintf(stderr, "mooncake: %s\n", outcome.message.c_str());
  }
  return static_cast<int>(outcome.code);
}

}  // namespace
}  // namespace mooncake::cli

int main(int argc, char** argv) { return mooncake::cli::Run(argc, argv); }
