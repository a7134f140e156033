package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/bench"
)

// servePeerCmd runs one bench target as its own process: what
// `sluice bench --spawn` starts (under taskset with --broker-cpus).
func servePeerCmd() *cobra.Command {
	var (
		dataDir    string
		topics     []string
		partitions int32
		profileDir string
		tracePath  string
		quiet      bool
	)
	cmd := &cobra.Command{
		Use:    "serve-peer " + strings.Join(bench.PeerKinds, "|"),
		Short:  "Serve one benchmark target (Sluice, kfake, or the loopback floor's server) in this process until SIGTERM",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := args[0]
			if strings.HasPrefix(kind, "sluice") || kind == bench.DurablePeer {
				// As sluice serve does (the durable floor runs as the broker
				// would); kfake peers keep Go's default.
				raiseProcs()
			}
			var stopProfiles func() error
			if profileDir != "" {
				var err error
				if stopProfiles, err = startProfiles(profileDir, kind); err != nil {
					return err
				}
			}
			if tracePath != "" {
				stopTrace, err := startTrace(tracePath)
				if err != nil {
					return err
				}
				defer stopTrace()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logTo := os.Stderr
			if quiet {
				logTo = nil
			}
			err := bench.ServePeer(ctx, kind, dataDir, topics, partitions, os.Stdout, logTo)
			if stopProfiles != nil {
				err = errors.Join(err, stopProfiles())
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", "", "parent of the temporary data dir (default: the system temp dir)")
	f.StringSliceVar(&topics, "topics", nil, "topics to seed (kfake)")
	f.Int32Var(&partitions, "partitions", 3, "partitions of each seeded topic")
	f.StringVar(&profileDir, "profile-dir", "", "write <kind>-{cpu,allocs,heap,mutex,block}.pprof here at exit")
	f.StringVar(&tracePath, "trace", "", "write a Go execution trace (runtime/trace) of this process to this file")
	f.BoolVar(&quiet, "quiet", false, "discard the broker's warnings")
	return cmd
}

// startTrace starts a Go execution trace into path; the returned func
// stops it and closes the file. Read it with go tool trace (its -pprof=
// sync, syscall and sched views show where goroutines wait).
func startTrace(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		trace.Stop()
		f.Close()
	}, nil
}

// startProfiles starts a CPU profile and mutex and block sampling; the
// returned func stops them and writes every profile to dir.
func startProfiles(dir, kind string) (func() error, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	name := func(p string) string { return filepath.Join(dir, kind+"-"+p+".pprof") }
	cf, err := os.Create(name("cpu"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(cf); err != nil {
		cf.Close()
		return nil, err
	}
	runtime.SetMutexProfileFraction(10)
	runtime.SetBlockProfileRate(int(10 * time.Microsecond))
	return func() error {
		pprof.StopCPUProfile()
		errs := []error{cf.Close()}
		for _, p := range []string{"allocs", "heap", "mutex", "block"} {
			f, err := os.Create(name(p))
			if err != nil {
				errs = append(errs, err)
				continue
			}
			errs = append(errs, pprof.Lookup(p).WriteTo(f, 0), f.Close())
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("profiles: %w", err)
		}
		return nil
	}, nil
}

// startupCmd measures how fast the broker binary starts and how much
// memory it holds idle.
func startupCmd() *cobra.Command {
	var (
		runs       int
		partitions int
		records    int
		size       int
		serve      string
		cpus       string
		dataDir    string
		idle       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "startup",
		Short: "Time broker starts (empty data dir, and one with many partitions of data) and read idle RSS",
		Long: `Start the broker binary --runs times on an empty data dir and --runs
times on a data dir holding --partitions partitions of data (filled once,
by the same binary, then stopped cleanly), and report for each start the
time from fork to the first accepted TCP connection, to the first
ApiVersions answer, and to serving (ListOffsets answered for every
partition of the data), and VmRSS after --idle of doing nothing.`,
		Example: `  sluice bench startup
  taskset -c 1 sluice bench startup --cpus 0 --runs 10 --partitions 1000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := bench.StartupConfig{
				CPUs:                cpus,
				Runs:                runs,
				Partitions:          partitions,
				RecordsPerPartition: records,
				RecordSize:          size,
				IdleWait:            idle,
				DataDir:             dataDir,
				Progress:            os.Stderr,
				Command:             commandLine(),
			}
			if serve != "" {
				c.Serve = strings.Fields(serve)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := bench.RunStartup(ctx, c)
			if rep != nil && len(rep.Scenarios) > 0 {
				if werr := rep.WriteMarkdown(os.Stdout); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&runs, "runs", 5, "starts per data dir")
	f.IntVar(&partitions, "partitions", 1000, "partitions of data in the second data dir (0: skip it)")
	f.IntVar(&records, "records-per-partition", 100, "records written to each partition")
	f.IntVar(&size, "size", 1024, "record value size in bytes")
	f.StringVar(&serve, "serve-cmd", "", "command that runs a broker (default: this executable's \"serve\"); --listeners, --log-dirs and --log-level are appended")
	f.StringVar(&cpus, "cpus", "", "pin the broker to these CPUs with taskset, e.g. 0")
	f.StringVar(&dataDir, "data-dir", "", "parent of the temporary data dirs (default: the system temp dir)")
	f.DurationVar(&idle, "idle", time.Second, "how long the broker idles after its first answer before RSS is read")
	return cmd
}
