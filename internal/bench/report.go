package bench

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is everything a run measured.
type Report struct {
	Started, Finished time.Time
	Machine           Machine
	Config            Config
	Throughput        []ThroughputResult
	Latency           []LatencyResult
	Floor             []FloorResult    // the disk floor before and after the targets
	NetFloor          []NetFloorResult // the loopback floor beside each disk floor run
	Memory            []MemResult      // targets that ran as their own process
	Failover          []FailoverResult
}

// MemResult is a broker process's resident memory (VmRSS) at points of
// its run, in bytes; 0 where not measured.
type MemResult struct {
	Target    string
	Processes int   // broker processes; figures are their sums
	Idle      int64 // started, one second later, before any phase
	// The highest RSS seen right after a produce phase and right after a
	// consume phase.
	AfterProduce, AfterConsume int64
	End                        int64 // after the last phase
	Peak                       int64 // VmHWM at the end: the highest RSS of its life
}

// ThroughputResult is one target at one record size.
type ThroughputResult struct {
	Target string
	Size   int
	Runs   []Repetition // every repetition that completed
	// Produce and Consume are the median runs by MiB/s, each phase
	// chosen on its own.
	Produce, Consume PhaseResult
	Err              string
}

// Repetition is one produce-then-consume run.
type Repetition struct{ Produce, Consume PhaseResult }

// pickMedians sets Produce and Consume from Runs (the lower middle when
// the count is even).
func (t *ThroughputResult) pickMedians() {
	if len(t.Runs) == 0 {
		return
	}
	med := func(get func(Repetition) PhaseResult) PhaseResult {
		ps := make([]PhaseResult, len(t.Runs))
		for i, r := range t.Runs {
			ps[i] = get(r)
		}
		slices.SortFunc(ps, func(a, b PhaseResult) int { return cmp.Compare(a.MiBps(), b.MiBps()) })
		return ps[(len(ps)-1)/2]
	}
	t.Produce = med(func(r Repetition) PhaseResult { return r.Produce })
	t.Consume = med(func(r Repetition) PhaseResult { return r.Consume })
}

