#!/usr/bin/env bash
# kcat (librdkafka) session against a running broker, for `make compat`.
# Usage: BROKER=host:port [BROKERS=n] [SSL_BROKER=host:port SSL_CA=ca.pem
#        SSL_CERT=client.pem SSL_KEY=client-key.pem] compat/kcat.sh
# (BROKERS: how many brokers the cluster has, 1 unless the runner started
# a cluster; the metadata check expects that many. SSL_BROKER: the same
# broker's SSL listener, for the ssl/* checks, which dial it with
# security.protocol=ssl, the CA file and the client certificate.)
#
# Prints one line per check, "ok   <id>" or "FAIL <id>: <detail>", then a
# summary; exits non-zero if any check failed. Check ids are stable so
# compat/known_failures.txt can name them. Topics get a unique suffix and
# are created by auto-creation; the broker should run with
# num.partitions=3 (the runner starts it so) so that keyed produce,
# group consumption and per-partition -Q queries span several partitions.
#
# The first check runs the project's own test/kcat/smoke.sh (metadata,
# 1000 lines per codec on one partition, -Q by timestamp on one
# partition); the rest extend it: keys and headers with every codec across
# partitions, the balanced consumer (-G) committing and resuming, -Q on
# several partitions in one query, metadata of one topic and of every
# topic.
set -uo pipefail

BROKER="${BROKER:-127.0.0.1:9092}"
BROKERS="${BROKERS:-1}"
KCAT="${KCAT:-kcat}"
RUN_ID="${RUN_ID:-$$-$(date +%s)}"
TIMEOUT="${KCAT_TIMEOUT:-60}"
PARTS="${KCAT_PARTITIONS:-3}"
here="$(cd "$(dirname "$0")" && pwd)"

passed=0
failed=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1: $2"; }

kc() { timeout "$TIMEOUT" "$KCAT" -b "$BROKER" "$@"; }
now_ms() { date +%s%3N; }
oneline() { tr '\n' ' ' <"$1" | cut -c1-400; }

if ! command -v "$KCAT" >/dev/null 2>&1; then
  echo "kcat session: $KCAT not found" >&2
  exit 2
fi
"$KCAT" -V | head -1

# smoke.sh: the project's smoke test, as one check.
if BROKER="$BROKER" KCAT="$KCAT" RUN_ID="smoke-$RUN_ID" "$here/../test/kcat/smoke.sh" >"$work/smoke.out" 2>&1; then
  pass smoke.sh
else
  fail smoke.sh "$(grep FAIL "$work/smoke.out" | tr '\n' ' ' | cut -c1-400)"
fi

# metadata/brokers: every broker listed once, the one dialled at its address.
if kc -L >"$work/meta.txt" 2>"$work/meta.err"; then
  if grep -q "^ $BROKERS brokers:" "$work/meta.txt" && grep -q "broker [0-9]* at $BROKER" "$work/meta.txt"; then
    pass metadata/brokers
  else
    fail metadata/brokers "kcat -L: $(oneline "$work/meta.txt")"
  fi
else
  fail metadata/brokers "$(oneline "$work/meta.err")"
fi

# codec/<c>: 300 keyed records with a header, across partitions, consumed
# back with key, value, header and partition; every record exactly once,
# and a key always lands on the same partition.
for codec in none gzip snappy lz4 zstd; do
  topic="compat-kcat-$codec-$RUN_ID"
  awk -v c="$codec" 'BEGIN { for (i = 1; i <= 300; i++) printf "k%d:v%d %s\n", i, i, c }' >"$work/in-$codec.txt"
  if ! kc -P -t "$topic" -K : -H "codec=$codec" -H "h2=x" -z "$codec" -X acks=all <"$work/in-$codec.txt" 2>"$work/p.err"; then
    fail "codec/$codec" "produce: $(oneline "$work/p.err")"
    continue
  fi
  if ! kc -C -t "$topic" -o beginning -e -q -f '%k:%s|%h|%p\n' >"$work/out-$codec.txt" 2>"$work/c.err"; then
    fail "codec/$codec" "consume: $(oneline "$work/c.err")"
    continue
  fi
  want=$(sort "$work/in-$codec.txt" | sed "s/\$/|codec=$codec,h2=x/")
  got=$(sed 's/|[0-9]*$//' "$work/out-$codec.txt" | sort)
  nparts=$(sed 's/.*|//' "$work/out-$codec.txt" | sort -u | wc -l)
  keyparts=$(sed 's/:.*|/ /' "$work/out-$codec.txt" | sort -u | cut -d' ' -f1 | uniq -d | wc -l)
  if [ "$want" != "$got" ]; then
    fail "codec/$codec" "consumed records differ from produced ones: $(diff <(echo "$want") <(echo "$got") | head -4 | tr '\n' ' ')"
  elif [ "$PARTS" -gt 1 ] && [ "$nparts" -lt 2 ]; then
    fail "codec/$codec" "300 keyed records all on one partition of $PARTS"
  elif [ "$keyparts" -ne 0 ]; then
    fail "codec/$codec" "$keyparts keys found on more than one partition"
  else
    pass "codec/$codec"
  fi
