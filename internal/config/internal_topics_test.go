package config

import (
	"strings"
	"testing"
)

// The internal topics' replication settings resolve to 1 on a single node
// (no process.roles), to Kafka's defaults on a cluster node, and to an
// explicit value whenever one is given; DescribeConfigs shows the
// effective value.
func TestInternalTopicReplicationDefaults(t *testing.T) {
	type want struct {
		offsets, txn, share int16
		minISR, shareMinISR int32
	}
	check := func(name string, b *Broker, w want) {
		t.Helper()
		got := want{b.OffsetsTopicReplicationFactor(), b.TransactionStateLogReplicationFactor(),
			b.ShareStateTopicReplicationFactor(), b.TransactionStateLogMinISR(), b.ShareStateTopicMinISR()}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", name, got, w)
		}
	}
	single, err := Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	check("single node", single, want{1, 1, 1, 1, 1})
	var nilB *Broker
	check("nil", nilB, want{3, 3, 3, 2, 2})

	cluster, err := Build(map[string]string{"process.roles": "broker,controller"})
	if err != nil {
		t.Fatal(err)
	}
	check("cluster node", cluster, want{3, 3, 3, 2, 2})

	explicit, err := Build(map[string]string{"process.roles": "broker,controller",
		OffsetsTopicReplicationFactorKey: " 2 ", TransactionStateLogMinISRKey: "1", ShareStateTopicMinISRKey: "3"})
	if err != nil {
		t.Fatal(err)
	}
	check("explicit", explicit, want{2, 3, 3, 1, 3})
	explicitSingle, err := Build(map[string]string{OffsetsTopicReplicationFactorKey: "3"})
	if err != nil {
		t.Fatal(err)
	}
	check("explicit single", explicitSingle, want{3, 1, 1, 1, 1})

	desc := map[string]Entry{}
	for _, e := range explicit.Describe() {
		desc[e.Name] = e
	}
	if e := desc[OffsetsTopicReplicationFactorKey]; e.Value != "2" || e.Source != SourceStaticBroker || !e.ReadOnly {
		t.Errorf("described as %+v", e)
	}
	desc = map[string]Entry{}
	for _, e := range single.Describe() {
		desc[e.Name] = e
	}
	if e := desc[TransactionStateLogMinISRKey]; e.Value != "1" || e.Source != SourceDefault {
		t.Errorf("single node min.isr described as %+v", e)
	}

	for _, c := range []struct{ key, value, msg string }{
		{OffsetsTopicReplicationFactorKey, "0", "at least 1"},
		{OffsetsTopicReplicationFactorKey, "40000", "16-bit"},
		{TransactionStateLogMinISRKey, "x", TransactionStateLogMinISRKey},
	} {
		if _, err := Build(map[string]string{c.key: c.value}); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s=%s: %v, want an error with %q", c.key, c.value, err, c.msg)
		}
	}
}
