package config

import "testing"

// TestTopicSynonymsLikeKafka: a topic config lists its override, then the
// layers of its broker synonym from the first entry for that synonym
// itself; nothing for a config without a broker synonym, and no
// DEFAULT_CONFIG log.retention.ms (Kafka's default is null).
func TestTopicSynonymsLikeKafka(t *testing.T) {
	describe := func(b *Broker, over map[string]string) map[string]Entry {
		got := map[string]Entry{}
		for _, e := range DescribeTopic(b, over) {
			got[e.Name] = e
		}
		return got
	}
	b := Default()
	got := describe(b, nil)
	if e := got["retention.ms"]; e.Value != "604800000" || e.Source != SourceDefault || len(e.Synonyms) != 0 {
		t.Errorf("retention.ms %+v", e)
	}
	if e := got["segment.bytes"]; !synEqual(e.Synonyms, []Synonym{{"log.segment.bytes", "1073741824", SourceDefault}}) {
		t.Errorf("segment.bytes %+v", e)
	}
	if e := got["remote.storage.enable"]; len(e.Synonyms) != 0 || e.Source != SourceDefault {
		t.Errorf("remote.storage.enable %+v", e)
	}
	if e := got["flush.ms"]; len(e.Synonyms) != 0 || e.Value != maxLong {
		t.Errorf("flush.ms %+v", e)
	}

	b, err := Build(map[string]string{"log.retention.hours": "2", "log.segment.bytes": "4096"})
	if err != nil {
		t.Fatal(err)
	}
	got = describe(b, map[string]string{"segment.bytes": "8192"})
	if e := got["retention.ms"]; e.Value != "7200000" || e.Source != SourceDefault || len(e.Synonyms) != 0 {
		t.Errorf("retention.ms with log.retention.hours %+v", e)
	}
	want := []Synonym{{"segment.bytes", "8192", SourceDynamicTopic}, {"log.segment.bytes", "4096", SourceStaticBroker},
		{"log.segment.bytes", "1073741824", SourceDefault}}
	if e := got["segment.bytes"]; !synEqual(e.Synonyms, want) || e.Source != SourceDynamicTopic || e.Value != "8192" {
		t.Errorf("segment.bytes %+v, want %+v", e, want)
	}

	b.SetDynamic(map[string]string{"log.retention.ms": "60000"}, nil)
	got = describe(b, nil)
	want = []Synonym{{"log.retention.ms", "60000", SourceDynamicDefaultBroker}, {"log.retention.hours", "2", SourceStaticBroker},
		{"log.retention.hours", "168", SourceDefault}}
	if e := got["retention.ms"]; !synEqual(e.Synonyms, want) || e.Value != "60000" || e.Source != SourceDynamicDefaultBroker {
		t.Errorf("retention.ms with a dynamic default %+v, want %+v", e, want)
	}
}

// TestDescribeCatalogue: the broker describes Kafka's configs it does not
// implement (with Kafka's defaults, read-only or not as in Kafka) and the
// custom ones set on it, which Kafka reports as sensitive.
func TestDescribeCatalogue(t *testing.T) {
	b, err := Build(map[string]string{"my.custom": "x"})
	if err != nil {
		t.Fatal(err)
	}
	b.SetDynamic(map[string]string{"num.io.threads": "16"}, map[string]string{"sasl.kerberos.min.time.before.relogin": "30000"})
	got := map[string]Entry{}
	for _, e := range b.Describe() {
		if _, dup := got[e.Name]; dup {
			t.Errorf("%s described twice", e.Name)
		}
		got[e.Name] = e
	}
	if e := got["num.io.threads"]; e.Value != "16" || e.Source != SourceDynamicDefaultBroker || e.ReadOnly || e.Type != TypeInt {
		t.Errorf("num.io.threads %+v", e)
	}
	if e := got["sasl.kerberos.min.time.before.relogin"]; e.Value != "30000" || e.Source != SourceDynamicBroker || e.Type != TypeLong {
		t.Errorf("sasl.kerberos.min.time.before.relogin %+v", e)
	}
	if e := got["security.inter.broker.protocol"]; e.Value != "PLAINTEXT" || !e.ReadOnly || e.Source != SourceDefault {
		t.Errorf("security.inter.broker.protocol %+v", e)
	}
	if e := got["ssl.keystore.password"]; !e.Sensitive || e.Type != TypePassword {
		t.Errorf("ssl.keystore.password %+v", e)
	}
	if e := got["my.custom"]; !e.Sensitive || e.Type != TypeUnknown || e.Source != SourceStaticBroker {
		t.Errorf("my.custom %+v", e)
	}
	if e := got["log.cleaner.threads"]; e.ReadOnly || e.Doc == "" {
		t.Errorf("log.cleaner.threads %+v", e)
	}
	if e := got["listeners"]; e.ReadOnly {
		t.Errorf("listeners is per-broker dynamic in Kafka: %+v", e)
	}
	for name, m := range kafkaUpdateModes {
		if _, ok := brokerDefsByName[name]; !ok {
			t.Errorf("dynamic config %s (mode %d) missing from the catalogue", name, m)
		}
	}
}
