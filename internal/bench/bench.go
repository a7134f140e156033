// Package bench measures Kafka-compatible brokers from the client side:
// produce throughput, consume throughput and fixed-rate latency, against
// an external cluster, an in-process Sluice and franz-go's in-process
// kfake, and renders the figures as a Markdown comparison.
//
// Every target is run the same way, one at a time, by franz-go (kgo)
// clients in this process, so in-process brokers share the CPU with the
// clients driving them; an external broker does not.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Phases a run can include.
const (
	PhaseProduce = "produce"
	PhaseConsume = "consume"
	PhaseLatency = "latency"
	// PhaseFailover SIGKILLs partition leaders of a Cluster target while
	// a producer writes (failover.go); other targets skip it.
	PhaseFailover = "failover"
)

// Config is one benchmark invocation.
type Config struct {
	Targets []Target

	Sizes   []int // record value sizes, bytes
	Records int64 // records per size; 0: Bytes/size
	Bytes   int64 // payload bytes per size when Records is 0
	Repeat  int   // throughput runs per target and size; the median is reported

	Partitions        int32
	ReplicationFactor int16
	Producers         int
	Consumers         int
	Phases            []string

	// Latency phase.
	Rate        int // records per second
	Duration    time.Duration
	LatencySize int // 0: Sizes[0]
	// LatencyPartitioner is how the latency phase, and the floors beside
	// it, spread records over the partitions: "sticky" (runs of
	// stickyRunBytes, as kgo's and the Java client's default partitioners
	// do with records without keys) or "round-robin" (each record to the
	// next partition, as keyed records spread). "": sticky.
	LatencyPartitioner string
	// LatencyNoConsumer leaves the latency phase's tailing consumer out
	// (no end-to-end figures): acknowledgements with the producer alone,
	// read against the durable floor without its tailing reader.
	LatencyNoConsumer bool
	// DiskFloor runs the disk floor (runDiskFloor) at the latency phase's
	// rate, size and partitions before every target and after the last,
	// so each target's latencies can be read against what the disk
	// allowed minutes apart in the same run: this disk's tails drift.
	// With it the loopback floor (runNetFloor) runs beside each disk
	// floor run, its server placed like the broker.
	DiskFloor bool

	// Failover phase (Cluster targets): Kills SIGKILLs of a partition
	// leader, each restarted and back in the ISR before the next; then
	// Shutdowns SIGTERMs (controlled shutdowns) the same way.
	Kills     int
	Shutdowns int

	// Producer tuning for the throughput phase.
	Linger        time.Duration
	BatchMaxBytes int32
	MaxInflight   int
	Compression   string // none, gzip, snappy, lz4, zstd

	// Consumer tuning. RawConsume sends Fetch requests directly and counts
	// records from batch headers (CRC checked, records not decoded): a
	// lighter load generator than kgo's record-decoding consumer.
	RawConsume             bool
	FetchMaxBytes          int32
	FetchMaxPartitionBytes int32

	DataDir      string        // parent of temporary data dirs; "" = os.TempDir
	Baseline     string        // ratios are against this target; "" = first peer
	PhaseTimeout time.Duration // per phase; 0 = 10m
	KeepTopics   bool          // leave bench topics on external clusters

	// Spawn runs every Sluice and kfake target as a child process
	// (PeerCommand, default "<this executable> bench serve-peer"), pinned
	// to BrokerCPUs (a taskset CPU list) when that is set, and reports its
	// RSS and CPU time.
	Spawn       bool
	PeerCommand []string
	BrokerCPUs  string
	// SluiceCommand is the sluice executable Cluster targets run
	// ("format" and "serve" are appended); default this executable.
	SluiceCommand []string
	// Trace, when set, makes every spawned Sluice and kfake peer write a
	// Go execution trace (runtime/trace) of its whole life to this path,
	// with "-<kind>" before the extension when there are several targets.
	Trace string

	Command     string    // the command line, for the report
	Progress    io.Writer // progress and per-phase lines; nil = none
	ProgressTTY bool      // redraw a live line with carriage returns
	BrokerLog   io.Writer // embedded Sluice warnings; nil = discard

	// conn are the connection options (TLS, SASL) of the target being
	// measured: runTarget sets them on its own copy of the Config, so
	// every client a phase makes connects as that target needs.
	conn []kgo.Opt
}

