#!/usr/bin/env bash
# Runs the whole test suite: installs missing dependencies, builds its own trees (never
# build/, which is the Release tree of the quickstart and benchmarks), runs every ctest test,
# then the unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Exit status is non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS="${MC_JOBS:-$(nproc)}"
start=$(date +%s)

scripts/install-deps.sh

echo "== build-test (RelWithDebInfo) =="
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j"$JOBS"

echo "== ctest: whole suite =="
(cd build-test && ctest --output-on-failure --timeout 300)

echo "== build-asan (Debug, ASan+UBSan) =="
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMC_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"

echo "== ctest: unit tests under ASan+UBSan =="
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
   ctest -L unit --output-on-failure --timeout 300)

echo "scripts/test.sh: all tests passed in $(( $(date +%s) - start )) s"
