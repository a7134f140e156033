#!/usr/bin/env bash
# KIP-848 consumer groups through librdkafka: `make compat-rdkafka`.
# Builds sluice, starts a broker in a temporary directory on a free port,
# creates a topic, writes records with `sluice produce` (franz-go) and runs
# check.js (node-rdkafka, the version pinned in package.json, which
# bundles and builds its own librdkafka) against it. Not part of `make
# test` or CI: the first `npm ci` compiles librdkafka (several minutes;
# needs a C/C++ toolchain and python3). Exits non-zero if a check failed.
# The broker also gets a SASL_PLAINTEXT listener (PLAIN, 2 s sessions) for
# the KIP-368 re-authentication check.
# SLUICE_BIN=path runs another sluice binary (e.g. an older build),
# SKIP_BUILD=1 skips building this tree's, and BROKER=host:port uses a
# broker or cluster already running instead of starting one.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$repo/compat/.out/rdkafka-kip848"
mkdir -p "$out"
work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ ! -d "$here/node_modules/node-rdkafka" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

[ -n "${SKIP_BUILD:-}" ] || (cd "$repo" && go build -o "$out/sluice" ./cmd/sluice)
sluice="${SLUICE_BIN:-$out/sluice}"

if [ -n "${BROKER:-}" ]; then
  # A broker or cluster already running (e.g. `sluice dev-cluster`).
  broker="$BROKER"
else
  free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  broker="127.0.0.1:$(free)"
  # A SASL_PLAINTEXT listener with a PLAIN user and 2 s sessions
  # (KIP-368) for the re-authentication check.
  export SASL_BROKER="127.0.0.1:$(free)"
  "$sluice" serve --listeners "PLAINTEXT://$broker,SASL_PLAINTEXT://$SASL_BROKER" --log-dirs "$work/data" \
    --override group.initial.rebalance.delay.ms=0 \
    --override sasl.enabled.mechanisms=PLAIN --override connections.max.reauth.ms=2000 \
    --override 'listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_rdk="rdk-secret";' \
    >"$out/broker.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do
    if "$sluice" topic list --brokers "$broker" --timeout 2s >/dev/null 2>&1; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "broker exited; see $out/broker.log" >&2; exit 1; fi
    sleep 0.2
  done
fi

topic="rdk848-$$-$(date +%s)"
partitions=4
first=200
"$sluice" topic create "$topic" --brokers "$broker" --partitions "$partitions" >/dev/null
for i in $(seq 0 $((first - 1))); do echo "k$i:before-$i"; done |
  "$sluice" produce "$topic" --brokers "$broker" --key-delimiter : >/dev/null

cd "$here"
BROKER="$broker" TOPIC="$topic" PARTITIONS="$partitions" FIRST="$first" SLUICE="$sluice" node check.js
