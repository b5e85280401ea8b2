#include "cli_status.h"

#include <cstring>
#include <string>

namespace mooncake::cli {

Outcome FromStatus(const Status& status, std::string_view key, std::string_view master) {
  const std::string k(key);
  switch (status.code()) {
    case StatusCode::kOk:
      return Outcome::Ok();
    case StatusCode::kObjectNotFound:
      return {ExitCode::kNotFound, "key not found: " + k};
    case StatusCode::kNoAvailableHandle:
      return {ExitCode::kPoolFull, "pool full: " + status.message()};
    case StatusCode::kObjectAlreadyExists:
      return {ExitCode::kKeyExists, "key exists: " + k + " (use --upsert)"};
    case StatusCode::kObjectHasLease:
      return {ExitCode::kFailed, "key is being read: " + k + " (use --force): " + status.message()};
    case StatusCode::kRpcFail:
    case StatusCode::kRpcTimeout:
      return {ExitCode::kMasterUnreachable,
              "master unreachable at " + std::string(master) + ": " + status.ToString()};
    case StatusCode::kUnauthenticated: {
      // The master client's message already says so; other layers' may not.
      constexpr std::string_view kPrefix = "authentication failed";
      const std::string& detail = status.message();
      return {ExitCode::kAuthFailed,
              detail.rfind(kPrefix, 0) == 0 ? detail : std::string(kPrefix) + ": " + detail};
    }
    case StatusCode::kInvalidKey:
      return {ExitCode::kUsage, "invalid key '" + k + "': " + status.message()};
    case StatusCode::kInvalidParams:
      return {ExitCode::kUsage, "invalid request: " + status.message()};
    default:
      return {ExitCode::kFailed, (k.empty() ? "" : k + ": ") + status.ToString()};
  }
}

Outcome LocalIoError(std::string_view what, int errno_value) {
  return {ExitCode::kLocalIo, std::string(what) + ": " + std::strerror(errno_value)};
}

}  // namespace mooncake::cli
