package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestTinyBenchTLS: the embedded TLS target, and an external cluster
// reached over TLS through Target.ClientOpts, go through every phase; the
// same external cluster without the options fails its phases, so the
// options are what every bench client dials with.
func TestTinyBenchTLS(t *testing.T) {
	seeds, opts, stop, err := startSluice(t.TempDir(), true, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ext := Target{Name: "ext-tls", Kind: External, Seeds: seeds, ClientOpts: opts}
	bare := Target{Name: "ext-no-tls", Kind: External, Seeds: seeds}
	const records = 1000
	cfg := Config{
		Targets:      []Target{{Name: "sluice-tls", Kind: Sluice, TLS: true}, ext, bare},
		Sizes:        []int{512},
		Records:      records,
		Repeat:       1,
		Producers:    1,
		Consumers:    2,
		Rate:         200,
		Duration:     time.Second,
		DataDir:      t.TempDir(),
		PhaseTimeout: 15 * time.Second,
		Command:      "sluice bench --test-tls",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Throughput {
		if r.Target == bare.Name {
			if r.Err == "" {
				t.Errorf("%s: plaintext clients measured a TLS listener", r.Target)
			}
			continue
		}
		if r.Err != "" || r.Produce.Records != records || r.Consume.Records != records {
			t.Errorf("%s: err %q, produced %d, consumed %d", r.Target, r.Err, r.Produce.Records, r.Consume.Records)
		}
	}
	for _, l := range rep.Latency {
		if l.Target != bare.Name && (l.Err != "" || l.Received != l.Sent || l.Sent == 0) {
			t.Errorf("%s latency: err %q, sent %d received %d", l.Target, l.Err, l.Sent, l.Received)
		}
	}
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "embedded Sluice over TLS") {
		t.Errorf("report does not say the target is over TLS:\n%s", md.String())
	}
}
