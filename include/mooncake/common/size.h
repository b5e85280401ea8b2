#pragma once

// Human-readable byte sizes for options and flags ("64 MiB", "4G"). Every unit is a power of
// 1024, including the SI-looking "KB"/"MB"/..., because that is what upstream Mooncake's flags
// mean and a silent 1000-vs-1024 mismatch would under-allocate segments.

#include <cstdint>
#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake {

// Parses "<digits>[ ]*[unit]" with surrounding whitespace ignored. Units, case-insensitive:
// B, K/KB/KiB, M/MB/MiB, G/GB/GiB, T/TB/TiB; no unit means bytes. Returns kInvalidParams,
// quoting the input, for anything else: empty text, signs, fractions, unknown units, overflow.
Result<uint64_t> ParseSize(std::string_view text);

// Largest unit that keeps the value >= 1: "17 B", "64 KiB", "1 GiB", "1.50 MiB" (two decimals
// when not a whole number of that unit).
std::string FormatSize(uint64_t bytes);

}  // namespace mooncake