done

# metadata/topic: one topic's partitions, each with a leader.
topic="compat-kcat-none-$RUN_ID"
if kc -L -t "$topic" >"$work/mt.txt" 2>"$work/mt.err"; then
  if grep -q "topic \"$topic\" with $PARTS partitions:" "$work/mt.txt" && [ "$(grep -c 'leader [0-9]*, replicas' "$work/mt.txt")" -eq "$PARTS" ]; then
    pass metadata/topic
  else
    fail metadata/topic "$(oneline "$work/mt.txt")"
  fi
else
  fail metadata/topic "$(oneline "$work/mt.err")"
fi

# metadata/all-topics: every topic produced so far is listed.
if kc -L >"$work/ma.txt" 2>"$work/ma.err"; then
  n=$(grep -c "topic \"compat-kcat-[a-z0-9]*-$RUN_ID\"" "$work/ma.txt")
  if [ "$n" -eq 5 ]; then pass metadata/all-topics; else fail metadata/all-topics "listed $n of the 5 codec topics"; fi
else
  fail metadata/all-topics "$(oneline "$work/ma.err")"
fi

# group/*: librdkafka's balanced consumer (-G) reads everything, commits
# on exit, and a second run in the same group reads only what is new; then
# a group consumer with the cooperative-sticky assignor does the same.
for strategy in range cooperative-sticky; do
  topic="compat-kcat-group-$strategy-$RUN_ID"
  group="compat-kcat-g-$strategy-$RUN_ID"
  gconsume() {
    kc -G "$group" -X auto.offset.reset=earliest -X "partition.assignment.strategy=$strategy" \
      -X session.timeout.ms=6000 -e -q -f '%s\n' "$topic" 2>"$work/g.err" | sort
  }
  seq -f "first %g" 1 200 | kc -P -t "$topic" -K : -X acks=all 2>"$work/gp.err" || fail "group/$strategy/produce" "$(oneline "$work/gp.err")"
  got=$(gconsume)
  want=$(seq -f "first %g" 1 200 | sort)
  if [ "$got" = "$want" ]; then
    pass "group/$strategy/read-all"
  else
    fail "group/$strategy/read-all" "read $(echo -n "$got" | grep -c .) of 200 records: $(oneline "$work/g.err")"
  fi
  seq -f "second %g" 1 50 | kc -P -t "$topic" -X acks=all 2>"$work/gp.err" || fail "group/$strategy/produce" "$(oneline "$work/gp.err")"
  got=$(gconsume)
  want=$(seq -f "second %g" 1 50 | sort)
  if [ "$got" = "$want" ]; then
    pass "group/$strategy/resume-from-commit"
  else
    fail "group/$strategy/resume-from-commit" "second run read $(echo -n "$got" | grep -c .) records, want only the 50 new ones: $(echo "$got" | head -3 | tr '\n' ' ') $(oneline "$work/g.err")"
  fi
done

# offsets-for-times/*: -Q on every partition of a topic in one query.
# Records before the boundary timestamp, then records after it, produced
# to each partition explicitly; the boundary maps to the first "late"
# record's offset in each partition, a time before everything to 0, a time
# after everything to -1 (end).
topic="compat-kcat-ts-$RUN_ID"
before=$(now_ms)
for p in $(seq 0 $((PARTS - 1))); do
  seq -f "early %g" 1 $((10 * (p + 1))) | kc -P -t "$topic" -p "$p" -X acks=all 2>"$work/ts.err" || fail offsets-for-times/produce "$(oneline "$work/ts.err")"
done
boundary=$(($(now_ms) + 1))
while [ "$(now_ms)" -lt "$boundary" ]; do :; done
for p in $(seq 0 $((PARTS - 1))); do
  seq -f "late %g" 1 5 | kc -P -t "$topic" -p "$p" -X acks=all 2>"$work/ts.err" || fail offsets-for-times/produce "$(oneline "$work/ts.err")"