// spread is the lowest and highest MiB/s over the runs of one phase.
func (t *ThroughputResult) spread(get func(Repetition) PhaseResult) (lo, hi float64) {
	for i, r := range t.Runs {
		v := get(r).MiBps()
		if i == 0 || v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// fail records a target that could not run at all.
func (r *Report) fail(target string, c Config, err error) {
	if c.has(PhaseProduce) {
		for _, s := range c.Sizes {
			r.Throughput = append(r.Throughput, ThroughputResult{Target: target, Size: s, Err: err.Error()})
		}
	}
	if c.has(PhaseLatency) {
		r.Latency = append(r.Latency, LatencyResult{Target: target, Size: c.LatencySize, Rate: c.Rate, Duration: c.Duration, Err: err.Error()})
	}
}

// Machine describes where the run happened.
type Machine struct {
	CPU         string
	NumCPU      int
	GOMAXPROCS  int
	MemTotal    string
	OS, Arch    string
	Kernel      string
	GoVersion   string
	LoadAvg     string        // 1, 5 and 15 minute load averages at the start
	CPUsAllowed string        // this process's CPU affinity (Cpus_allowed_list)
	FsyncP50    time.Duration // median of a few 4 KiB write+fsync in the data dir
}

func probeMachine(dataDir string) Machine {
	m := Machine{
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		GoVersion:  runtime.Version(),
		CPU:        "unknown CPU",
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
			m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	m.CPUsAllowed = procField("/proc/self/status", "Cpus_allowed_list")
	m.FsyncP50 = probeFsync(dataDir)
	return m
}

// probeFsync times 32 appends of 4 KiB each followed by fsync in dir and
// returns the median, to show what a durable acknowledgement costs on
// this disk. It returns 0 if the probe cannot run.
func probeFsync(dir string) time.Duration {
	f, err := os.CreateTemp(dir, "sluice-bench-fsync-")
	if err != nil {
		return 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var h Hist
	for i := 0; i < 32; i++ {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return 0
		}
		if err := f.Sync(); err != nil {
			return 0
		}
		h.RecordDuration(time.Since(start))
	}
	return time.Duration(h.Quantile(0.5))
}

// procField returns the value of the first "key : value" line in path.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fmtDur prints a latency with three significant figures, in µs below a
// millisecond and ms above.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return sig3(float64(d)/1e3) + " µs"
	case d < 10*time.Second:
		return sig3(float64(d)/1e6) + " ms"
	}
	return sig3(d.Seconds()) + " s"
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func fmtRate(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + " M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + " k"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func fmtMiB(v float64) string {
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// ratio is v/base as "1.23×", or "—" without a base.
func ratio(v, base float64) string {
	if base <= 0 || v <= 0 {
		return "—"
	}
	r := v / base
	switch {
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	case r >= 0.1:
		return strconv.FormatFloat(r, 'f', 2, 64) + "×"
	}
	return strconv.FormatFloat(r, 'g', 2, 64) + "×"
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}

// WriteMarkdown renders the report as Markdown ready for BENCHMARKS.md.
func (r *Report) WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	c := r.Config
	m := r.Machine
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p("### sluice bench, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	if c.Command != "" {
		p("```\n%s\n```\n\n", c.Command)
	}
	p("- Machine: %s, GOMAXPROCS=%d (NumCPU %d)", m.CPU, m.GOMAXPROCS, m.NumCPU)
	if m.MemTotal != "" {
		p(", %s RAM", m.MemTotal)
	}
	p(", %s/%s", m.OS, m.Arch)
	if m.Kernel != "" {
		p(" %s", m.Kernel)
	}
	p(", %s\n", m.GoVersion)
	if m.LoadAvg != "" || m.FsyncP50 > 0 {
		p("- At the start: load average %s; a 4 KiB write+fsync in the data dir takes %s (median of 32)\n", m.LoadAvg, fmtDur(m.FsyncP50))
	}
	dataDir := c.DataDir
	if dataDir == "" {
		dataDir = os.TempDir()
	}
	p("- Workload: %d partitions, replication factor %d, acks=all, idempotence off, compression %s; "+
		"%d producer client(s), linger %v, batches up to %s, %d requests in flight per broker; "+
		"%d groupless consumer(s) from the start%s\n",
		c.Partitions, c.ReplicationFactor, c.Compression, c.Producers, c.Linger, fmtBytes(int64(c.BatchMaxBytes)), c.MaxInflight, c.Consumers, consumeMode(c.RawConsume))
	if slices.Contains(c.Phases, "latency") {
		p("- Latency phase: linger 0, records spread over the partitions %s, and the floors spread the same records the same way\n", partitionerText(&c))
	}
	if c.Spawn {
		pin := "not pinned"
		if c.BrokerCPUs != "" {
			pin = "pinned to CPU(s) " + c.BrokerCPUs + " with taskset"
		}
		p("- Data dirs under %s; every Sluice and kfake target runs as its own process (`sluice bench serve-peer`), %s; "+
			"the clients run in the bench process, allowed CPU(s) %s\n", dataDir, pin, m.CPUsAllowed)
	} else {
		p("- In-process data dirs under %s; clients and in-process brokers share this process and its CPUs (allowed CPU(s) %s)\n", dataDir, m.CPUsAllowed)
	}
	for _, t := range c.Targets {
		if t.Kind == Cluster {
			p("- `%s` runs as %d processes on this machine (pinned like --broker-cpus when set), its data dirs under %s; its CPU and memory figures are their sums; "+
				"its topics use its own replication factor and min.insync.replicas, not the one above\n", t.Name, t.Cluster.Nodes, dataDir)
		}
	}
	p("- Targets:\n")
	for _, t := range c.Targets {
		p("  - `%s`: %s\n", t.Name, t.Describe())
	}
	p("- Ratios are target ÷ `%s`: above 1× is faster for throughput, slower for latency.\n", c.Baseline)
	if !r.Finished.IsZero() {
		p("- Run took %v\n", r.Finished.Sub(r.Started).Round(time.Second))
	}
	p("\n")

	for _, size := range c.Sizes {
		var rows []ThroughputResult
		var base *ThroughputResult
		for i := range r.Throughput {
			if t := &r.Throughput[i]; t.Size == size {
				rows = append(rows, *t)
				if t.Target == c.Baseline && t.Err == "" {
					base = t
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		n := c.recordsFor(size)
		p("#### Throughput, %d-byte records (%d records, %s per target", size, n, fmtBytes(n*int64(size)))
		if c.Repeat > 1 {
			p("; median of %d runs, lowest–highest MiB/s in brackets", c.Repeat)
		}
		p(")\n\n")
		p("| target | produce MiB/s | produce rec/s | vs %s | consume MiB/s | consume rec/s | vs %s |\n", c.Baseline, c.Baseline)
		p("|---|---:|---:|---:|---:|---:|---:|\n")
		for _, t := range rows {
			var bp, bc float64
			if base != nil {
				bp, bc = base.Produce.MiBps(), base.Consume.MiBps()
			}
			cell := func(get func(Repetition) PhaseResult, b float64) string {
				ph := get(Repetition{t.Produce, t.Consume})
				if ph.Elapsed == 0 {
					return "— | — | —"
				}
				mib := fmtMiB(ph.MiBps())
				if len(t.Runs) > 1 {
					lo, hi := t.spread(get)
					mib += fmt.Sprintf(" (%s–%s)", fmtMiB(lo), fmtMiB(hi))
				}
				return fmt.Sprintf("%s | %s | %s", mib, fmtRate(ph.RecPerSec()), ratio(ph.MiBps(), b))
			}
			produce := func(r Repetition) PhaseResult { return r.Produce }
			consume := func(r Repetition) PhaseResult { return r.Consume }
			p("| %s | %s | %s |", t.Target, cell(produce, bp), cell(consume, bc))
			if t.Err != "" {
				p(" error: %s", oneLine(t.Err))
			}
			p("\n")
		}
		p("\n")
	}

	r.writeCPU(p)
	r.writeMemory(p)

	if len(r.Latency) > 0 {
		var base *LatencyResult
		for i := range r.Latency {
			if l := &r.Latency[i]; l.Target == c.Baseline && l.Err == "" {
				base = l
			}
		}
		p("#### Latency, %d-byte records at %d records/s for %v (linger 0)\n\n", c.LatencySize, c.Rate, c.Duration)
		p("Ack: Produce call to acks=all acknowledgement. End-to-end: Produce call to a tailing consumer holding the record.\n\n")
		p("| target | sent rec/s | ack p50 | ack p99 | ack p99.9 | ack max | e2e p50 | e2e p99 | e2e p99.9 | e2e max | ack p50 vs %s | ack p99 vs %s | e2e p99 vs %s |\n", c.Baseline, c.Baseline, c.Baseline)
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, l := range r.Latency {
			r.writeFloorRows(p, base, "before "+l.Target)
			if l.Ack.Count == 0 {
				p("| %s | — | — | — | — | — | — | — | — | — | — | — | — |", l.Target)
			} else {
				var b50, ba, be float64
				if base != nil {
					b50, ba, be = float64(base.Ack.P50), float64(base.Ack.P99), float64(base.E2E.P99)
				}
				e2e := []string{"—", "—", "—", "—"} // --latency-consumer=false
				if l.E2E.Count > 0 {
					e2e = []string{fmtDur(l.E2E.P50), fmtDur(l.E2E.P99), fmtDur(l.E2E.P999), fmtDur(l.E2E.Max)}
				}
				p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |", l.Target, fmtRate(l.AchievedRate()),
					fmtDur(l.Ack.P50), fmtDur(l.Ack.P99), fmtDur(l.Ack.P999), fmtDur(l.Ack.Max),
					e2e[0], e2e[1], e2e[2], e2e[3],
					ratio(float64(l.Ack.P50), b50), ratio(float64(l.Ack.P99), ba), ratio(float64(l.E2E.P99), be))
			}
			if l.Err != "" {
				p(" error: %s", oneLine(l.Err))
			} else if l.MaxBehind > 100*time.Millisecond {
				p(" pacer fell up to %s behind schedule", fmtDur(l.MaxBehind))
			}
			p("\n")
		}
		if n := len(c.Targets); n > 0 {
			r.writeFloorRows(p, base, "after "+c.Targets[n-1].Name)
		}
		p("\n")
		r.writeFloorNotes(p)
	}
	r.writeFailover(p)
	return bw.Flush()
}

func consumeMode(raw bool) string {
	if raw {
		return " (raw Fetch requests: records counted from batch headers, CRCs checked, records not decoded)"
	}
	return " (kgo consumers, records decoded)"
}

// cpuPct is CPU time as a percentage of one core over elapsed.
func cpuPct(cpu, elapsed time.Duration) string {
	if cpu < 0 || elapsed <= 0 {
		return "—"
	}
	return strconv.FormatFloat(100*cpu.Seconds()/elapsed.Seconds(), 'f', 0, 64) + "%"
}

// writeCPU shows, for the median runs, how busy the clients (this
// process) and a broker process were: a side at ~100% of the CPUs it may
// use is the bottleneck.
func (r *Report) writeCPU(p func(string, ...any)) {
	if len(r.Throughput) == 0 && len(r.Latency) == 0 {
		return
	}
	p("#### CPU use (percent of one core; the bench process holds the clients")
	if !r.Config.Spawn {
		p(" and the in-process brokers")
	}
	p(")\n\n")
	p("| target | size | produce: bench | produce: broker | consume: bench | consume: broker |\n")
	p("|---|---:|---:|---:|---:|---:|\n")
	for _, t := range r.Throughput {
		if t.Err != "" || t.Produce.Elapsed == 0 {
			continue
		}
		p("| %s | %d | %s | %s | %s | %s |\n", t.Target, t.Size,
			cpuPct(t.Produce.ClientCPU, t.Produce.Elapsed), cpuPct(t.Produce.BrokerCPU, t.Produce.Elapsed),
			cpuPct(t.Consume.ClientCPU, t.Consume.Elapsed), cpuPct(t.Consume.BrokerCPU, t.Consume.Elapsed))
	}
	for _, l := range r.Latency {
		if l.Err != "" || l.Elapsed == 0 {
			continue
		}
		p("| %s | latency %d/s | %s | %s | | |\n", l.Target, l.Rate, cpuPct(l.ClientCPU, l.Elapsed), cpuPct(l.BrokerCPU, l.Elapsed))
	}
	p("\n")
}

func (r *Report) writeMemory(p func(string, ...any)) {
	if len(r.Memory) == 0 {
		return
	}
	p("#### Broker process memory (VmRSS from /proc/<pid>/status)\n\n")
	p("| target | idle | after produce | after consume | at the end | peak (VmHWM) | after produce − idle |\n")
	p("|---|---:|---:|---:|---:|---:|---:|\n")
	mb := func(n int64) string {
		if n <= 0 {
			return "—"
		}
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	}
	for _, m := range r.Memory {
		if m.Processes > 1 {
			m.Target += fmt.Sprintf(" (%d processes, summed)", m.Processes)
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", m.Target, mb(m.Idle), mb(m.AfterProduce), mb(m.AfterConsume), mb(m.End), mb(m.Peak), mb(m.AfterProduce-m.Idle))
	}
	p("\n")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", "/")
}
