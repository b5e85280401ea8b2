#pragma once

// A scratch directory for one test, removed with everything in it when the owner goes away.

#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake::testing {

// Move-only. Not thread-safe; the directory's contents may of course be used from any thread.
class TempDir {
 public:
  // Creates a fresh directory "<$TMPDIR or /tmp>/<prefix>.XXXXXX" (mode 0700).
  static Result<TempDir> Create(std::string_view prefix = "mc_test");

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Removes the directory recursively; errors are ignored (a test must not fail in cleanup).
  ~TempDir();

  // Absolute path, no trailing slash. Empty after being moved from.
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(std::string_view name) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void Remove();

  std::string path_;
};

}  // namespace mooncake::testing
