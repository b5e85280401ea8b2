#pragma once

// How the `mooncake` CLI reports an outcome: an exit code a script can branch on and a message
// for stderr that says what went wrong in the user's terms (the key, the master's address).

#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake::cli {

// The CLI's exit codes (also listed in `mooncake --help`).
enum class ExitCode : int {
  kOk = 0,
  // The key does not exist (and `exists` answering "no").
  kNotFound = 1,
  // Bad command line, bad key or bad size.
  kUsage = 2,
  kMasterUnreachable = 3,
  // No segment has room for the object, even after eviction.
  kPoolFull = 4,
  // `put` of a key that exists, without --upsert.
  kKeyExists = 5,
  // A local file could not be read or written.
  kLocalIo = 6,
  // Anything else (transfer failure, checksum mismatch, ...).
  kFailed = 7,
  // The master (or a storage node) refused this process's cluster-secret proof: no
  // --auth_secret_file / $MC_AUTH_SECRET_FILE, a different secret, or clocks far apart.
  kAuthFailed = 8,
};

struct Outcome {
  ExitCode code = ExitCode::kOk;
  // Printed to stderr as "mooncake: <message>" when code is not kOk; may be empty then.
  std::string message;

  static Outcome Ok() { return {}; }
  bool ok() const { return code == ExitCode::kOk; }
};

// Maps a store or master failure on `key` ("" when none) to an outcome:
//   OBJECT_NOT_FOUND      -> kNotFound          "key not found: KEY"
//   NO_AVAILABLE_HANDLE   -> kPoolFull          "pool full: <detail>"
//   OBJECT_ALREADY_EXISTS -> kKeyExists         "key exists: KEY (use --upsert)"
//   RPC_FAIL, RPC_TIMEOUT -> kMasterUnreachable "master unreachable at MASTER: <detail>"
//   UNAUTHENTICATED       -> kAuthFailed        "authentication failed: <detail>"
//   INVALID_KEY, INVALID_PARAMS -> kUsage; everything else kFailed with the status text.
Outcome FromStatus(const Status& status, std::string_view key, std::string_view master);

// kLocalIo: "<what>: <strerror(errno_value)>".
Outcome LocalIoError(std::string_view what, int errno_value);

}  // namespace mooncake::cli
