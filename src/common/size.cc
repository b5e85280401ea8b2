#include "mooncake/common/size.h"

#include <array>
#include <cctype>
#include <cstdio>

namespace mooncake {
namespace {

struct Unit {
  std::string_view name;  // Lower-case; matched case-insensitively.
  int shift;              // The unit is 1 << shift bytes.
};

constexpr std::array<Unit, 14> kUnits = {{{"b", 0},
                                          {"k", 10},
                                          {"kb", 10},
                                          {"kib", 10},
                                          {"m", 20},
                                          {"mb", 20},
                                          {"mib", 20},
                                          {"g", 30},
                                          {"gb", 30},
                                          {"gib", 30},
                                          {"t", 40},
                                          {"tb", 40},
                                          {"tib", 40},
                                          {"", 0}}};

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view lower, std::string_view text) {
  if (lower.size() != text.size()) return false;
  for (size_t i = 0; i < lower.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != lower[i]) return false;
  }
  return true;
}

Status SizeError(std::string_view input, std::string_view why) {
  return InvalidParams("invalid size \"" + std::string(input) + "\": " + std::string(why));
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  std::string_view rest = Trim(text);
  if (rest.empty()) return SizeError(text, "empty; expected e.g. \"64MiB\"");
  if (!IsDigit(rest.front())) {
    return SizeError(text, "must start with a non-negative integer");
  }
  uint64_t number = 0;
  while (!rest.empty() && IsDigit(rest.front())) {
    uint64_t digit = static_cast<uint64_t>(rest.front() - '0');
    if (number > (UINT64_MAX - digit) / 10) return SizeError(text, "does not fit in 64 bits");
    number = number * 10 + digit;
    rest.remove_prefix(1);
  }
  rest = Trim(rest);
  if (!rest.empty() && (rest.front() == '.' || rest.front() == ',')) {
    return SizeError(text, "fractions are not allowed; use a smaller unit");
  }
  for (const Unit& unit : kUnits) {
    if (!EqualsIgnoreCase(unit.name, rest)) continue;
    if (unit.shift > 0 && number > (UINT64_MAX >> unit.shift)) {
      return SizeError(text, "does not fit in 64 bits");
    }
    return number << unit.shift;
  }
  return SizeError(text, "unknown unit \"" + std::string(rest) +
                             "\"; expected B, K/KB/KiB, M/MB/MiB, G/GB/GiB or T/TB/TiB");
}

std::string FormatSize(uint64_t bytes) {
  static constexpr std::array<std::string_view, 7> kNames = {"B",   "KiB", "MiB", "GiB",
                                                             "TiB", "PiB", "EiB"};
  size_t index = 0;
  while (index + 1 < kNames.size() && (bytes >> (10 * (index + 1))) != 0) ++index;
  const uint64_t unit = uint64_t{1} << (10 * index);
  std::string name(kNames[index]);
  if (bytes % unit == 0) return std::to_string(bytes / unit) + " " + name;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(bytes) / static_cast<double>(unit));
  return std::string(buf) + " " + name;
}

}  // namespace mooncake
