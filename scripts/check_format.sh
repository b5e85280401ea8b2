#!/usr/bin/env bash
# Fails, listing the files, when a C++ source or header of the repository is not formatted as
# .clang-format says (Google style, 100 columns). Fix with:
#   clang-format -i $(git ls-files '*.cc' '*.h')
# Runs in ctest as format_check. Needs clang-format (scripts/install-deps.sh installs it) and a
# git checkout (the files are git's tracked ones, so build trees are never looked at).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "check_format: clang-format not installed" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cc' '*.h')
[ ${#files[@]} -gt 0 ] || { echo "check_format: no C++ files found (not a git checkout?)" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  printf 'check_format: not formatted: %s\n' "${bad[@]}" >&2
  echo "check_format: ${#bad[@]} of ${#files[@]} files; run: clang-format -i ${bad[*]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
