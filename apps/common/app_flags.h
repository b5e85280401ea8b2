#pragma once

// The flags every binary in apps/ has, added and parsed in one place so that they behave the
// same in each:
//   --log_level=trace|debug|info|warn|error|off   default chosen per binary; any other value is
//                                                 a parse error naming the allowed values
//   --version                                     prints "<binary> <project version>", exits 0
//   --auth_secret_file=FILE                       the cluster secret (docs/security.md); absent:
//                                                 $MC_AUTH_SECRET_FILE, else none (open cluster)
// A main uses it as:
//   CLI::App cli{"What the binary does"};
//   app::AppFlags common(cli, "mooncake_master", LogLevel::kInfo);
//   cli.add_option(...);  // the binary's own flags
//   if (std::optional<int> exit_code = common.Parse(argc, argv)) return *exit_code;

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "common/logging.h"
#include "mooncake/common/cluster_secret.h"

namespace mooncake::app {

// Owns the value CLI11 parses --log_level into, so it must stay where it was constructed (no
// copies, no moves) until Parse returns. Single-threaded, like the main that uses it.
class AppFlags {
 public:
  // Adds --log_level (default `default_level`, shown in --help) and --version to `cli`, which
  // must outlive this object. `binary_name` is the name --version prints.
  AppFlags(CLI::App& cli, std::string binary_name, LogLevel default_level);
  AppFlags(const AppFlags&) = delete;
  AppFlags& operator=(const AppFlags&) = delete;

  // Parses the command line into `cli`. Returns nullopt when the main should go on; the log
  // level is then applied (SetLogLevel) and the cluster secret loaded. A secret file that
  // cannot be used (missing, readable by others, too short) ends the run like a bad flag, with
  // the reason on stderr. Otherwise CLI11 has printed the help, the version
  // (stdout) or the error (stderr) and the main should return the code: 0 after --help or
  // --version, CLI11's exit code for a bad flag.
  std::optional<int> Parse(int argc, const char* const* argv);
  // As above, but a bad flag ends the run with `usage_exit_code`: for binaries whose documented
  // exit codes give usage errors a number of their own.
  std::optional<int> Parse(int argc, const char* const* argv, int usage_exit_code);

  // The level parsed (before Parse: the default).
  LogLevel log_level() const;
  // The cluster secret from --auth_secret_file or $MC_AUTH_SECRET_FILE; null when neither is
  // set (or before Parse). Shared: pass it into every component's options.
  const std::shared_ptr<const auth::ClusterSecret>& auth_secret() const { return auth_secret_; }

 private:
  std::optional<int> ParseImpl(int argc, const char* const* argv,
                               std::optional<int> usage_exit_code);

  CLI::App& cli_;
  std::string log_level_;  // one of kLogLevelNames (app_flags.cc); CLI11 refuses the rest
  std::string auth_secret_file_;
  std::shared_ptr<const auth::ClusterSecret> auth_secret_;
};

}  // namespace mooncake::app
