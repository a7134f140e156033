#!/usr/bin/env bash
# kcat smoke test: drives a running broker with kcat (librdkafka), a
# non-Go client. Usage: BROKER=host:port test/kcat/smoke.sh
#
# Checks: metadata listing, produce + consume of 1000 lines with each
# compression codec, and offset lookup by timestamp. Topics are created by
# the broker's auto-creation (auto.create.topics.enable=true, the default)
# and get a unique suffix so the script can run against a long-lived broker.
set -uo pipefail

BROKER="${BROKER:-127.0.0.1:9092}"
KCAT="${KCAT:-kcat}"
RUN_ID="${RUN_ID:-$$-$(date +%s)}"
TIMEOUT="${KCAT_TIMEOUT:-60}"

passed=0
failed=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*" >&2; }

kc() { timeout "$TIMEOUT" "$KCAT" -b "$BROKER" "$@"; }

now_ms() { date +%s%3N; }

if ! command -v "$KCAT" >/dev/null 2>&1; then
  echo "kcat smoke: $KCAT not found" >&2
  exit 2
fi

# 1. Metadata: the broker lists itself at the address we dialled.
if kc -L >"$work/meta.txt" 2>"$work/meta.err"; then
  if grep -q "1 brokers:" "$work/meta.txt" && grep -q "broker 1 at $BROKER" "$work/meta.txt"; then
    pass "metadata lists broker 1 at $BROKER"
  else
    fail "metadata (-L) does not list 'broker 1 at $BROKER':"
    cat "$work/meta.txt" >&2
  fi
else
  fail "kcat -L failed: $(cat "$work/meta.err")"
fi

# 2. Produce 1000 lines per codec, consume them back, compare.
for codec in none gzip snappy lz4 zstd; do
  topic="kcat-smoke-$codec-$RUN_ID"
  seq -f "line %g codec $codec" 1 1000 >"$work/in-$codec.txt"
  if ! kc -P -t "$topic" -p 0 -z "$codec" -X acks=all <"$work/in-$codec.txt" 2>"$work/p-$codec.err"; then
    fail "$codec: produce failed: $(cat "$work/p-$codec.err")"
    continue
  fi
  if ! kc -C -t "$topic" -p 0 -o beginning -e -q ${KCAT_DEBUG:+-d "$KCAT_DEBUG"} >"$work/out-$codec.txt" 2>"$work/c-$codec.err"; then
    fail "$codec: consume failed: $(cat "$work/c-$codec.err")"
    continue
  fi
  got=$(wc -l <"$work/out-$codec.txt")
  if [ "$got" -ne 1000 ]; then
    fail "$codec: consumed $got lines, want 1000"
  elif ! cmp -s "$work/in-$codec.txt" "$work/out-$codec.txt"; then
    fail "$codec: consumed lines differ from produced ones:"
    diff "$work/in-$codec.txt" "$work/out-$codec.txt" | head -5 >&2
  else
    pass "$codec: 1000 lines produced and consumed back in order"
  fi
done

# 3. Offset by timestamp: 100 lines, then (once the clock has moved past
# every timestamp they can carry) 100 more; the boundary timestamp maps to
# offset 100, a timestamp before everything to 0, one after to -1.
topic="kcat-smoke-ts-$RUN_ID"
before=$(now_ms)
seq -f "early %g" 1 100 | kc -P -t "$topic" -p 0 -X acks=all 2>"$work/ts1.err" || fail "timestamp: produce early: $(cat "$work/ts1.err")"
boundary=$(($(now_ms) + 1))
while [ "$(now_ms)" -lt "$boundary" ]; do :; done
seq -f "late %g" 1 100 | kc -P -t "$topic" -p 0 -X acks=all 2>"$work/ts2.err" || fail "timestamp: produce late: $(cat "$work/ts2.err")"
future=$(($(now_ms) + 3600000))

query() { # query TIMESTAMP -> prints the offset kcat reports
  kc -Q -t "$topic:0:$1" 2>"$work/q.err" | sed -n 's/.*\[0\] offset \(-\{0,1\}[0-9]*\).*/\1/p'
}
check_query() { # check_query NAME TIMESTAMP WANT
  local got
  got=$(query "$2")
  if [ "$got" = "$3" ]; then
    pass "timestamp: $1 -> offset $3"
  else
    fail "timestamp: $1 ($2) -> offset '${got}', want $3 $(cat "$work/q.err")"
  fi
}
check_query "before every record" "$((before - 60000))" 0
check_query "boundary between the two halves" "$boundary" 100
check_query "after every record" "$future" -1

echo "kcat smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
