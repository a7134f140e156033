#!/usr/bin/env bash
# Durable ack latency against the disk floor (issue #21), several rounds.
#
# Each round is one `sluice bench --disk-floor` latency run: the disk,
# loopback and durable loopback floors, then Sluice (its own process, pinned
# to CPU 0, clients on CPU 1), then the floors again. Sluice's percentiles
# are divided by the mean of the two adjacent floors measured minutes apart
# in the same run, so a disk whose tails drift still yields comparable
# ratios: once by the disk floor (a lone fdatasync loop, the rest of the
# machine idle), once by the durable loopback floor (a minimal durable
# server placed and loaded like the broker: what the machine allows). The
# table at the end has every round and the median and range of each ratio.
#
#   scripts/bench-latency.sh                    # 5 rounds, 5000 rec/s, 3 partitions
#   ROUNDS=7 RATE=20000 PARTITIONS=100 scripts/bench-latency.sh
#   SLUICE=./bin/sluice scripts/bench-latency.sh --trace /tmp/broker.trace
#   scripts/bench-latency.sh --latency-consumer=false  # acknowledgements with no tailing consumer
#   scripts/bench-latency.sh --peer-cmd "env GOMAXPROCS=4 $PWD/bin/sluice bench serve-peer"   # A/B the broker's Ps
#
# Extra arguments go to sluice bench. Reports of each round stay in OUT.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
RATE=${RATE:-5000}
DURATION=${DURATION:-10s}
PARTITIONS=${PARTITIONS:-3}
SIZE=${SIZE:-1024}
OUT=${OUT:-$(mktemp -d /tmp/sluice-bench-latency.XXXXXX)}
if [[ -z "${SLUICE:-}" ]]; then
	SLUICE="$OUT/sluice"
	go build -o "$SLUICE" ./cmd/sluice
fi
mkdir -p "$OUT"

# us converts the report's "449 µs", "1.33 ms", "1.02 s" to microseconds.
us() {
	awk -v v="$1" -v u="$2" 'BEGIN { m = (u == "ms") ? 1000 : (u == "s") ? 1000000 : 1; printf "%.1f", v * m }'
}

# row prints "p50 p99 p99.9 e2e-p99" in µs for the latency row of target $1.
row() {
	local line
	line=$(grep -F "| $1 | " "$2" | grep -E '^\| [^|]+ \| [0-9.]+ k? ?\|' | head -1) || return 1
	IFS='|' read -r _ _ _ p50 p99 p999 _ _ e99 _ <<<"$line"
	set -- $p50; local a; a=$(us "$1" "$2")
	set -- $p99; local b; b=$(us "$1" "$2")
	set -- $p999; local c; c=$(us "$1" "$2")
	local d=0
	if [[ "$e99" =~ [0-9] ]]; then set -- $e99; d=$(us "$1" "$2"); fi
	echo "$a $b $c $d"
}

results="$OUT/rounds.txt"
: >"$results"
for ((i = 1; i <= ROUNDS; i++)); do
	rep="$OUT/round-$i.md"
	echo "round $i/$ROUNDS: $(cut -d' ' -f1-3 /proc/loadavg) load" >&2
	taskset -c 1 "$SLUICE" bench --embedded --broker-cpus 0 --phases latency --rate "$RATE" --duration "$DURATION" \
		--partitions "$PARTITIONS" --size "$SIZE" --disk-floor "$@" >"$rep" 2>"$OUT/round-$i.err" || {
		echo "round $i failed: $OUT/round-$i.err" >&2
		continue
	}
	read -r fb50 fb99 fb999 _ < <(row "disk floor (before sluice)" "$rep")
	read -r fa50 fa99 fa999 _ < <(row "disk floor (after sluice)" "$rep")
	read -r s50 s99 s999 e99 < <(row "sluice" "$rep")
	read -r lb50 _ < <(row "loopback floor (before sluice)" "$rep")
	read -r la50 _ < <(row "loopback floor (after sluice)" "$rep")
	read -r cb50 cb99 cb999 _ < <(row "durable loopback floor (before sluice)" "$rep")
	read -r ca50 ca99 ca999 _ < <(row "durable loopback floor (after sluice)" "$rep")
	# The floor with a tailing reader runs only beside the consumer
	# (--latency-consumer=false leaves both out): 0 then.
	read -r tb50 tb99 tb999 _ < <(row "durable loopback floor + tailing reader (before sluice)" "$rep" || echo 0 0 0 0)
	read -r ta50 ta99 ta999 _ < <(row "durable loopback floor + tailing reader (after sluice)" "$rep" || echo 0 0 0 0)
	echo "$i $fb50 $fb99 $fb999 $fa50 $fa99 $fa999 $s50 $s99 $s999 $e99 $cb50 $cb99 $cb999 $ca50 $ca99 $ca999 $lb50 $la50 $tb50 $tb99 $tb999 $ta50 $ta99 $ta999" >>"$results"
