package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TestTinyBench runs every phase against an embedded Sluice, kfake in each
// mode and kfake again as an "external" cluster, and checks the report
// holds sane, non-zero figures. It proves the tool works; it says nothing
// about speed.
func TestTinyBench(t *testing.T) {
	ext, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()

	targets := []Target{{Name: "sluice", Kind: Sluice}}
	for _, m := range KFakeModes {
		targets = append(targets, Target{Name: "kfake-" + m, Kind: KFake, KFakeMode: m})
	}
	extT, err := ParseExternal("ext=" + strings.Join(ext.ListenAddrs(), ","))
	if err != nil {
		t.Fatal(err)
	}
	targets = append(targets, extT)

	var progress bytes.Buffer
	const records = 2000
	cfg := Config{
		Targets:      targets,
		Sizes:        []int{1024, 100},
		Records:      records,
		Repeat:       2,
		Producers:    2,
		Consumers:    2,
		Rate:         400,
		Duration:     time.Second,
		DiskFloor:    true,
		DataDir:      t.TempDir(),
		PhaseTimeout: time.Minute,
		Command:      "sluice bench --test",
		Progress:     &progress,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	if got, want := len(rep.Throughput), len(targets)*2; got != want {
		t.Fatalf("%d throughput rows, want %d", got, want)
	}
	for _, r := range rep.Throughput {
		if r.Err != "" {
			t.Errorf("%s %dB: %s", r.Target, r.Size, r.Err)
			continue
		}
		if len(r.Runs) != 2 {
			t.Errorf("%s %dB: %d runs, want 2", r.Target, r.Size, len(r.Runs))
		}
		for name, ph := range map[string]PhaseResult{"produce": r.Produce, "consume": r.Consume} {
			if ph.Records != records || ph.Bytes != records*int64(r.Size) || ph.Elapsed <= 0 || ph.MiBps() <= 0 || ph.RecPerSec() <= 0 {
				t.Errorf("%s %dB %s: %+v", r.Target, r.Size, name, ph)
			}
		}
	}
	if len(rep.Latency) != len(targets) {
		t.Fatalf("%d latency rows, want %d", len(rep.Latency), len(targets))
	}
	for _, l := range rep.Latency {
		if l.Err != "" {
			t.Errorf("%s latency: %s", l.Target, l.Err)
			continue
		}
		if l.Sent != 400 || l.Acked != l.Sent || l.Received != l.Sent || l.AchievedRate() <= 0 {
			t.Errorf("%s latency counts: sent %d acked %d received %d", l.Target, l.Sent, l.Acked, l.Received)
		}
		for name, s := range map[string]Summary{"ack": l.Ack, "e2e": l.E2E} {
			if s.Count != uint64(l.Sent) || s.P50 <= 0 || s.P50 > s.P99 || s.P99 > s.P999 || s.P999 > s.Max || s.Min > s.P50 {
				t.Errorf("%s %s latency: %+v", l.Target, name, s)
			}
		}
	}

	if len(rep.Floor) != len(targets)+1 {
		t.Fatalf("%d disk floor runs, want %d (before each target and after the last)", len(rep.Floor), len(targets)+1)
	}
	for _, f := range rep.Floor {
		// Every record is covered by exactly one fdatasync, and one
		// fdatasync covers at least one record.
		if f.Err != "" || f.Records != 400 || f.Ack.Count != 400 || f.Syncs < 1 || f.Syncs > 400 ||
			f.Sync.Count != uint64(f.Syncs) || f.MaxBatch < 1 || f.Ack.P50 <= 0 || f.Ack.P50 > f.Ack.Max {
			t.Errorf("%s: %+v", f.Label, f)
		}
	}

	if len(rep.NetFloor) != 3*(len(targets)+1) {
		t.Fatalf("%d loopback floor runs, want %d (plain, durable and durable with a tailing reader beside each disk floor run)", len(rep.NetFloor), 3*(len(targets)+1))
	}
	for _, f := range rep.NetFloor {
		// Every request sent got its response; the tailing reader was
		// answered on the floor that has one.
		tail := strings.Contains(f.Label, "tailing reader")
		if f.Err != "" || f.Records != 400 || f.Ack.Count != 400 || f.Ack.P50 <= 0 || f.Ack.P50 > f.Ack.Max || tail != (f.TailReads > 0) {
			t.Errorf("%s: %+v", f.Label, f)
		}
	}

	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, prefix := range []string{"| loopback floor (", "| disk + loopback floor (", "| durable loopback floor ("} {
		if got, want := strings.Count(out, prefix), len(targets)+1; got != want {
			t.Errorf("report has %d %q rows, want %d", got, prefix, want)
		}
	}
	for _, want := range []string{"GOMAXPROCS=", "sluice bench --test", "| sluice |", "| kfake-sync |", "| ext |",
		"vs kfake-sync", "median of 2 runs", "Throughput, 1024-byte records", "Throughput, 100-byte records", "Latency, 1024-byte",
		"| disk floor (before sluice) |", "| disk floor (after ext) |", "fdatasyncs (up to",
		"| loopback floor (before sluice) |", "| disk + loopback floor (after ext) |", "Loopback floor: no broker"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if got, want := strings.Count(out, "| disk floor ("), len(targets)+1; got != want {
		t.Errorf("report has %d disk floor rows, want %d", got, want)
	}
	if strings.Contains(out, "error:") {
		t.Errorf("report shows an error")
	}
	if !strings.Contains(progress.String(), "sluice produce 1024B: 2000 records") {
		t.Errorf("progress log lacks the produce line:\n%s", progress.String())
	}
	t.Logf("report:\n%s", out)
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "1GiB": 1 << 30, "100MB": 100e6, "64k": 64 << 10,
		"4096": 4096, "1.5 GiB": 3 << 29, "2gb": 2e9,
	} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "12 parsecs", "-1"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) did not fail", bad)
		}
	}
}

func TestParseExternal(t *testing.T) {
	tg, err := ParseExternal("kafka=127.0.0.1:9092, 127.0.0.1:9093")
	if err != nil || tg.Name != "kafka" || len(tg.Seeds) != 2 || tg.Kind != External {
		t.Fatalf("%+v %v", tg, err)
	}
	tg, err = ParseExternal("127.0.0.1:9092")
	if err != nil || tg.Name != "127.0.0.1:9092" {
		t.Fatalf("%+v %v", tg, err)
	}
	if _, err := ParseExternal("x="); err == nil {
		t.Fatal("empty seeds accepted")
	}
}