func (c *Config) defaults() error {
	if len(c.Targets) == 0 {
		return errors.New("no targets: give --brokers, --embedded and/or --kfake")
	}
	seen := map[string]bool{}
	for _, t := range c.Targets {
		if seen[t.Name] {
			return fmt.Errorf("target name %q used twice", t.Name)
		}
		seen[t.Name] = true
	}
	if len(c.Sizes) == 0 {
		c.Sizes = []int{1024}
	}
	for _, s := range c.Sizes {
		if s < 1 {
			return fmt.Errorf("record size %d: must be positive", s)
		}
	}
	if c.Records <= 0 && c.Bytes <= 0 {
		c.Bytes = 256 << 20
	}
	c.Repeat = max(c.Repeat, 1)
	if c.Partitions < 1 {
		c.Partitions = 3
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = 1
	}
	c.Producers = max(c.Producers, 1)
	c.Consumers = max(c.Consumers, 1)
	if len(c.Phases) == 0 {
		c.Phases = []string{PhaseProduce, PhaseConsume, PhaseLatency}
	}
	for _, p := range c.Phases {
		if p != PhaseProduce && p != PhaseConsume && p != PhaseLatency && p != PhaseFailover {
			return fmt.Errorf("unknown phase %q (want produce, consume, latency, failover)", p)
		}
	}
	if c.has(PhaseConsume) && !c.has(PhaseProduce) {
		return errors.New("the consume phase reads what the produce phase wrote: include produce")
	}
	if c.Rate <= 0 {
		c.Rate = 5000
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.Kills <= 0 && c.Shutdowns <= 0 {
		c.Kills = 20 // a failover phase with nothing to time is no phase
	}
	if c.LatencySize == 0 {
		c.LatencySize = c.Sizes[0]
	}
	switch c.LatencyPartitioner {
	case "":
		c.LatencyPartitioner = "sticky"
	case "sticky", "round-robin":
	default:
		return fmt.Errorf("latency partitioner %q: sticky or round-robin", c.LatencyPartitioner)
	}
	if c.LatencySize < latencyHeader {
		return fmt.Errorf("latency record size %d: at least %d bytes carry the timestamp", c.LatencySize, latencyHeader)
	}
	if c.BatchMaxBytes <= 0 {
		c.BatchMaxBytes = 1 << 20
	}
	if c.MaxInflight <= 0 {
		c.MaxInflight = 5
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	if _, err := CompressionCodec(c.Compression); err != nil {
		return err
	}
	if c.FetchMaxBytes <= 0 {
		c.FetchMaxBytes = 64 << 20
	}
	if c.FetchMaxPartitionBytes <= 0 {
		c.FetchMaxPartitionBytes = 8 << 20
	}
	if c.PhaseTimeout <= 0 {
		c.PhaseTimeout = 10 * time.Minute
	}
	if c.Baseline == "" {
		c.Baseline = c.Targets[0].Name
		for _, t := range c.Targets {
			if t.Kind != Sluice && t.Kind != Cluster {
				c.Baseline = t.Name
				break
			}
		}
	} else if !seen[c.Baseline] {
		return fmt.Errorf("--baseline %q is not one of the targets", c.Baseline)
	}
	return nil
}

func (c *Config) has(phase string) bool { return slices.Contains(c.Phases, phase) }

// recordsFor is how many records the throughput phases move at size.
func (c *Config) recordsFor(size int) int64 {
	if c.Records > 0 {
		return c.Records
	}
	return max(c.Bytes/int64(size), 1)
}

// CompressionCodec maps a codec name (none or empty, gzip, snappy, lz4,
// zstd) to franz-go's codec; the CLI's --compression uses it too.
func CompressionCodec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "none", "":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("compression %q: want none, gzip, snappy, lz4 or zstd", name)
}

// Run measures every target in turn, starting and stopping in-process
// ones around their phases. A target that fails a phase gets the error in
// its row and the run goes on; Run itself fails only on bad configuration
// or when ctx ends.
func Run(ctx context.Context, c Config) (*Report, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	var idb [3]byte
	_, _ = rand.Read(idb[:])
	runID := hex.EncodeToString(idb[:])
	rep := &Report{Started: time.Now(), Machine: probeMachine(c.DataDir), Config: c}
	pr := newProgress(c.Progress, c.ProgressTTY)

	tputTopic := func(size, rep int) string { return fmt.Sprintf("sluice-bench-%s-%d-%d", runID, size, rep) }
	latTopic := fmt.Sprintf("sluice-bench-%s-latency", runID)
	var topics []string
	if c.has(PhaseProduce) {
		for _, s := range c.Sizes {
			for r := 0; r < c.Repeat; r++ {
				topics = append(topics, tputTopic(s, r))
			}
		}
	}
	if c.has(PhaseLatency) {
		topics = append(topics, latTopic)
	}
	foTopic := fmt.Sprintf("sluice-bench-%s-failover", runID)

	floor := func(label string) {
		if !c.DiskFloor || !c.has(PhaseLatency) || ctx.Err() != nil {
			return
		}
		pr.note("disk floor (%s): %d files, %d × %d B/s for %v", label, c.Partitions, c.Rate, c.LatencySize, c.Duration)
		f, err := runDiskFloor(ctx, c.DataDir, int(c.Partitions), c.Rate, c.LatencySize, c.Duration, c.latencyPartition)
		f.Label = "disk floor (" + label + ")"
		if err != nil {
			f.Err = err.Error()
			pr.note("disk floor (%s): %v", label, err)
		} else {
			pr.note("disk floor (%s): ack p50 %s p99 %s p99.9 %s; %d fdatasyncs, p99 %s", label,
				fmtDur(f.Ack.P50), fmtDur(f.Ack.P99), fmtDur(f.Ack.P999), f.Syncs, fmtDur(f.Sync.P99))
		}
		rep.Floor = append(rep.Floor, f)

		// The durable floor runs twice with the consumer: without a
		// reader, and with the tailing reader standing for the consumer.
		type netFloor struct {
			peer string
			tail bool
		}
		floors := []netFloor{{"loopback", false}, {DurablePeer, false}}
		if !c.LatencyNoConsumer {
			floors = append(floors, netFloor{DurablePeer, true})
		}
		for _, fl := range floors {
			peer := fl.peer
			name := netFloorName(peer, fl.tail) + " (" + label + ")"
			nf := NetFloorResult{Label: name}
			rt, err := startNetFloor(&c, peer)
			if err == nil {
				nf, err = runNetFloor(ctx, rt.seeds[0], c.Rate, c.LatencySize, c.Duration, c.latencyPartition, fl.tail)
				nf.Label = name
				err = errors.Join(err, rt.close())
			}
			if err != nil {
				nf.Err = err.Error()
				pr.note("%s: %v", name, err)
			} else {
				pr.note("%s: round trip p50 %s p99 %s p99.9 %s", name,
					fmtDur(nf.Ack.P50), fmtDur(nf.Ack.P99), fmtDur(nf.Ack.P999))
			}
			rep.NetFloor = append(rep.NetFloor, nf)
		}
	}
	for _, t := range c.Targets {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		floor("before " + t.Name)
		pr.note("%s: starting (%s)", t.Name, t.Describe())
		var rt *running
		var err error
		if t.Kind == Cluster {
			rt, err = t.startCluster(ctx, &c)
		} else if c.Spawn && t.Kind == Sluice && t.TLS {
			err = errors.New("the TLS embedded target runs in-process only (not with --spawn or --broker-cpus)")
		} else if c.Spawn && t.Kind != External {
			rt, err = t.startProcess(&c, topics)
		} else {
			rt, err = t.start(c.DataDir, topics, c.Partitions, c.BrokerLog)
		}
		if err != nil {
			rep.fail(t.Name, c, fmt.Errorf("start: %w", err))
			if c.has(PhaseFailover) && t.Kind == Cluster {
				rep.Failover = append(rep.Failover, FailoverResult{Target: t.Name, Spec: t.Cluster, Partitions: c.Partitions, Err: "start: " + err.Error()})
			}
			pr.note("%s: failed to start: %v", t.Name, err)
			continue
		}
		runTarget(ctx, &c, rep, pr, t, rt, tputTopic, latTopic)
		if c.has(PhaseFailover) && t.Kind == Cluster && ctx.Err() == nil {
			// Last: it kills and restarts the target's brokers.
			res := FailoverResult{Target: t.Name, Spec: t.Cluster, Partitions: c.Partitions}
			pctx, cancel := context.WithTimeout(ctx, c.PhaseTimeout)
			if err := runFailover(pctx, &c, pr, t, rt, foTopic, &res); err != nil {
				res.Err = err.Error()
				pr.note("%s: failover: %v", t.Name, err)
			}
			cancel()
			rep.Failover = append(rep.Failover, res)
		}
		if t.Kind == External && !c.KeepTopics {
			deleteTopics(ctx, rt.seeds, topics, rt.opts...)
		}
		if err := rt.close(); err != nil {
			pr.note("%s: close: %v", t.Name, err)
		}
	}
	floor("after " + c.Targets[len(c.Targets)-1].Name)
	rep.Finished = time.Now()
	return rep, ctx.Err()
}

func runTarget(ctx context.Context, c *Config, rep *Report, pr *progress, t Target, rt *running, tputTopic func(size, rep int) string, latTopic string) {
	tc := *c
	tc.conn = rt.opts
	c = &tc
	seeds := rt.seeds
	phaseCtx := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, c.PhaseTimeout) }
	rf, topicConfigs := c.topicSpec(t)
	mem := MemResult{Target: t.Name, Processes: len(rt.processes())}
	sampleMem := func(dst *int64) {
		var sum MemSample
		for _, pid := range rt.processes() {
			m, err := ReadMem(pid)
			if err != nil {
				return
			}
			sum.RSS += m.RSS
			sum.Peak += m.Peak
		}
		*dst = max(*dst, sum.RSS)
		mem.Peak = max(mem.Peak, sum.Peak)
	}
	if mem.Processes > 0 {
		// Idle: started, nothing asked of it yet.
		time.Sleep(time.Second)
		sampleMem(&mem.Idle)
		defer func() {
			sampleMem(&mem.End)
			rep.Memory = append(rep.Memory, mem)
		}()
	}
	if c.has(PhaseProduce) {
		for _, size := range c.Sizes {
			row := ThroughputResult{Target: t.Name, Size: size}
			for rep := 0; rep < c.Repeat && row.Err == "" && ctx.Err() == nil; rep++ {
				topic := tputTopic(size, rep)
				var run Repetition
				pctx, cancel := phaseCtx()
				err := createTopic(pctx, seeds, topic, c.Partitions, rf, topicConfigs, c.conn...)
				if err == nil {
					settle()
					cm := startCPU(rt.processes())
					run.Produce, err = runProduce(pctx, c, pr, t.Name, seeds, topic, size, c.recordsFor(size))
					run.Produce.ClientCPU, run.Produce.BrokerCPU = cm.stop()
					sampleMem(&mem.AfterProduce)
				}
				cancel()
				if err != nil {
					row.Err = fmt.Sprintf("produce: %v", err)
					pr.note("%s: produce %dB: %v", t.Name, size, err)
				} else if c.has(PhaseConsume) {
					pctx, cancel := phaseCtx()
					settle()
					cm := startCPU(rt.processes())
					run.Consume, err = runConsume(pctx, c, pr, t.Name, seeds, topic, size)
					run.Consume.ClientCPU, run.Consume.BrokerCPU = cm.stop()
					sampleMem(&mem.AfterConsume)
					cancel()
					if err != nil {
						row.Err = fmt.Sprintf("consume: %v", err)
						pr.note("%s: consume %dB: %v", t.Name, size, err)
					}
				}
				if row.Err == "" {
					row.Runs = append(row.Runs, run)
				}
				// Drop the data so repetitions and sizes start alike (and
				// kfake's in-memory mode does not hold every run at once).
				if t.Kind != External || !c.KeepTopics {
					deleteTopics(ctx, seeds, []string{topic}, c.conn...)
				}
			}
			row.pickMedians()
			rep.Throughput = append(rep.Throughput, row)
		}
	}
	if c.has(PhaseLatency) {
		row := LatencyResult{Target: t.Name, Size: c.LatencySize, Rate: c.Rate, Duration: c.Duration}
		pctx, cancel := context.WithTimeout(ctx, c.Duration+c.PhaseTimeout)
		err := createTopic(pctx, seeds, latTopic, c.Partitions, rf, topicConfigs, c.conn...)
		if err == nil {
			settle()
			cm := startCPU(rt.processes())
			err = runLatency(pctx, c, pr, t.Name, seeds, latTopic, &row)
			row.ClientCPU, row.BrokerCPU = cm.stop()
		}
		cancel()
		if err != nil {
			row.Err = err.Error()
			pr.note("%s: latency: %v", t.Name, err)
		}
		rep.Latency = append(rep.Latency, row)
	}
}

// ParseBytes reads a byte count such as 512MiB, 1GiB, 100MB, 64k or 4096.
// Binary (KiB, MiB, GiB, and bare K, M, G) and decimal (KB, MB, GB) units
// are both accepted, case-insensitively.
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("byte count %q: want e.g. 512MiB", s)
	}
	mult := map[string]float64{
		"": 1, "b": 1,
		"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
		"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
		"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
		"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("byte count %q: unknown unit %q", s, unit)
	}
	return int64(v * mult), nil
}

// settle collects garbage before a measured phase, so no phase starts with
// the previous one's heap to clean up: clients and in-process brokers
// share this process's garbage collector.
func settle() {
	debug.FreeOSMemory() // a full collection, then memory back to the OS
}