done

awk -v rate="$RATE" -v parts="$PARTITIONS" -v size="$SIZE" '
function ms(x) { return sprintf("%.2f", x / 1000) }
function med(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] < m) m = a[i]; return m }
function hi(a, n,   i, m) { m = a[1]; for (i = 2; i <= n; i++) if (a[i] > m) m = a[i]; return m }
BEGIN {
	printf "Ack latency of %d-byte records at %d records/s over %d partitions: Sluice / mean of the adjacent floors (ms)\n\n", size, rate, parts
	print "| round | disk p50 | disk p99 | disk p99.9 | loopback p50 | durable p50 | durable p99 | durable p99.9 | +reader p50 | +reader p99 | sluice p50 | sluice p99 | sluice p99.9 | e2e p99 | p50 / disk | p99 / disk | p99.9 / disk | p50 / durable | p99 / durable | p99.9 / durable | p50 / +reader | p99 / +reader | p99.9 / +reader | e2e p99 − ack p99 |"
	print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
}
function rat(x) { return (x > 0) ? sprintf("%.2f×", x) : "—" }
{
	n++
	f50 = ($2 + $5) / 2; f99 = ($3 + $6) / 2; f999 = ($4 + $7) / 2
	c50 = ($12 + $15) / 2; c99 = ($13 + $16) / 2; c999 = ($14 + $17) / 2; l50 = ($18 + $19) / 2
	r50[n] = $8 / f50; r99[n] = $9 / f99; r999[n] = $10 / f999; ed[n] = ($11 - $9) / 1000
	q50[n] = $8 / c50; q99[n] = $9 / c99; q999[n] = $10 / c999
	t50 = ($20 + $23) / 2; t99 = ($21 + $24) / 2; t999 = ($22 + $25) / 2
	if ($20 > 0 && $23 > 0) { nt++; u50[nt] = $8 / t50; u99[nt] = $9 / t99; u999[nt] = $10 / t999 }
	if ($11 > 0) { ne++; ed[ne] = ($11 - $9) / 1000 }
	printf "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | %.2f× | %s | %s | %s | %s |\n", $1, ms(f50), ms(f99), ms(f999), ms(l50),
		ms(c50), ms(c99), ms(c999), (t50 > 0) ? ms(t50) : "—", (t50 > 0) ? ms(t99) : "—", ms($8), ms($9), ms($10), ($11 > 0) ? ms($11) : "—",
		r50[n], r99[n], r999[n], q50[n], q99[n], q999[n], rat((t50 > 0) ? $8 / t50 : 0), rat((t50 > 0) ? $9 / t99 : 0), rat((t50 > 0) ? $10 / t999 : 0),
		($11 > 0) ? sprintf("%+.2f", ($11 - $9) / 1000) : "—"
}
function span(a, n) { return (n > 0) ? sprintf("%.2f× (%.2f–%.2f)", med(a, n), lo(a, n), hi(a, n)) : "—" }
END {
	if (n == 0) { print "no round finished"; exit 1 }
	printf "| median (range) | | | | | | | | | | | | | | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
		span(r50, n), span(r99, n), span(r999, n), span(q50, n), span(q99, n), span(q999, n), span(u50, nt), span(u99, nt), span(u999, nt),
		(ne > 0) ? sprintf("%+.2f (%+.2f–%+.2f)", med(ed, ne), lo(ed, ne), hi(ed, ne)) : "—"
	print "\nTargets (issue #21): p50 ≤ 1.5×, p99 ≤ 1.5×, p99.9 ≤ 2× the floor, e2e p99 − ack p99 ≤ 1 ms."
	print "Disk floor: a lone fdatasync loop in the bench process (the rest of the machine idle). Durable loopback floor: a server placed like the broker that appends each request to a file and answers once an fdatasync covers it, with the same client load: what the machine allows a durable broker here (internal/bench/durfloor.go). +reader: the same with a tailing reader answered at every fdatasync, standing for the consumer of the latency phase (internal/bench/tail.go); absent with --latency-consumer=false."
}' "$results"
echo "reports: $OUT" >&2
