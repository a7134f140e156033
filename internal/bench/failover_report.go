package bench

import (
	"strconv"
	"strings"
	"time"
)

// writeFailover renders the failover phases: per target and signal, the
// time from the signal to a leader until its partitions acknowledged
// acks=all writes again and the longest gap between acknowledgements on
// them, over all disruptions and split by whether the victim was also the
// active controller.
func (r *Report) writeFailover(p func(string, ...any)) {
	if len(r.Failover) == 0 {
		return
	}
	c := r.Config
	p("#### Failover: a partition leader SIGKILLed or SIGTERMed, to acks=all acknowledgements on its partitions again\n\n")
	p("%d-byte records at %d records/s round-robin over %d partitions, one producer (linger 0, metadata min age 10 ms, retry backoff 10 ms, retries unlimited). "+
		"Each time the leader of the next partition in turn gets the signal. *First ack*: the signal to the first acknowledgement of a record sent after it, on the last of the partitions it led. "+
		"*Longest gap*: the longest time between consecutive acknowledgements on one of those partitions, until a record sent after the process exited was acknowledged on each. "+
		"*Exit*: the signal to the process's exit (a controlled shutdown's length). "+
		"Then the node is restarted, rejoins every ISR, and the preferred leaders are elected again.\n\n",
		c.LatencySize, c.Rate, c.Partitions)
	p("| target | session timeout | heartbeat | signal | victim | n | first ack p50 | p90 | max | min | longest gap p50 | p90 | max | exit p50 | errors | back in ISR p50 |\n")
	p("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	ms := func(d time.Duration, def int) string {
		if d <= 0 {
			return strconv.Itoa(def) + " ms"
		}
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	}
	rows := []struct {
		which string
		keep  func(Kill) bool
	}{
		{"all", func(Kill) bool { return true }},
		{"not the controller", func(k Kill) bool { return !k.Controller }},
		{"also the active controller", func(k Kill) bool { return k.Controller }},
	}
	for _, f := range r.Failover {
		if f.Err != "" && len(f.Kills)+len(f.Shutdowns) == 0 {
			p("| %s | %s | %s | — | — | 0 | — | — | — | — | — | — | — | — | — | — | error: %s\n", f.Target, ms(f.Spec.SessionTimeout, 9000), ms(f.Spec.HeartbeatInterval, 2000), oneLine(f.Err))
			continue
		}
		for _, ds := range [][]Kill{f.Kills, f.Shutdowns} {
			if len(ds) == 0 {
				continue
			}
			var rejoin, exit Hist
			var errs int64
			for _, k := range ds {
				rejoin.RecordDuration(k.Rejoined)
				exit.RecordDuration(k.Exited)
				errs += k.Errors
			}
			for i, row := range rows {
				s, s90 := summary(ds, row.keep, func(k Kill) time.Duration { return k.Writable })
				if i > 0 && (s.Count == 0 || s.Count == uint64(len(ds))) {
					continue // nothing to split
				}
				g, g90 := summary(ds, row.keep, func(k Kill) time.Duration { return k.MaxGap })
				tail := "| — | — | — |"
				if i == 0 {
					tail = "| " + fmtSec(time.Duration(exit.Quantile(0.5))) + " | " + strconv.FormatInt(errs, 10) + " | " + fmtSec(time.Duration(rejoin.Quantile(0.5))) + " |"
				}
				p("| %s | %s | %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s %s\n", f.Target, ms(f.Spec.SessionTimeout, 9000), ms(f.Spec.HeartbeatInterval, 2000),
					ds[0].Signal, row.which, s.Count, fmtSec(s.P50), fmtSec(s90), fmtSec(s.Max), fmtSec(s.Min), fmtSec(g.P50), fmtSec(g90), fmtSec(g.Max), tail)
			}
		}
		if f.Err != "" {
			p("\n%s: error: %s\n", f.Target, oneLine(f.Err))
		}
	}
	p("\n")
	for _, f := range r.Failover {
		for _, ds := range [][]Kill{f.Kills, f.Shutdowns} {
			if len(ds) == 0 {
				continue
			}
			var b strings.Builder
			for i, k := range ds {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.FormatFloat(k.Writable.Seconds(), 'f', 2, 64))
				b.WriteString("/")
				b.WriteString(strconv.FormatFloat(k.MaxGap.Seconds(), 'f', 2, 64))
				if k.Controller {
					b.WriteString("*")
				}
			}
			p("- %s, each %s in order (first ack/longest gap, s; * the victim was the active controller): %s\n", f.Target, ds[0].Signal, b.String())
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
