#include "common/key_pattern.h"

#include <re2/re2.h>

#include <utility>

namespace mooncake {

struct KeyPattern::Program {
  explicit Program(std::string_view pattern, const RE2::Options& options)
      : re(re2::StringPiece(pattern.data(), pattern.size()), options) {}
  RE2 re;
};

namespace {

// The pattern as an error message quotes it: long ones are cut, so the message stays readable.
std::string Quoted(std::string_view pattern) {
  constexpr size_t kShown = 100;
  if (pattern.size() <= kShown) return "'" + std::string(pattern) + "'";
  return "'" + std::string(pattern.substr(0, kShown)) + "...' (" + std::to_string(pattern.size()) +
         " bytes)";
}

}  // namespace

KeyPattern::KeyPattern(std::string pattern, std::shared_ptr<const Program> program)
    : pattern_(std::move(pattern)), program_(std::move(program)) {}

Result<KeyPattern> KeyPattern::Compile(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return InvalidParams("invalid regex " + Quoted(pattern) + ": longer than " +
                         std::to_string(kMaxPatternBytes) + " bytes");
  }
  RE2::Options options;
  options.set_log_errors(false);  // the error goes back to the caller, not to our log
  options.set_max_mem(kMaxMemoryBytes);
  auto program = std::make_shared<const Program>(pattern, options);
  if (!program->re.ok()) {
    return InvalidParams("invalid regex " + Quoted(pattern) + ": " + program->re.error() +
                         " (RE2 syntax: no backreferences or lookaround)");
  }
  return KeyPattern(std::string(pattern), std::move(program));
}

bool KeyPattern::Matches(std::string_view key) const {
  return RE2::PartialMatch(re2::StringPiece(key.data(), key.size()), program_->re);
}

}  // namespace mooncake
