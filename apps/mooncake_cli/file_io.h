#pragma once

// Whole-value file I/O for the CLI: a file or stdin read into memory, memory written to a
// file or stdout, in pieces so a Progress can follow.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "cli_status.h"
#include "progress.h"

namespace mooncake::cli {

// The size of `path` when it is a regular file; 0 for "-", pipes and devices (unknown).
uint64_t KnownSize(const std::string& path);

// Reads all of `path` ("-" = stdin) into `out`. kLocalIo naming the path on failure.
Outcome ReadInput(const std::string& path, std::vector<uint8_t>& out, Progress& progress);

// Writes `bytes` to `path` ("-" = stdout), creating or truncating it. kLocalIo naming the path
// on failure.
Outcome WriteOutput(const std::string& path, std::span<const uint8_t> bytes, Progress& progress);

}  // namespace mooncake::cli
