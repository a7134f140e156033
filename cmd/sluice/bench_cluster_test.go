package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/bench"
)

// TestBenchClusterTiny runs the cluster target tiny beside the embedded
// single node: three real sluice serve processes (this test binary as
// sluice), the produce and latency phases at RF 3 with min.insync.replicas
// 2, then two leader SIGKILLs and one SIGTERM with a 1 s session timeout. It proves the
// tool works and its figures are sane; it says nothing about speed.
func TestBenchClusterTiny(t *testing.T) {
	t.Setenv("SLUICE_TEST_MAIN", "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const records, kills, shutdowns = 500, 2, 1
	var progress bytes.Buffer
	cfg := bench.Config{
		Targets: []bench.Target{
			{Name: "sluice", Kind: bench.Sluice},
			{Name: "rf3", Kind: bench.Cluster, Cluster: bench.ClusterSpec{Nodes: 3, SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond,
				Overrides: []string{"controller.quorum.election.timeout.ms=300"}}},
		},
		Sizes:         []int{100},
		Records:       records,
		Phases:        []string{bench.PhaseProduce, bench.PhaseLatency, bench.PhaseFailover},
		Rate:          200,
		Duration:      time.Second,
		Kills:         kills,
		Shutdowns:     shutdowns,
		DataDir:       t.TempDir(),
		PhaseTimeout:  time.Minute,
		SluiceCommand: []string{exe},
		Command:       "sluice bench --test",
		Progress:      &progress,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("progress:\n%s", progress.String())
	if len(rep.Throughput) != 2 || len(rep.Latency) != 2 {
		t.Fatalf("%d throughput and %d latency rows, want 2 each", len(rep.Throughput), len(rep.Latency))
	}
	for _, r := range rep.Throughput {
		if r.Err != "" || r.Produce.Records != records || r.Produce.Elapsed <= 0 {
			t.Errorf("%s produce: %+v %s", r.Target, r.Produce, r.Err)
		}
	}
	for _, l := range rep.Latency {
		if l.Err != "" || l.Sent != 200 || l.Acked != l.Sent || l.Ack.P50 <= 0 {
			t.Errorf("%s latency: sent %d acked %d p50 %v %s", l.Target, l.Sent, l.Acked, l.Ack.P50, l.Err)
		}
	}
	if len(rep.Failover) != 1 {
		t.Fatalf("%d failover results, want 1 (the cluster's)", len(rep.Failover))
	}
	fo := rep.Failover[0]
	if fo.Err != "" || fo.Errors != 0 || len(fo.Kills) != kills || len(fo.Shutdowns) != shutdowns {
		t.Fatalf("failover: %d kills, %d shutdowns, %d producer errors (%s), err %q", len(fo.Kills), len(fo.Shutdowns), fo.Errors, fo.FirstError, fo.Err)
	}
	for i, k := range append(fo.Kills, fo.Shutdowns...) {
		// The report's figures are the bench's business; here only that a
		// disruption was timed and the victim came back.
		want := "SIGKILL"
		if i >= kills {
			want = "SIGTERM"
		}
		if k.Signal != want || k.Node < 1 || k.Node > 3 || k.Led < 1 || k.Writable <= 0 || k.Writable > 30*time.Second ||
			k.MaxGap <= 0 || k.Exited <= 0 || k.Errors != 0 || k.Rejoined <= 0 {
			t.Errorf("disruption %d: %+v", i+1, k)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{"| rf3 |", "replication factor 3 and min.insync.replicas=2", "#### Failover", "| rf3 | 1000 ms | 100 ms | SIGKILL | all | 2 |", "| rf3 | 1000 ms | 100 ms | SIGTERM | all | 1 |", "3 processes, summed"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(out, "error:") {
		t.Errorf("report shows an error")
	}
	t.Logf("report:\n%s", out)
}