done
future=$(($(now_ms) + 3600000))
queryall() { # queryall TIMESTAMP -> "p:offset" per partition, sorted
  local args=() p
  for p in $(seq 0 $((PARTS - 1))); do args+=(-t "$topic:$p:$1"); done
  kc -Q "${args[@]}" 2>"$work/q.err" | sed -n 's/.*\[\([0-9]*\)\] offset \(-\{0,1\}[0-9]*\).*/\1:\2/p' | sort | tr '\n' ' '
}
check_q() { # check_q ID TIMESTAMP WANT
  local got
  got=$(queryall "$2")
  if [ "$got" = "$3" ]; then pass "offsets-for-times/$1"; else fail "offsets-for-times/$1" "got '$got', want '$3' $(oneline "$work/q.err")"; fi
}
want_before="" want_boundary="" want_after=""
for p in $(seq 0 $((PARTS - 1))); do
  want_before+="$p:0 "
  want_boundary+="$p:$((10 * (p + 1))) "
  want_after+="$p:-1 "
done
check_q before "$((before - 60000))" "$want_before"
check_q boundary "$boundary" "$want_boundary"
check_q after "$future" "$want_after"

# consume/offsets: -o with an absolute, a negative (relative to end) and
# a timestamp (s@) start, on one partition.
topic="compat-kcat-ts-$RUN_ID"
got=$(kc -C -t "$topic" -p 0 -o 3 -e -q -f '%o\n' 2>"$work/o.err" | head -1)
if [ "$got" = 3 ]; then pass consume/absolute-offset; else fail consume/absolute-offset "first offset '$got', want 3 $(oneline "$work/o.err")"; fi
got=$(kc -C -t "$topic" -p 0 -o -2 -e -q -f '%o ' 2>"$work/o.err")
if [ "$got" = "13 14 " ]; then pass consume/relative-offset; else fail consume/relative-offset "got '$got', want '13 14 ' $(oneline "$work/o.err")"; fi
got=$(kc -C -t "$topic" -p 0 -o "s@$boundary" -e -q -f '%s ' 2>"$work/o.err")
if [ "$got" = "late 1 late 2 late 3 late 4 late 5 " ]; then pass consume/timestamp-start; else fail consume/timestamp-start "got '$got' $(oneline "$work/o.err")"; fi

# ssl/*: librdkafka over TLS with a client certificate (the runner's
# broker requires one): metadata names every broker at its SSL address
# (the one dialled among them), keyed records with a codec round-trip,
# and the balanced consumer, whose coordinator connection is a second
# TLS connection to the advertised SSL address.
if [ -n "${SSL_BROKER:-}" ]; then
  ks() {
    timeout "$TIMEOUT" "$KCAT" -b "$SSL_BROKER" -X security.protocol=ssl -X "ssl.ca.location=$SSL_CA" \
      -X "ssl.certificate.location=$SSL_CERT" -X "ssl.key.location=$SSL_KEY" "$@"
  }
  if ks -L >"$work/ssl-meta.txt" 2>"$work/ssl-meta.err"; then
    if grep -q "^ $BROKERS brokers:" "$work/ssl-meta.txt" && grep -q "broker [0-9]* at $SSL_BROKER" "$work/ssl-meta.txt"; then
      pass ssl/metadata
    else
      fail ssl/metadata "kcat -L: $(oneline "$work/ssl-meta.txt")"
    fi
  else
    fail ssl/metadata "$(oneline "$work/ssl-meta.err")"
  fi
  topic="compat-kcat-ssl-$RUN_ID"
  awk 'BEGIN { for (i = 1; i <= 300; i++) printf "k%d:v%d\n", i, i }' >"$work/ssl-in.txt"
  if ! ks -P -t "$topic" -K : -z lz4 -X acks=all <"$work/ssl-in.txt" 2>"$work/ssl-p.err"; then
    fail ssl/produce-consume "produce: $(oneline "$work/ssl-p.err")"
  elif ! ks -C -t "$topic" -o beginning -e -q -f '%k:%s\n' >"$work/ssl-out.txt" 2>"$work/ssl-c.err"; then
    fail ssl/produce-consume "consume: $(oneline "$work/ssl-c.err")"
  elif [ "$(sort "$work/ssl-in.txt")" != "$(sort "$work/ssl-out.txt")" ]; then
    fail ssl/produce-consume "consumed $(grep -c . "$work/ssl-out.txt") records, want the 300 produced ones"
  else
    pass ssl/produce-consume
  fi
  got=$(ks -G "compat-kcat-ssl-g-$RUN_ID" -X auto.offset.reset=earliest -X session.timeout.ms=6000 -e -q -f '%k:%s\n' "$topic" 2>"$work/ssl-g.err" | sort)
  if [ "$got" = "$(sort "$work/ssl-in.txt")" ]; then
    pass ssl/group
  else
    fail ssl/group "read $(echo -n "$got" | grep -c .) of 300 records: $(oneline "$work/ssl-g.err")"
  fi
fi

echo "kcat session: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
