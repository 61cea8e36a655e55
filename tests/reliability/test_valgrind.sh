#!/usr/bin/env bash
# test_valgrind.sh - valgrind memcheck over the CLI commands and the server (normal build).
#
# CLI: verify, verify --json, fingerprint, sign, gpu-info, check (against a running server) and
# ledger verify each run under `valgrind --leak-check=full --errors-for-leak-kinds=definite
# --error-exitcode=99`: any memory error or definite leak fails the test.
# Server: run under valgrind, two rounds of load (every vector POSTed, pages and API read); the
# "definitely lost" bytes after the second round must not exceed those after the first, and the
# memcheck error count (invalid accesses, definite leaks) must be 0. "Possibly lost" is not an
# error: glibc's cache of joined threads' stacks shows up as a possibly-lost TLS block.
# Skips (77) under GP_SANITIZE=1 or without valgrind.
set -uo pipefail
[ "${GP_SANITIZE:-0}" = 1 ] && { echo "sanitizer build: valgrind does not run here"; exit 77; }
command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 77; }
SRC=${GP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CLI=${GP_CLI_BIN:?}
SERVER=${GP_SERVER_BIN:?}
VEC=${GP_VECTORS:-$SRC/tests/vectors/pytest-gpu-proof-v1}
PY=${PYTHON:-/usr/bin/python3}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0 runs=0
VG=(valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99
    --suppressions="$SRC/tests/reliability/valgrind.supp" --num-callers=30)

# vg NAME EXPECTED_RC... -- CMD...: runs CMD under memcheck; rc 99 or an unexpected rc fails
vg() {
  local name=$1; shift
  local ok=()
  while [ "$1" != -- ]; do ok+=("$1"); shift; done
  shift
  runs=$((runs + 1))
  local t0=$SECONDS
  "${VG[@]}" --log-file="$tmp/vg-$name.log" "$@" >"$tmp/out-$name" 2>&1
  local rc=$?
  local good=0
  for r in "${ok[@]}"; do [ "$rc" = "$r" ] && good=1; done
  if [ "$rc" = 99 ] || [ $good = 0 ] || [ -s "$tmp/vg-$name.log" ]; then
    echo "FAIL: $name exited $rc (want ${ok[*]}):"; tail -40 "$tmp/out-$name"; cat "$tmp/vg-$name.log"
    fail=1
  else
    echo "ok: $name (exit $rc, no memcheck errors, no definite leaks, $((SECONDS - t0)) s)"
  fi
}

keys="file://$VEC/github/{user}.keys"
git clone -q "$VEC/repo.bundle" "$tmp/repo" 2>/dev/null || { echo "cannot clone the vectors' bundle"; exit 1; }
git -C "$tmp/repo" checkout -q 2c6362308d6f0ac578fee055f120fa766638b970 2>/dev/null
rec=$VEC/receipts/alice-ed25519-0-clean.json
vg verify 0 -- "$CLI" verify --receipt "$rec" --repo "$tmp/repo" --max-age-days 0 --github-keys-url "$keys"
vg verify-json 0 -- "$CLI" verify --receipt "$rec" --repo "$tmp/repo" --max-age-days 0 --github-keys-url "$keys" --json
vg verify-tampered 1 -- "$CLI" verify --receipt "$VEC/receipts/tamper-sigbit.json" --repo "$tmp/repo" --max-age-days 0 \
  --github-keys-url "$keys" --json
vg verify-malformed 2 -- "$CLI" verify --receipt "$VEC/receipts/bad-truncated.json" --repo "$tmp/repo" --github-keys-url "$keys"
vg fingerprint 0 -- "$CLI" fingerprint --repo "$tmp/repo"
ssh-keygen -q -t ed25519 -N '' -C vg -f "$tmp/id_ed25519"
ssh-keygen -q -t ecdsa -b 256 -N '' -C vg -f "$tmp/id_ecdsa"
cp "$rec" "$tmp/r1.json"; cp "$rec" "$tmp/r2.json"
vg sign-ed25519 0 -- "$CLI" sign --key "$tmp/id_ed25519" --signer alice --repo "$tmp/repo" "$tmp/r1.json"
vg sign-ecdsa 0 -- "$CLI" sign --key "$tmp/id_ecdsa" --signer alice --repo "$tmp/repo" "$tmp/r2.json"
vg gpu-info 0 -- "$CLI" gpu-info
vg gpu-info-json 0 -- "$CLI" gpu-info --json

# a server (normal, not under valgrind) for check / ledger verify
"$PY" "$SRC/tests/tools/keyserver.py" --dir "$VEC/github" --port-file "$tmp/ksport" & pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/ksport" ] && break; sleep 0.1; done
kurl="http://127.0.0.1:$(cat "$tmp/ksport")/{user}.keys"
start_server() { # start_server LOGNAME PREFIX...: starts "$@ $SERVER", sets surl and spid
  local log=$1; shift
  "$@" "$SERVER" --listen 127.0.0.1:0 --db "$tmp/$log.db" --github-keys-url "$kurl" --rate-limit 0 \
    >"$tmp/$log.out" 2>"$tmp/$log.err" &
  spid=$!; pids+=($spid)
  for _ in $(seq 600); do grep -q "listening on" "$tmp/$log.out" 2>/dev/null && break; sleep 0.1; done
  surl=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$tmp/$log.out" | head -1)
  surl=${surl%/}
  [ -n "$surl" ] || { echo "FAIL: server $log did not start"; cat "$tmp/$log.err"; exit 1; }
}
post_all() {
  local n=0
  for f in "$VEC"/receipts/*.json; do
    curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary "@$f" "$surl/api/receipts"; n=$((n + 1))
  done
  for p in / /api/repos /commits/2c6362308d6f0ac578fee055f120fa766638b970 /api/commits/2c6362308d6f0ac578fee055f120fa766638b970 \
           /signers/alice /api/signers/alice /repos/alice/gpukernels /metrics /healthz /api/ledger/checkpoint /nope; do
    curl -s -o /dev/null "$surl$p"
  done
  echo "$n"
}
start_server plain env
post_all >/dev/null
commit=2c6362308d6f0ac578fee055f120fa766638b970
vg check 0 1 -- "$CLI" check "$commit" --server "$surl" --repo alice/gpukernels
vg check-json 0 1 -- "$CLI" check "$commit" --server "$surl" --json
vg check-unknown 1 -- "$CLI" check "$(printf 'f%.0s' $(seq 40))" --server "$surl"
vg ledger-verify 0 -- "$CLI" ledger verify --server "$surl" --state "$tmp/ledger-state"
vg ledger-verify-again 0 -- "$CLI" ledger verify --server "$surl" --state "$tmp/ledger-state"
vg submit 0 -- "$CLI" submit --server "$surl" "$rec"
vg submit-refused 1 -- "$CLI" submit --server "$surl" "$tmp/r1.json"
kill "$spid"; wait "$spid" 2>/dev/null

# the server under valgrind: definitely-lost must not grow between two load rounds
start_server vgserver valgrind --leak-check=full --errors-for-leak-kinds=definite --num-callers=30 --suppressions="$SRC/tests/reliability/valgrind.supp" --log-file="$tmp/vg-server.log" --vgdb=yes --vgdb-prefix="$tmp/vgdb"
lost() { # bytes definitely lost now (memcheck leak check through vgdb)
  vgdb --vgdb-prefix="$tmp/vgdb" --pid="$spid" leak_check summary 2>&1 |
    sed -n 's/.*definitely lost: \([0-9,]*\) .*/\1/p' | tr -d , | tail -1
}
echo "$(date +%T) server under valgrind started"
n1=$(post_all); l1=$(lost)
echo "$(date +%T) round 1 done"
for i in 1 2 3; do post_all >/dev/null; done
n2=$(post_all); l2=$(lost)
echo "$(date +%T) round 5 done"
if [ -z "$l1" ] || [ -z "$l2" ]; then echo "FAIL: no leak figures from vgdb"; fail=1; fi
kill -TERM "$spid"; wait "$spid"; src=$?
errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$tmp/vg-server.log" | tail -1)
echo "server under valgrind: definitely lost $l1 bytes after round 1 ($n1 receipts), $l2 after round 5; exit $src"
if [ "${l2:-0}" -gt "${l1:-0}" ]; then echo "FAIL: the server's definite leaks grow under load"; fail=1; fi
if [ "${errs:-x}" != 0 ]; then
  echo "FAIL: memcheck errors in the server:"; head -80 "$tmp/vg-server.log"; fail=1
fi
echo "FIGURES valgrind: cli_runs=$runs server_memcheck_errors=$errs server_definitely_lost_round1=$l1 server_definitely_lost_round5=$l2 failed=$fail"
exit $fail
