package bench

import (
	"strconv"
	"strings"
	"time"
)

// writeFailover renders the failover phases: per target, the time from
// SIGKILL of a leader to its partitions acknowledging acks=all writes
// again, over all kills and split by whether the victim was also the
// active controller.
func (r *Report) writeFailover(p func(string, ...any)) {
	if len(r.Failover) == 0 {
		return
	}
	c := r.Config
	p("#### Failover: SIGKILL of a partition leader to the first acks=all acknowledgement of a record sent after it\n\n")
	p("%d-byte records at %d records/s round-robin over %d partitions, one producer (linger 0, metadata min age 10 ms, retry backoff 10 ms, retries unlimited). "+
		"Each kill: the leader of the next partition in turn is SIGKILLed; the time runs to the first acknowledgement of a record sent after the kill on the last of the partitions it led; "+
		"then it is restarted, rejoins every ISR, and the preferred leaders are elected again.\n\n",
		c.LatencySize, c.Rate, c.Partitions)
	p("| target | session timeout | heartbeat | kills | which | p50 | p99 | max | min | back in ISR p50 |\n")
	p("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	for _, f := range r.Failover {
		ms := func(d time.Duration, def int) string {
			if d <= 0 {
				return strconv.Itoa(def) + " ms"
			}
			return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
		}
		var rejoin Hist
		for _, k := range f.Kills {
			rejoin.RecordDuration(k.Rejoined)
		}
		rows := []struct {
			which string
			keep  func(Kill) bool
		}{
			{"all", func(Kill) bool { return true }},
			{"victim not the controller", func(k Kill) bool { return !k.Controller }},
			{"victim also the active controller", func(k Kill) bool { return k.Controller }},
		}
		for i, row := range rows {
			s := f.summary(row.keep)
			if i > 0 && (s.Count == 0 || s.Count == uint64(len(f.Kills))) {
				continue // nothing to split
			}
			rj := "—"
			if i == 0 && rejoin.Count() > 0 {
				rj = fmtSec(time.Duration(rejoin.Quantile(0.5)))
			}
			if s.Count == 0 {
				p("| %s | %s | %s | 0 | %s | — | — | — | — | — |", f.Target, ms(f.Spec.SessionTimeout, 9000), ms(f.Spec.HeartbeatInterval, 2000), row.which)
			} else {
				p("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s |", f.Target, ms(f.Spec.SessionTimeout, 9000), ms(f.Spec.HeartbeatInterval, 2000),
					s.Count, row.which, fmtSec(s.P50), fmtSec(s.P99), fmtSec(s.Max), fmtSec(s.Min), rj)
			}
			if i == 0 && f.Err != "" {
				p(" error: %s", oneLine(f.Err))
			}
			p("\n")
		}
	}
	p("\n")
	for _, f := range r.Failover {
		if len(f.Kills) > 0 {
			var b strings.Builder
			for i, k := range f.Kills {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.FormatFloat(k.Writable.Seconds(), 'f', 2, 64))
				if k.Controller {
					b.WriteString("*")
				}
			}
			p("- %s, each kill in order (s; * the victim was the active controller): %s\n", f.Target, b.String())
		}
		if f.Errors > 0 {
			p("- %s: the producer failed %d records; the first: %s\n", f.Target, f.Errors, oneLine(f.FirstError))
		}
	}
	p("\n")
}

// fmtSec prints seconds with two decimals: failover times span 0.1 s to
// tens of seconds, and one unit reads best down a column.
func fmtSec(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s" }
