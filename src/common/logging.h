#pragma once

// Internal logging (spdlog). Libraries log through these macros; only apps/ choose the level.

#include <spdlog/spdlog.h>

#include <string_view>

namespace mooncake {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// Sets the process-wide log level. Thread-safe.
void SetLogLevel(LogLevel level);
// Parses "trace|debug|info|warn|error|off"; returns false on anything else.
bool ParseLogLevel(std::string_view text, LogLevel* out);

}  // namespace mooncake

#define MC_LOG_TRACE(...) SPDLOG_TRACE(__VA_ARGS__)
#define MC_LOG_DEBUG(...) ::spdlog::debug(__VA_ARGS__)
#define MC_LOG_INFO(...) ::spdlog::info(__VA_ARGS__)
#define MC_LOG_WARN(...) ::spdlog::warn(__VA_ARGS__)
#define MC_LOG_ERROR(...) ::spdlog::error(__VA_ARGS__)
