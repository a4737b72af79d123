#!/usr/bin/env bash
# Compares the benchmarks of the current checkout with a git ref (default: main), using this checkout's
# benchmark code for both so only the code under test differs.
#   Benchmarks/compare.sh [REF] [--target CoreBenchmarks|ServerBenchmarks] [other `benchmark` options]
# Prints ordo-one/benchmark's comparison table; exits 2 if a metric regressed beyond its threshold.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
ref="${1:-main}"
shift || true
work="$(mktemp -d)"
trap 'git -C "$root" worktree remove --force "$work/ref" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

git -C "$root" worktree add --detach "$work/ref" "$ref" >/dev/null
rm -rf "$work/ref/Benchmarks"
mkdir -p "$work/ref/Benchmarks"
# The same benchmark sources, without build products or stored baselines.
(cd "$here" && tar --exclude=.build --exclude=.benchmarkBaselines -cf - .) | (cd "$work/ref/Benchmarks" && tar -xf -)

echo "== baseline of $ref ($(git -C "$root" rev-parse --short "$ref"))"
(cd "$work/ref/Benchmarks" && swift package --allow-writing-to-package-directory benchmark baseline update ref --no-progress "$@" >/dev/null)
echo "== baseline of the current checkout"
(cd "$here" && swift package --allow-writing-to-package-directory benchmark baseline update current --no-progress "$@" >/dev/null)
rm -rf "$here/.benchmarkBaselines/ref"
cp -R "$work/ref/Benchmarks/.benchmarkBaselines/ref" "$here/.benchmarkBaselines/ref"
cd "$here"
swift package benchmark baseline compare ref current --no-progress "$@"
