#!/usr/bin/env bash
# run.sh FUZZER SEED_DIR SECONDS: replay every seed (regressions first), then fuzz for SECONDS on a
# scratch copy of the corpus. Prints the executions at the end; any crash fails the test and leaves
# the crashing input in the build directory (copy it into the seed dir once fixed).
set -euo pipefail
fuzzer=$1 seeds=$2 secs=$3
name=$(basename "$fuzzer")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$PWD/fuzz-artifacts"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null || true
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
"$fuzzer" -runs=0 "$work/corpus" >/dev/null 2>"$work/replay.log" || { cat "$work/replay.log"; exit 1; }
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$PWD/fuzz-artifacts/$name-" "$work/corpus" 2>"$work/fuzz.log" || {
  tail -60 "$work/fuzz.log"; exit 1; }
grep -E '^#[0-9]+.*DONE' "$work/fuzz.log" | tail -1 | sed "s/^/$name: /" || tail -2 "$work/fuzz.log"
