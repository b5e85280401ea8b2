#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace mooncake {

void SetLogLevel(LogLevel level) {
  static const spdlog::level::level_enum kMap[] = {spdlog::level::trace, spdlog::level::debug,
                                                   spdlog::level::info,  spdlog::level::warn,
                                                   spdlog::level::err,   spdlog::level::off};
  spdlog::set_level(kMap[static_cast<int>(level)]);
}

bool ParseLogLevel(std::string_view text, LogLevel* out) {
  struct Entry {
    std::string_view name;
    LogLevel level;
  };
  static const Entry kEntries[] = {{"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},
                                   {"info", LogLevel::kInfo},   {"warn", LogLevel::kWarn},
                                   {"error", LogLevel::kError}, {"off", LogLevel::kOff}};
  for (const auto& e : kEntries) {
    if (e.name == text) {
      *out = e.level;
      return true;
    }
  }
  return false;
}

}  // namespace mooncake
