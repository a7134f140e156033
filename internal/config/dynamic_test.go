package config

import (
	"errors"
	"testing"
)

func TestDynamicBrokerLayers(t *testing.T) {
	b, err := Build(map[string]string{"log.retention.ms": "1000", "log.segment.bytes": "2048"})
	if err != nil {
		t.Fatal(err)
	}
	b.SetDynamic(
		map[string]string{"log.segment.bytes": "4096", "log.retention.hours": "2", "compression.type": "zstd"},
		map[string]string{"log.segment.bytes": "8192"},
	)
	tc := ResolveTopic(b, map[string]string{"compression.type": "lz4"})
	// Per-broker beats cluster default beats static; a dynamic family
	// member (hours) beats a static ms; a topic override beats them all.
	if tc.SegmentBytes != 8192 || tc.RetentionMs != 2*3600*1000 || tc.CompressionType != "lz4" {
		t.Fatalf("resolved %+v", tc)
	}
	got := map[string]Entry{}
	for _, e := range b.Describe() {
		got[e.Name] = e
	}
	seg := got["log.segment.bytes"]
	if seg.Value != "8192" || seg.Source != SourceDynamicBroker || seg.ReadOnly || len(seg.Synonyms) != 4 ||
		seg.Synonyms[1].Source != SourceDynamicDefaultBroker || seg.Synonyms[2].Source != SourceStaticBroker ||
		seg.Synonyms[3].Source != SourceDefault {
		t.Errorf("log.segment.bytes %+v", seg)
	}
	if e := got["compression.type"]; e.Value != "zstd" || e.Source != SourceDynamicDefaultBroker {
		t.Errorf("compression.type %+v", e)
	}
	if e := got["num.partitions"]; !e.ReadOnly || e.Source != SourceDefault {
		t.Errorf("num.partitions %+v", e)
	}
	defs := b.DescribeDynamicDefaults()
	if len(defs) != 3 {
		t.Errorf("dynamic defaults %+v", defs)
	}
	// Removing the layers goes back to the static values.
	b.SetDynamic(nil, nil)
	if tc := ResolveTopic(b, nil); tc.SegmentBytes != 2048 || tc.RetentionMs != 1000 {
		t.Errorf("after clearing %+v", tc)
	}
}

func TestValidateDynamicBroker(t *testing.T) {
	v := func(s string) *string { return &s }
	cases := []struct {
		name  string
		value *string
		kind  error
	}{
		{"log.retention.ms", v("60000"), nil},
		{"log.cleanup.policy", v("compact,delete"), nil},
		{"message.max.bytes", nil, nil},
		{"log.retention.ms", v("soon"), ErrInvalidValue},
		{"log.segment.bytes", v("1"), ErrInvalidValue},
		{"num.partitions", v("3"), ErrNotDynamic},
		{"log.dirs", nil, ErrNotDynamic},
		{"no.such.config", v("1"), ErrUnknownConfig},
	}
	for _, c := range cases {
		err := ValidateDynamicBroker(c.name, c.value)
		if c.kind == nil && err != nil || c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s=%v: got %v, want %v", c.name, c.value, err, c.kind)
		}
	}
}

// TestTypedFieldSetInCode: a Broker built by Default() with a typed field
// assigned in code (tests, sluice bench) resolves topic defaults from that
// field, not from Kafka's default.
func TestTypedFieldSetInCode(t *testing.T) {
	b := Default()
	b.LogFlushIntervalMessages = 1 << 40
	b.LogSegmentBytes = 4096
	if tc := ResolveTopic(b, nil); tc.FlushMessages != 1<<40 || tc.SegmentBytes != 4096 {
		t.Fatalf("resolved %+v", tc)
	}
}
