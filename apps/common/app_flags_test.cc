#include "apps/common/app_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace mooncake::app {
namespace {

using ::testing::HasSubstr;

// Parses `args` (without the program name) through AppFlags on a fresh CLI::App that also has
// one flag of its own, like a main.
struct ParseResult {
  std::optional<int> exit_code;
  LogLevel level = LogLevel::kInfo;
  std::string out;
  std::string err;
  int own_flag = 0;
  std::string secret_key_id;  // KeyId() of the loaded secret, empty when none
};

ParseResult ParseArgs(LogLevel default_level, std::vector<std::string> args,
                      std::optional<int> usage_exit_code = std::nullopt) {
  CLI::App cli{"test binary"};
  AppFlags flags(cli, "tool", default_level);
  ParseResult result;
  cli.add_option("--own", result.own_flag, "A flag of the binary's own");
  args.insert(args.begin(), "/some/dir/tool");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  result.exit_code = usage_exit_code
                         ? flags.Parse(static_cast<int>(argv.size()), argv.data(), *usage_exit_code)
                         : flags.Parse(static_cast<int>(argv.size()), argv.data());
  result.out = testing::internal::GetCapturedStdout();
  result.err = testing::internal::GetCapturedStderr();
  result.level = flags.log_level();
  if (flags.auth_secret() != nullptr) result.secret_key_id = flags.auth_secret()->KeyId();
  return result;
}

TEST(AppFlagsTest, DefaultLevelIsAppliedWhenTheFlagIsAbsent) {
  spdlog::set_level(spdlog::level::off);
  const ParseResult result = ParseArgs(LogLevel::kWarn, {"--own=7"});
  EXPECT_EQ(result.exit_code, std::nullopt) << result.err;
  EXPECT_EQ(result.own_flag, 7);
  EXPECT_EQ(result.level, LogLevel::kWarn);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::warn);
}

TEST(AppFlagsTest, ValidLevelIsParsedAndApplied) {
  spdlog::set_level(spdlog::level::off);
  const ParseResult result = ParseArgs(LogLevel::kWarn, {"--log_level=debug"});
  EXPECT_EQ(result.exit_code, std::nullopt) << result.err;
  EXPECT_EQ(result.level, LogLevel::kDebug);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::debug);

  EXPECT_EQ(ParseArgs(LogLevel::kInfo, {"--log_level", "off"}).level, LogLevel::kOff);
  EXPECT_EQ(spdlog::get_level(), spdlog::level::off);
}

TEST(AppFlagsTest, InvalidLevelIsRefusedByTheParseNamingFlagAndChoices) {
  spdlog::set_level(spdlog::level::err);
  const ParseResult result = ParseArgs(LogLevel::kWarn, {"--log_level=loud"});
  ASSERT_TRUE(result.exit_code.has_value());
  EXPECT_EQ(*result.exit_code, static_cast<int>(CLI::ExitCodes::ValidationError));
  EXPECT_THAT(result.err, HasSubstr("--log_level"));
  EXPECT_THAT(result.err, HasSubstr("loud"));
  EXPECT_THAT(result.err, HasSubstr("trace,debug,info,warn,error,off"));
  EXPECT_EQ(result.out, "");
  // Nothing is applied when the parse fails.
  EXPECT_EQ(spdlog::get_level(), spdlog::level::err);
}

TEST(AppFlagsTest, UsageExitCodeReplacesCli11sCodeForBadFlagsOnly) {
  EXPECT_EQ(ParseArgs(LogLevel::kWarn, {"--log_level=loud"}, 2).exit_code, 2);
  EXPECT_EQ(ParseArgs(LogLevel::kWarn, {"--no_such_flag"}, 2).exit_code, 2);
  EXPECT_EQ(ParseArgs(LogLevel::kWarn, {"--version"}, 2).exit_code, 0);
  EXPECT_EQ(ParseArgs(LogLevel::kWarn, {"--help"}, 2).exit_code, 0);
  EXPECT_EQ(ParseArgs(LogLevel::kWarn, {}, 2).exit_code, std::nullopt);
}

TEST(AppFlagsTest, VersionPrintsNameAndProjectVersionAndExitsZero) {
  const ParseResult result = ParseArgs(LogLevel::kWarn, {"--version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, std::string("tool ") + MC_EXPECTED_VERSION + "\n");
  EXPECT_EQ(result.err, "");
}

TEST(AppFlagsTest, HelpListsTheSharedFlagsWithTheDefaultLevel) {
  const ParseResult result = ParseArgs(LogLevel::kError, {"--help"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr("--log_level"));
  EXPECT_THAT(result.out, HasSubstr("=error"));
  EXPECT_THAT(result.out, HasSubstr("--version"));
  EXPECT_THAT(result.out, HasSubstr("--own"));
  EXPECT_THAT(result.out, HasSubstr("--auth_secret_file"));
}

TEST(AppFlagsTest, SecretFileIsLoadedAndAnUnsafeOneEndsTheRunNamingTheFix) {
  char dir_template[] = "/tmp/mc_app_flags.XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string good = dir + "/good", open_to_all = dir + "/open";
  const std::string key = "0123456789abcdef0123456789abcdef";
  std::ofstream(good) << key << "\n";
  std::ofstream(open_to_all) << key << "\n";
  ASSERT_EQ(chmod(good.c_str(), 0600), 0);
  ASSERT_EQ(chmod(open_to_all.c_str(), 0644), 0);

  unsetenv(auth::kSecretFileEnv);
  const ParseResult loaded = ParseArgs(LogLevel::kWarn, {"--auth_secret_file=" + good});
  EXPECT_EQ(loaded.exit_code, std::nullopt) << loaded.err;
  EXPECT_EQ(loaded.secret_key_id, auth::ClusterSecret::FromText(key)->KeyId());
  EXPECT_EQ(ParseArgs(LogLevel::kWarn, {}).secret_key_id, "");

  const ParseResult refused = ParseArgs(LogLevel::kWarn, {"--auth_secret_file=" + open_to_all}, 2);
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("chmod 600"));
  EXPECT_EQ(refused.secret_key_id, "");

  setenv(auth::kSecretFileEnv, open_to_all.c_str(), 1);
  const ParseResult from_env = ParseArgs(LogLevel::kWarn, {});
  unsetenv(auth::kSecretFileEnv);
  EXPECT_NE(from_env.exit_code, std::nullopt);
  EXPECT_THAT(from_env.err, HasSubstr(open_to_all));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mooncake::app
