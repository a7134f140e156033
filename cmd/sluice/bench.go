package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/bench"
)

func init() { extraCommands = append(extraCommands, benchCmd) }

func benchCmd() *cobra.Command {
	var (
		brokers            []string
		embedded           bool
		embeddedNS         bool
		embeddedTLS        bool
		sec                *securityFlags
		useKFake           bool
		kfakeModes         []string
		size               int
		sizes              []int
		records            int64
		repeat             int
		bytesFlag          string
		partitions         int32
		rf                 int16
		producers          int
		consumers          int
		phases             []string
		rate               int
		duration           time.Duration
		latencySize        int
		latencyPartitioner string
		latencyConsumer    bool
		linger             time.Duration
		batchMax           string
		inflight           int
		compression        string
		dataDir            string
		baseline           string
		phaseTimeout       time.Duration
		keepTopics         bool
		brokerLog          bool
		cpuProfile         string
		tracePath          string
		spawn              bool
		brokerCPUs         string
		peerCmd            string
		peerProfile        string
		rawConsume         bool
		diskFloor          bool
		clusterN           int
		minInsync          int
		sessionTO          time.Duration
		heartbeat          time.Duration
		clusterProps       []string
		kills              int
		shutdowns          int
		sluiceCmd          string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure produce/consume throughput and latency of Sluice and other Kafka-compatible brokers",
		Long: `Measure brokers from the client side with franz-go clients in this process.

Targets (several may be given; they run one after another):
  --brokers [name=]host:port[,host:port]   a running Kafka-compatible cluster
  --embedded                                an in-process Sluice on a temporary
                                            data dir, default config (fsync before ack)
  --embedded-nosync                         the same with log.flush.interval.messages
                                            at its maximum (Kafka's default)
  --embedded-tls                            an in-process Sluice, default config, whose
                                            clients connect over TLS (SSL listener)
  --kfake                                   franz-go's in-process kfake, in each of
                                            --kfake-modes (sync, disk, mem)
  --cluster N                               N "sluice serve" processes forming one
                                            cluster (broker,controller each); its
                                            topics have replication factor min(N,3)
                                            and --min-insync-replicas

--command-config and the security flags (--security-protocol, --sasl-*,
--ssl-*; docs/SECURITY.md) apply to every --brokers target, as for the
other client commands.

--spawn runs each Sluice and kfake target as its own process, and
--broker-cpus pins those processes with taskset: with the bench itself
started under "taskset -c 1", broker and clients each have a core, and the
report adds the broker's RSS and both sides' CPU use.

Phases: produce (acks=all, idempotence off) and consume (groupless, from the
start) at every --sizes, then latency (--rate records/s for --duration with
linger 0). The failover phase (--phases failover, cluster targets only,
after the others) SIGKILLs a partition leader --failover times while a
producer writes acks=all at --rate, and times each kill to the first
acknowledgement of a record sent after it on the partitions it led, and
the longest gap between acknowledgements on them; --shutdowns N then does
the same N times with SIGTERM (a controlled shutdown).
--disk-floor adds, before every target and after the last, the same records
appended and fdatasynced with no broker at all: what the disk alone gives
them, the part of a durable broker's latency that is the disk's; and beside
each a loopback floor: requests of the Produce request's size at the same rate
over one TCP connection to a server, placed like the broker, that answers each
at once: what the round trip alone costs; and a durable loopback floor: the
same server appending each request to a file per partition and answering once
an fdatasync covers it, the smallest durable broker under the same load, run
once more with a tailing reader answered at every fdatasync in place of the
latency phase's consumer (not with --latency-consumer=false). Progress
goes to stderr; a Markdown report goes to stdout, with ratios against
--baseline (default: the first target that is not an embedded Sluice or a
cluster).`,
		Example: `  sluice bench --embedded --kfake --sizes 1024,100 --bytes 512MiB
  sluice bench --brokers kafka=127.0.0.1:9092 --embedded --records 1000000 --producers 2
  sluice bench --embedded --kfake --phases latency --rate 2000 --duration 30s
  taskset -c 1 sluice bench --embedded --kfake --broker-cpus 0 --consumers 3
  sluice bench --spawn --embedded --cluster 3 --phases produce,latency
  sluice bench --cluster 3 --phases failover --failover 20 --session-timeout 1s --heartbeat-interval 100ms
  sluice bench --cluster 3 --phases failover --failover 0 --shutdowns 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := bench.Config{
				Repeat:             repeat,
				Partitions:         partitions,
				ReplicationFactor:  rf,
				Producers:          producers,
				Consumers:          consumers,
				Phases:             phases,
				Rate:               rate,
				Duration:           duration,
				LatencySize:        latencySize,
				LatencyPartitioner: latencyPartitioner,
				LatencyNoConsumer:  !latencyConsumer,
				Linger:             linger,
				MaxInflight:        inflight,
				Compression:        compression,
				DataDir:            dataDir,
				DiskFloor:          diskFloor,
				Baseline:           baseline,
				Kills:              kills,
				Shutdowns:          shutdowns,
				PhaseTimeout:       phaseTimeout,
				KeepTopics:         keepTopics,
				RawConsume:         rawConsume,
				Spawn:              spawn || brokerCPUs != "",
				BrokerCPUs:         brokerCPUs,
				Trace:              tracePath,
				Command:            commandLine(),
				Progress:           os.Stderr,
				ProgressTTY:        isTerminal(os.Stderr),
			}
			if brokerLog {
				cfg.BrokerLog = os.Stderr
			}
			if peerCmd != "" {
				cfg.PeerCommand = strings.Fields(peerCmd)
			}
			if peerProfile != "" {
				if len(cfg.PeerCommand) == 0 {
					exe, err := os.Executable()
					if err != nil {
						return err
					}
					cfg.PeerCommand = []string{exe, "bench", "serve-peer"}
				}
				cfg.PeerCommand = append(cfg.PeerCommand, "--profile-dir", peerProfile)
				cfg.Spawn = true
			}
			if embedded {
				cfg.Targets = append(cfg.Targets, bench.Target{Name: "sluice", Kind: bench.Sluice})
			}
			if embeddedNS {
				cfg.Targets = append(cfg.Targets, bench.Target{Name: "sluice-nosync", Kind: bench.Sluice, NoSync: true})
			}
			if embeddedTLS {
				cfg.Targets = append(cfg.Targets, bench.Target{Name: "sluice-tls", Kind: bench.Sluice, TLS: true})
			}
			secOpts, err := sec.opts()
			if err != nil {
				return err
			}
			for _, b := range brokers {
				t, err := bench.ParseExternal(b)
				if err != nil {
					return err
				}
				t.ClientOpts = secOpts
				cfg.Targets = append(cfg.Targets, t)
			}
			if clusterN > 0 {
				cfg.Targets = append(cfg.Targets, bench.Target{Name: fmt.Sprintf("sluice-cluster%d", clusterN), Kind: bench.Cluster,
					Cluster: bench.ClusterSpec{Nodes: clusterN, MinInsync: minInsync, SessionTimeout: sessionTO, HeartbeatInterval: heartbeat, Overrides: clusterProps}})
			} else if cmd.Flags().Changed("failover") || cmd.Flags().Changed("shutdowns") || cmd.Flags().Changed("session-timeout") || cmd.Flags().Changed("heartbeat-interval") {
				return fmt.Errorf("--failover, --shutdowns, --session-timeout and --heartbeat-interval need --cluster")
			}
			if sluiceCmd != "" {
				cfg.SluiceCommand = strings.Fields(sluiceCmd)
			}
			if useKFake {
				for _, m := range kfakeModes {
					m = strings.TrimSpace(m)
					switch m {
					case "sync", "disk", "mem":
					default:
						return fmt.Errorf("--kfake-modes: %q is not one of sync, disk, mem", m)
					}
					cfg.Targets = append(cfg.Targets, bench.Target{Name: "kfake-" + m, Kind: bench.KFake, KFakeMode: m})
				}
			}
			cfg.Sizes = sizes
			if !cmd.Flags().Changed("sizes") {
				cfg.Sizes = []int{size}
			}
			if cmd.Flags().Changed("records") && cmd.Flags().Changed("bytes") {
				return fmt.Errorf("give --records or --bytes, not both")
			}
			if records > 0 {
				cfg.Records = records
			} else {
				n, err := bench.ParseBytes(bytesFlag)
				if err != nil {
					return fmt.Errorf("--bytes: %w", err)
				}
				cfg.Bytes = n
			}
			bm, err := bench.ParseBytes(batchMax)
			if err != nil || bm <= 0 || bm > 1<<30 {
				return fmt.Errorf("--batch-max-bytes %q: want a size such as 1MiB", batchMax)
			}
			cfg.BatchMaxBytes = int32(bm)

			if cpuProfile != "" {
				pf, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer pf.Close()
				if err := pprof.StartCPUProfile(pf); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			if tracePath != "" && !cfg.Spawn {
				// In-process targets share this process: trace all of it.
				stopTrace, err := startTrace(tracePath)
				if err != nil {
					return err
				}
				defer stopTrace()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Run(ctx, cfg)
			if rep != nil {
				if werr := rep.WriteMarkdown(os.Stdout); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&brokers, "brokers", nil, "a running cluster to measure, `[name=]host:port[,host:port]` (repeatable)")
	f.BoolVar(&embedded, "embedded", false, "run an in-process Sluice (fsync before ack, the default config)")
	f.BoolVar(&embeddedNS, "embedded-nosync", false, "also run an in-process Sluice that leaves flushing to the OS")
	f.BoolVar(&embeddedTLS, "embedded-tls", false, "also run an in-process Sluice whose clients connect over TLS")
	// The security options apply to the --brokers targets.
	sec = addSecurityFlags(f)
	f.BoolVar(&useKFake, "kfake", false, "run franz-go's in-process kfake as a peer")
	f.StringSliceVar(&kfakeModes, "kfake-modes", bench.KFakeModes, "kfake modes: sync (data dir + fsync per batch), disk (data dir), mem")
	f.IntVar(&size, "size", 1024, "record value size in bytes")
	f.IntSliceVar(&sizes, "sizes", nil, "several record sizes, e.g. 1024,100 (overrides --size)")
	f.Int64Var(&records, "records", 0, "records per size (instead of --bytes)")
	f.StringVar(&bytesFlag, "bytes", "256MiB", "payload per size, e.g. 512MiB")
	f.IntVar(&repeat, "repeat", 1, "throughput runs per target and size; the report shows the median and the range")
	f.Int32Var(&partitions, "partitions", 3, "partitions of each bench topic")
	f.Int16Var(&rf, "replication-factor", 1, "replication factor of bench topics")
	f.IntVar(&producers, "producers", 1, "concurrent producer clients")
	f.IntVar(&consumers, "consumers", 1, "concurrent consumer clients (at most one per partition)")
	f.StringSliceVar(&phases, "phases", []string{bench.PhaseProduce, bench.PhaseConsume, bench.PhaseLatency}, "phases to run: produce, consume, latency, failover (cluster targets)")
	f.IntVar(&rate, "rate", 5000, "latency and failover phases: records per second")
	f.DurationVar(&duration, "duration", 10*time.Second, "latency phase: how long to produce")
	f.IntVar(&latencySize, "latency-size", 0, "latency and failover phases: record size (default: the first size)")
	f.StringVar(&latencyPartitioner, "latency-partitioner", "sticky", "latency phase and its floors: how records spread over the partitions: sticky (64 KiB to one partition, then the next, as kgo's and Java's default partitioners do with unkeyed records) or round-robin (each record to the next partition, as keyed records spread)")
	f.BoolVar(&latencyConsumer, "latency-consumer", true, "latency phase: run a consumer tailing the topic (end-to-end latency; the durable floor then also runs with a tailing reader standing for it); false measures acknowledgements with the producer alone")
	f.DurationVar(&linger, "linger", 5*time.Millisecond, "throughput phase: producer linger")
	f.StringVar(&batchMax, "batch-max-bytes", "1MiB", "producer batch size limit")
	f.IntVar(&inflight, "max-inflight", 5, "produce requests in flight per broker")
	f.StringVar(&compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.StringVar(&dataDir, "data-dir", "", "parent of the temporary data dirs (default: the system temp dir)")
	f.StringVar(&baseline, "baseline", "", "target the ratios compare against (default: the first peer)")
	f.DurationVar(&phaseTimeout, "phase-timeout", 10*time.Minute, "give up on a phase after this long")
	f.BoolVar(&keepTopics, "keep-topics", false, "leave bench topics on external clusters")
	f.BoolVar(&brokerLog, "broker-log", false, "show the embedded Sluice's warnings on stderr")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (clients and in-process brokers) to this file")
	f.StringVar(&tracePath, "trace", "", "write a Go execution trace (runtime/trace) of each spawned broker (\"-<kind>\" added before the extension with several targets), or of this whole process when nothing is spawned, for go tool trace")
	f.BoolVar(&spawn, "spawn", false, "run every Sluice and kfake target as its own process (sluice bench serve-peer); reports its RSS and CPU")
	f.StringVar(&brokerCPUs, "broker-cpus", "", "pin spawned brokers to these CPUs with taskset, e.g. 0 (implies --spawn; pin the bench itself with taskset -c 1 sluice bench ...)")
	f.StringVar(&peerCmd, "peer-cmd", "", "command line that serves a peer (default: this executable's \"bench serve-peer\"); the kind and flags are appended")
	f.StringVar(&peerProfile, "peer-profile", "", "spawned brokers write CPU, allocation, mutex and block profiles to this directory (implies --spawn)")
	f.BoolVar(&rawConsume, "raw-consume", false, "consume phase: send Fetch requests directly and count records from batch headers (CRC checked, records not decoded), a lighter load generator")
	f.BoolVar(&diskFloor, "disk-floor", false, "latency phase: also time the same records written and fdatasynced with no broker, their round trips over loopback to a server that answers at once, and to one that answers once each is fdatasynced, before every target and after the last")
	f.IntVar(&clusterN, "cluster", 0, "also measure a cluster of N local sluice serve processes (topics: replication factor min(N,3))")
	f.IntVar(&minInsync, "min-insync-replicas", 0, "cluster target: min.insync.replicas of its topics (default: replication factor - 1)")
	f.DurationVar(&sessionTO, "session-timeout", 0, "cluster target: broker.session.timeout.ms (default: Kafka's 9s)")
	f.DurationVar(&heartbeat, "heartbeat-interval", 0, "cluster target: broker.heartbeat.interval.ms (default: Kafka's 2s)")
	f.StringArrayVar(&clusterProps, "cluster-override", nil, "cluster target: another broker property key=value for every node (repeatable)")
	f.IntVar(&kills, "failover", 20, "failover phase: leader SIGKILLs")
	f.IntVar(&shutdowns, "shutdowns", 0, "failover phase: leader SIGTERMs (controlled shutdowns) after the kills")
	f.StringVar(&sluiceCmd, "sluice-cmd", "", "the sluice executable cluster targets run (default: this one); format and serve are appended")
	cmd.AddCommand(servePeerCmd(), startupCmd())
	return cmd
}

// commandLine is how this run was invoked, for the report.
func commandLine() string {
	parts := []string{"sluice"}
	for _, a := range os.Args[1:] {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\|&;<>*?") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// isTerminal reports whether f is a character device, as a terminal is:
// the signal for redrawing a progress line in place. (/dev/null passes
// too, harmlessly.)
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
