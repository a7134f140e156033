package replica

import (
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/config"
)

// TestCompactionConfigs: compact-only topics keep everything until the
// cleaner removes it, compact,delete also gets retention, and topic
// overrides beat the broker's log.cleaner.* defaults.
func TestCompactionConfigs(t *testing.T) {
	b, err := config.Build(map[string]string{
		"log.cleaner.min.cleanable.ratio": "0.3",
		"log.cleaner.backoff.ms":          "250",
		"log.cleaner.threads":             "2",
	})
	if err != nil {
		t.Fatal(err)
	}
	compact := config.ResolveTopic(b, map[string]string{"cleanup.policy": "compact", "retention.ms": "1000"})
	if lc := logConfig(compact); lc.RetentionMs != -1 || lc.RetentionBytes != -1 {
		t.Fatalf("compact-only topic has retention %+v", lc)
	}
	both := config.ResolveTopic(b, map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "1000"})
	if lc := logConfig(both); lc.RetentionMs != 1000 {
		t.Fatalf("compact,delete topic lost retention.ms: %+v", lc)
	}

	cc := resolveCompaction(b, map[string]string{"cleanup.policy": "compact,delete", "delete.retention.ms": "5"})
	want := compaction{enabled: true, minCleanableRatio: 0.3, deleteRetentionMs: 5, minCompactionLagMs: 0, maxCompactionLagMs: 1<<63 - 1}
	if cc != want {
		t.Fatalf("resolved %+v, want %+v", cc, want)
	}
	if cc := resolveCompaction(b, nil); cc.enabled {
		t.Fatal("a delete topic is compacted")
	}
	set := cleanerSettingsFrom(b)
	if !set.enable || set.backoff != 250*time.Millisecond || set.threads != 2 || set.dedupe != 128<<20 {
		t.Fatalf("cleaner settings %+v", set)
	}
	b2, _ := config.Build(map[string]string{"log.cleaner.enable": "false"})
	if cleanerSettingsFrom(b2).enable {
		t.Fatal("log.cleaner.enable=false ignored")
	}
}
