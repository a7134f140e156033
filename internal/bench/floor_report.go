package bench

// writeFloorRows adds the disk floor run labelled "disk floor (<when>)"
// to the latency table, so each sits next to the target it ran beside.
// It has no end-to-end figures: nothing reads the floor's files back.
func (r *Report) writeFloorRows(p func(string, ...any), base *LatencyResult, when string) {
	for _, f := range r.Floor {
		if f.Label != "disk floor ("+when+")" {
			continue
		}
		if f.Err != "" || f.Ack.Count == 0 {
			p("| %s | — | — | — | — | — | — | — | — | — | — | — | — | error: %s\n", f.Label, oneLine(f.Err))
			continue
		}
		var b50, ba float64
		if base != nil {
			b50, ba = float64(base.Ack.P50), float64(base.Ack.P99)
		}
		rate := 0.0
		if f.Elapsed > 0 {
			rate = float64(f.Records) / f.Elapsed.Seconds()
		}
		p("| %s | %s | %s | %s | %s | %s | — | — | — | — | %s | %s | — |\n", f.Label, fmtRate(rate),
			fmtDur(f.Ack.P50), fmtDur(f.Ack.P99), fmtDur(f.Ack.P999), fmtDur(f.Ack.Max),
			ratio(float64(f.Ack.P50), b50), ratio(float64(f.Ack.P99), ba))
	}
}

// writeFloorNotes says what the floor rows are and what the disk did
// under them.
func (r *Report) writeFloorNotes(p func(string, ...any)) {
	if len(r.Floor) == 0 {
		return
	}
	p("Disk floor: no broker. The bench appends the same records at the same rate, round-robin over one file per partition in the data dir, and a flusher per file writes whatever arrived while it was busy in one write and then fdatasyncs, as Sluice's log does: a perfect group commit with no network, protocol or broker code. Its ack is from the moment the pacer hands a record over (as a target's is from the Produce call) to the end of the fdatasync covering it: what this disk alone gives these records at this rate, the reference for the part of a durable broker's latency that is the disk's.\n\n")
	for _, f := range r.Floor {
		if f.Err != "" {
			continue
		}
		p("- %s: %d fdatasyncs (up to %d records each), each took p50 %s, p99 %s, p99.9 %s, max %s\n",
			f.Label, f.Syncs, f.MaxBatch, fmtDur(f.Sync.P50), fmtDur(f.Sync.P99), fmtDur(f.Sync.P999), fmtDur(f.Sync.Max))
	}
	p("\n")
}
