package config

import (
	"errors"
	"testing"
)

func TestDynamicBrokerLayers(t *testing.T) {
	b, err := Build(map[string]string{"log.retention.ms": "1000", "log.segment.bytes": "2048", "log.roll.hours": "5"})
	if err != nil {
		t.Fatal(err)
	}
	b.SetDynamic(
		map[string]string{"log.segment.bytes": "4096", "log.retention.hours": "2", "compression.type": "zstd", "log.roll.ms": "60000"},
		map[string]string{"log.segment.bytes": "8192"},
	)
	tc := ResolveTopic(b, map[string]string{"compression.type": "lz4"})
	// Per-broker beats cluster default beats static; a topic override
	// beats them all. Families merge per name first, as in Kafka: a static
	// log.retention.ms beats a dynamic log.retention.hours, a dynamic
	// log.roll.ms beats a static log.roll.hours.
	if tc.SegmentBytes != 8192 || tc.RetentionMs != 1000 || tc.SegmentMs != 60000 || tc.CompressionType != "lz4" {
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
	// Synonyms in Kafka's order: layer by layer, the family members in
	// order within a layer, from the first entry for the name itself.
	want := []Synonym{
		{"log.retention.hours", "2", SourceDynamicDefaultBroker},
		{"log.retention.ms", "1000", SourceStaticBroker},
		{"log.retention.hours", "168", SourceDefault},
	}
	if e := got["log.retention.hours"]; !synEqual(e.Synonyms, want) || e.Value != "2" {
		t.Errorf("log.retention.hours %+v, want synonyms %+v", e, want)
	}
	want = []Synonym{{"log.retention.ms", "1000", SourceStaticBroker}, {"log.retention.hours", "168", SourceDefault}}
	if e := got["log.retention.ms"]; !synEqual(e.Synonyms, want) {
		t.Errorf("log.retention.ms %+v, want synonyms %+v", e, want)
	}
	defs := b.DescribeDynamicDefaults()
	if len(defs) != 4 {
		t.Errorf("dynamic defaults %+v", defs)
	}
	for _, e := range defs {
		if e.Source != SourceDynamicDefaultBroker || len(e.Synonyms) != 1 || e.Synonyms[0].Source != SourceDynamicDefaultBroker {
			t.Errorf("default resource entry %+v", e)
		}
	}
	// Removing the layers goes back to the static values.
	b.SetDynamic(nil, nil)
	if tc := ResolveTopic(b, nil); tc.SegmentBytes != 2048 || tc.RetentionMs != 1000 || tc.SegmentMs != 5*3600*1000 {
		t.Errorf("after clearing %+v", tc)
	}
}

func synEqual(a, b []Synonym) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestValidateDynamicBroker(t *testing.T) {
	v := func(s string) *string { return &s }
	cases := []struct {
		name      string
		value     *string
		perBroker bool
		kind      error
	}{
		{"log.retention.ms", v("60000"), false, nil},
		{"log.cleanup.policy", v("compact,delete"), true, nil},
		{"message.max.bytes", nil, true, nil},
		{"log.retention.ms", v("soon"), true, ErrInvalidValue},
		{"log.segment.bytes", v("1"), true, ErrInvalidValue},
		{"num.partitions", v("3"), true, ErrNotDynamic},
		{"log.retention.hours", v("3"), true, ErrNotDynamic}, // only log.retention.ms is dynamic in Kafka
		{"log.dirs", nil, true, nil},                         // deleting is always valid
		{"no.such.config", v("1"), true, nil},                // custom configs are accepted
		// Kafka's dynamic configs Sluice does not implement.
		{"log.cleaner.io.max.bytes.per.second", v("1e6"), false, nil},
		{"num.io.threads", v("16"), false, nil},
		{"num.io.threads", v("many"), false, ErrInvalidValue},
		{"sasl.kerberos.min.time.before.relogin", v("30000"), true, nil},
		{"sasl.kerberos.min.time.before.relogin", v("30000"), false, ErrNotDynamic},
		{"listeners", v("PLAINTEXT://:9092"), false, ErrNotDynamic},
		{"ssl.keystore.location", v("/k"), true, ErrNotDynamic},
		{"listener.name.external.ssl.keystore.location", v("/k"), true, nil},
		{"listener.name.external.ssl.keystore.location", v("/k"), false, ErrNotDynamic},
		{"listener.name.external.max.connections", v("100"), false, nil},
		{"listener.name.external.max.connections", v("lots"), true, ErrInvalidValue},
		{"security.inter.broker.protocol", v("SSL"), true, ErrNotDynamic},
	}
	for _, c := range cases {
		err := ValidateDynamicBroker(c.name, c.value, c.perBroker)
		if c.kind == nil && err != nil || c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%s=%v (per broker %v): got %v, want %v", c.name, c.value, c.perBroker, err, c.kind)
		}
	}
}

// TestValidateThreadCount: Kafka's limits on a dynamic thread count: at
// least 1, at least half and at most double the current value.
func TestValidateThreadCount(t *testing.T) {
	b, err := Build(map[string]string{"num.io.threads": "8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, value string
		ok          bool
	}{
		{"num.io.threads", "16", true}, {"num.io.threads", "4", true}, {"num.io.threads", "17", false},
		{"num.io.threads", "3", false}, {"num.io.threads", "0", false},
		{"log.cleaner.threads", "2", true}, {"log.cleaner.threads", "3", false}, {"log.cleaner.threads", "0", false},
		{"background.threads", "20", true}, {"background.threads", "21", false},
		{"log.retention.ms", "1", true},
	} {
		if err := b.ValidateThreadCount(c.name, c.value); (err == nil) != c.ok {
			t.Errorf("%s=%s: %v, want ok %v", c.name, c.value, err, c.ok)
		}
	}
}
