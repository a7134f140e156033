package bench

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

// The test binary doubles as the processes the bench starts: with
// SLUICE_BENCH_CHILD=peer it is "sluice bench serve-peer", with
// SLUICE_BENCH_CHILD=serve a minimal "sluice serve".
func TestMain(m *testing.M) {
	switch os.Getenv("SLUICE_BENCH_CHILD") {
	case "peer":
		os.Exit(childPeer(os.Args[1:]))
	case "serve":
		os.Exit(childServe(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func childPeer(args []string) int {
	fs := flag.NewFlagSet("serve-peer", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "", "")
	topics := fs.String("topics", "", "")
	parts := fs.Int("partitions", 3, "")
	if len(args) == 0 || fs.Parse(args[1:]) != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	var ts []string
	if *topics != "" {
		ts = strings.Split(*topics, ",")
	}
	if err := ServePeer(ctx, args[0], *dataDir, ts, int32(*parts), os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func childServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listeners := fs.String("listeners", "", "")
	logDirs := fs.String("log-dirs", "", "")
	_ = fs.String("log-level", "", "")
	if fs.Parse(args) != nil {
		return 2
	}
	cfg := config.Default()
	cfg.Listeners, cfg.LogDirs = *listeners, *logDirs
	b := broker.New(cfg, slog.New(slog.DiscardHandler))
	if err := b.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	<-sig
	if err := b.Close(); err != nil {
		return 1
	}
	return 0
}

// childCmd is this test binary as a child of the given kind.
func childCmd(t *testing.T, kind string) []string {
	t.Setenv("SLUICE_BENCH_CHILD", kind)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe}
}

// TestSpawnedBench runs Sluice and kfake as child processes and checks the
// report has their memory and both sides' CPU use.
func TestSpawnedBench(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	cfg := Config{
		Targets:      []Target{{Name: "sluice", Kind: Sluice}, {Name: "kfake-disk", Kind: KFake, KFakeMode: "disk"}},
		Sizes:        []int{1024},
		Records:      2000,
		Rate:         400,
		Duration:     time.Second,
		DataDir:      t.TempDir(),
		PhaseTimeout: time.Minute,
		Spawn:        true,
		DiskFloor:    true, // the loopback floor's server runs as a peer too
		RawConsume:   true,
		PeerCommand:  childCmd(t, "peer"),
		Command:      "sluice bench --spawn --test",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Throughput {
		if r.Err != "" || r.Produce.Records != 2000 || r.Consume.Records != 2000 {
			t.Errorf("%s: %+v", r.Target, r)
		}
		if r.Produce.BrokerCPU < 0 || r.Produce.ClientCPU <= 0 {
			t.Errorf("%s: CPU not measured: %+v", r.Target, r.Produce)
		}
	}
	for _, l := range rep.Latency {
		if l.Err != "" || l.Acked != 400 {
			t.Errorf("%s latency: %+v", l.Target, l)
		}
	}
	if len(rep.NetFloor) != 9 {
		t.Fatalf("%d loopback floor runs, want 9 (plain, durable and durable with a tailing reader, three times)", len(rep.NetFloor))
	}
	for _, f := range rep.NetFloor {
		if f.Err != "" || f.Records != 400 || f.Ack.Count != 400 {
			t.Errorf("%s: %+v", f.Label, f)
		}
	}
	if len(rep.Memory) != 2 {
		t.Fatalf("memory rows: %+v", rep.Memory)
	}
	for _, m := range rep.Memory {
		if m.Idle <= 0 || m.AfterProduce <= 0 || m.Peak < m.Idle {
			t.Errorf("%s memory: %+v", m.Target, m)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"runs as its own process", "Broker process memory", "CPU use", "| kfake-disk |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}

// TestStartup starts the broker a couple of times on an empty data dir and
// on one with a few partitions of data.
func TestStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	c := StartupConfig{
		Serve:               childCmd(t, "serve"),
		Runs:                2,
		Partitions:          20,
		RecordsPerPartition: 5,
		IdleWait:            100 * time.Millisecond,
		DataDir:             t.TempDir(),
		Command:             "sluice bench startup --test",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := RunStartup(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Scenarios) != 2 {
		t.Fatalf("%d scenarios", len(rep.Scenarios))
	}
	for _, s := range rep.Scenarios {
		if len(s.Runs) != 2 {
			t.Errorf("%s: %d runs", s.Name, len(s.Runs))
		}
		for _, r := range s.Runs {
			if r.Accept <= 0 || r.Answer < r.Accept || r.Serve < r.Answer || r.RSS <= 0 {
				t.Errorf("%s: %+v", s.Name, r)
			}
		}
	}
	if rep.Scenarios[1].DataBytes < 20*5*1024 {
		t.Errorf("data dir holds %d bytes", rep.Scenarios[1].DataBytes)
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| 20 partitions of data") {
		t.Errorf("report:\n%s", md.String())
	}
}

func TestTracePath(t *testing.T) {
	one := &Config{Trace: "/tmp/b.trace", Targets: []Target{{Name: "sluice", Kind: Sluice}}}
	if got := one.tracePath(one.Targets[0]); got != "/tmp/b.trace" {
		t.Errorf("one target: %q", got)
	}
	two := &Config{Trace: "/tmp/b.trace", Targets: []Target{{Name: "sluice", Kind: Sluice}, {Name: "kfake-sync", Kind: KFake, KFakeMode: "sync"}}}
	if got := two.tracePath(two.Targets[1]); got != "/tmp/b-kfake-sync.trace" {
		t.Errorf("two targets: %q", got)
	}
}
