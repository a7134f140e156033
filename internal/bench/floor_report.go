package bench

import "time"

// writeFloorRows adds the floor runs labelled "(<when>)" to the latency
// table, so each sits next to the target it ran beside: the disk floor,
// the loopback floor and their sum. They have no end-to-end figures:
// nothing reads the floors' records back.
func (r *Report) writeFloorRows(p func(string, ...any), base *LatencyResult, when string) {
	var b50, ba float64
	if base != nil {
		b50, ba = float64(base.Ack.P50), float64(base.Ack.P99)
	}
	row := func(label string, rate float64, a Summary) {
		p("| %s | %s | %s | %s | %s | %s | — | — | — | — | %s | %s | — |\n", label, fmtRate(rate),
			fmtDur(a.P50), fmtDur(a.P99), fmtDur(a.P999), fmtDur(a.Max),
			ratio(float64(a.P50), b50), ratio(float64(a.P99), ba))
	}
	perSec := func(n int64, d time.Duration) float64 {
		if d <= 0 {
			return 0
		}
		return float64(n) / d.Seconds()
	}
	var disk *FloorResult
	for i, f := range r.Floor {
		if f.Label != "disk floor ("+when+")" {
			continue
		}
		if f.Err != "" || f.Ack.Count == 0 {
			p("| %s | — | — | — | — | — | — | — | — | — | — | — | — | error: %s\n", f.Label, oneLine(f.Err))
			continue
		}
		disk = &r.Floor[i]
		row(f.Label, perSec(f.Records, f.Elapsed), f.Ack)
	}
	for _, f := range r.NetFloor {
		if f.Label != "loopback floor ("+when+")" {
			continue
		}
		if f.Err != "" || f.Ack.Count == 0 {
			p("| %s | — | — | — | — | — | — | — | — | — | — | — | — | error: %s\n", f.Label, oneLine(f.Err))
			continue
		}
		row(f.Label, perSec(f.Records, f.Elapsed), f.Ack)
		if disk != nil {
			// Percentiles added, not of a sum: the p50 is a lower bound on
			// a durable ack's median, the tails only a rough scale.
			sum := Summary{P50: disk.Ack.P50 + f.Ack.P50, P99: disk.Ack.P99 + f.Ack.P99,
				P999: disk.Ack.P999 + f.Ack.P999, Max: disk.Ack.Max + f.Ack.Max}
			row("disk + loopback floor ("+when+")", perSec(disk.Records, disk.Elapsed), sum)
		}
	}
	// The durable loopback floor last: it is the one a durable broker's
	// figures are closest to (durfloor.go).
	for _, f := range r.NetFloor {
		if f.Label != "durable loopback floor ("+when+")" && f.Label != "durable loopback floor + tailing reader ("+when+")" {
			continue
		}
		if f.Err != "" || f.Ack.Count == 0 {
			p("| %s | — | — | — | — | — | — | — | — | — | — | — | — | error: %s\n", f.Label, oneLine(f.Err))
			continue
		}
		row(f.Label, perSec(f.Records, f.Elapsed), f.Ack)
	}
}

// writeFloorNotes says what the floor rows are and what the disk did
// under them.
func (r *Report) writeFloorNotes(p func(string, ...any)) {
	if len(r.Floor) == 0 {
		return
	}
	p("Disk floor: no broker. The bench appends the same records at the same rate, spread over one file per partition in the data dir as the latency phase spreads them, and a flusher per file writes whatever arrived while it was busy in one write and then fdatasyncs, as Sluice's log does: a perfect group commit with no network, protocol or broker code. Its ack is from the moment the pacer hands a record over (as a target's is from the Produce call) to the end of the fdatasync covering it: what this disk alone gives these records at this rate, the reference for the part of a durable broker's latency that is the disk's.\n\n")
	for _, f := range r.Floor {
		if f.Err != "" {
			continue
		}
		p("- %s: %d fdatasyncs (up to %d records each), each took p50 %s, p99 %s, p99.9 %s, max %s\n",
			f.Label, f.Syncs, f.MaxBatch, fmtDur(f.Sync.P50), fmtDur(f.Sync.P99), fmtDur(f.Sync.P999), fmtDur(f.Sync.Max))
	}
	if len(r.NetFloor) > 0 {
		p("\nLoopback floor: no broker either. A server that reads each length-prefixed request and at once writes a %d-byte response, placed like the broker (its own process on the broker's CPUs when targets are spawned), gets the same number of requests at the same rate over one TCP connection, each of the record's size plus %d bytes (about the Produce request kgo sends for one record at linger 0), pipelined; each is timed from its write to its response. It is the loopback round trip, kernel and both Go runtimes at this load, with no Kafka protocol work. Disk + loopback floor adds the two floors' percentiles: its p50 is a lower bound for any broker's durable ack median on this machine; its p99 and p99.9 are sums of tails, only a scale.\n", netFloorResponseSize, netFloorRequestOverhead)
		p("\nDurable loopback floor: the loopback floor's server, but it appends each request to one of the partitions' files (the partition the latency phase gives record n) with a group-commit flusher per file (one write and one fdatasync for whatever arrived meanwhile) and answers each, in request order, once an fdatasync covers it. The smallest durable broker, placed and loaded like the broker: unlike the disk floor, which runs with the rest of the machine idle, it meets what the machine does to fdatasyncs while the client keeps the other CPU and a socket busy.\n")
		p("\nDurable loopback floor + tailing reader: the same, with a second connection standing for the latency phase's tailing consumer: the server answers its parked read each time an fdatasync completes, with the bytes made durable since, and it asks again at once (one read and one write per advance on each side; no protocol, no records decoded, so less than a Kafka consumer costs). The consumer's share of both CPUs is then in the floor too.\n")
	}
	p("\n")
}
