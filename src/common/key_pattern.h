#pragma once

// A key pattern for admin operations that select keys by regular expression (RemoveByRegex on
// the master and on the object tier): RE2 syntax, matched anywhere in the key (a search, like
// upstream's std::regex_search; anchor with ^ and $ for a full match), in time linear in the
// key's length whatever the pattern — a pattern such as ^(a+)+$ cannot backtrack for seconds.
//
// RE2 has no backreferences or lookaround; such a pattern is refused (kInvalidParams with RE2's
// reason), a documented deviation from upstream's ECMAScript regexes (COMPAT.md). Patterns
// and keys are UTF-8 ('.' matches one code point).
//
// Thread safety: a compiled KeyPattern is immutable; Matches may be called from any number of
// threads at once. Copies share the compiled program.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "mooncake/common/status.h"

namespace mooncake {

class KeyPattern {
 public:
  // Longest pattern accepted, in bytes (the longest key is 4096 bytes; a pattern longer than
  // any key it could sensibly select is a mistake or an attack).
  static constexpr size_t kMaxPatternBytes = 4096;
  // Memory RE2 may spend on one pattern's compiled program and its DFA cache, in bytes. A
  // pattern whose program does not fit is refused; a DFA that outgrows it falls back to RE2's
  // (still linear) NFA. Bounds what one admin call can take from the master.
  static constexpr int64_t kMaxMemoryBytes = int64_t{8} << 20;

  // Compiles `pattern`. kInvalidParams naming the pattern (its first 100 bytes) and RE2's
  // reason when RE2 rejects it or it is longer than kMaxPatternBytes. The empty pattern
  // matches every key.
  static Result<KeyPattern> Compile(std::string_view pattern);

  // Whether some substring of `key` matches.
  bool Matches(std::string_view key) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Program;
  KeyPattern(std::string pattern, std::shared_ptr<const Program> program);

  std::string pattern_;
  std::shared_ptr<const Program> program_;
};

}  // namespace mooncake
