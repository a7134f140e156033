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
	p("Disk floor: no broker. The bench appends the same records at the same rate, round-robin over one file per partition in the data dir, and a flusher per file writes whatever arrived while it was busy in one write and then fdatasyncs, as Sluice's log does: a perfect group commit with no network, protocol or broker code. Its ack is from the moment the pacer hands a record over (as a target's is from the Produce call) to the end of the fdatasync covering it, the least any broker that syncs before acknowledging can achieve on this disk at this rate.\n\n")
	for _, f := range r.Floor {
		if f.Err != "" {
			continue
		}
		p("- %s: %d fdatasyncs (up to %d records each), each took p50 %s, p99 %s, p99.9 %s, max %s\n",
			f.Label, f.Syncs, f.MaxBatch, fmtDur(f.Sync.P50), fmtDur(f.Sync.P99), fmtDur(f.Sync.P999), fmtDur(f.Sync.Max))
	}
	p("\n")
}

// writeWriteFloor lists the durable write floors next to the produce
// figures of the baseline, so a target's produce rate reads against what
// the disk could make durable in the same run.
func (r *Report) writeWriteFloor(p func(string, ...any)) {
	if len(r.WriteFloor) == 0 {
		return
	}
	c := r.Config
	var base float64
	for _, t := range r.Throughput {
		if t.Target == c.Baseline && t.Size == c.Sizes[0] && t.Err == "" {
			base = t.Produce.MiBps()
		}
	}
	p("#### Disk floor, durable writes\n\n")
	p("No broker: the first size's produce bytes, written over one file per partition in %s chunks with at most %d chunks per file ahead of the disk (the producer's batch limit and requests in flight), each file fdatasynced over and over by its own flusher, every call covering all written before it: the most any broker that acknowledges only durable data can write on this disk.\n\n",
		fmtBytes(int64(c.BatchMaxBytes)), c.MaxInflight)
	p("| floor | MiB/s | vs %s produce | fdatasyncs | fdatasync p50 | p99 | max |\n", c.Baseline)
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	for _, w := range r.WriteFloor {
		if w.Err != "" {
			p("| %s | — | — | — | — | — | — | error: %s\n", w.Label, oneLine(w.Err))
			continue
		}
		p("| %s | %s | %s | %d | %s | %s | %s |\n", w.Label, fmtMiB(w.MiBps()), ratio(w.MiBps(), base),
			w.Syncs, fmtDur(w.Sync.P50), fmtDur(w.Sync.P99), fmtDur(w.Sync.Max))
	}
	p("\n")
}
