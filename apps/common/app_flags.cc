#include "apps/common/app_flags.h"

#include <array>
#include <cstdio>
#include <string_view>
#include <utility>
#include <vector>

namespace mooncake::app {
namespace {

// Indexed by LogLevel; the spellings ParseLogLevel accepts.
constexpr std::array<const char*, 6> kLogLevelNames = {"trace", "debug", "info",
                                                       "warn",  "error", "off"};

}  // namespace

AppFlags::AppFlags(CLI::App& cli, std::string binary_name, LogLevel default_level)
    : cli_(cli), log_level_(kLogLevelNames[static_cast<size_t>(default_level)]) {
  // Checked by CLI11 while parsing, so a typo fails like any other bad flag (same message
  // format, same exit code) instead of each main wording and numbering its own refusal.
  cli_.add_option("--log_level", log_level_, "Log verbosity")
      ->check(CLI::IsMember(std::vector<std::string>(kLogLevelNames.begin(), kLogLevelNames.end())))
      ->capture_default_str();
  cli_.add_option("--auth_secret_file", auth_secret_file_,
                  "Cluster secret file (mode 600; one key per line, the first signs). Default: "
                  "$MC_AUTH_SECRET_FILE, else none: the cluster is open to anyone who can "
                  "reach it");
  // MC_PROJECT_VERSION is CMake's PROJECT_VERSION (apps/common/CMakeLists.txt).
  cli_.set_version_flag("--version", std::move(binary_name) + " " + MC_PROJECT_VERSION,
                        "Print the binary's name and version and exit");
}

std::optional<int> AppFlags::Parse(int argc, const char* const* argv) {
  return ParseImpl(argc, argv, std::nullopt);
}

std::optional<int> AppFlags::Parse(int argc, const char* const* argv, int usage_exit_code) {
  return ParseImpl(argc, argv, usage_exit_code);
}

std::optional<int> AppFlags::ParseImpl(int argc, const char* const* argv,
                                       std::optional<int> usage_exit_code) {
  try {
    cli_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive here too, as CLI::Success (exit code 0).
    const int code = cli_.exit(e);
    return code != 0 && usage_exit_code.has_value() ? *usage_exit_code : code;
  }
  SetLogLevel(log_level());
  Result<std::shared_ptr<const auth::ClusterSecret>> secret =
      auth::LoadConfiguredSecret(auth_secret_file_);
  if (!secret.ok()) {
    std::fprintf(stderr, "error: %s\n", secret.status().message().c_str());
    // CLI11 uses 105 for a flag that fails its check; a secret file is such a flag.
    return usage_exit_code.value_or(static_cast<int>(CLI::ExitCodes::ValidationError));
  }
  auth_secret_ = std::move(*secret);
  return std::nullopt;
}

LogLevel AppFlags::log_level() const {
  LogLevel level = LogLevel::kInfo;
  // Cannot fail: the constructor's default and CLI11's check admit only kLogLevelNames.
  ParseLogLevel(log_level_, &level);
  return level;
}

}  // namespace mooncake::app
