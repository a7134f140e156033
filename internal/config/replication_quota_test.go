package config

import (
	"slices"
	"testing"
)

// The replication throttle rates: Long.MAX_VALUE by default, dynamic per
// broker and cluster-wide, at least 0, as Kafka's DynamicConfig.Broker.
func TestReplicationThrottledRates(t *testing.T) {
	b, err := Build(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	desc := map[string]Entry{}
	for _, e := range b.Describe() {
		desc[e.Name] = e
	}
	for _, k := range []string{LeaderThrottledRateKey, FollowerThrottledRateKey} {
		if e := desc[k]; e.Value != maxLong || e.Source != SourceDefault || e.ReadOnly || e.Type != TypeLong {
			t.Errorf("%s described as %+v", k, e)
		}
		if err := ValidateDynamicBroker(k, new("1048576"), true); err != nil {
			t.Errorf("%s=1048576: %v", k, err)
		}
		if err := ValidateDynamicBroker(k, new("-1"), true); err == nil {
			t.Errorf("%s=-1 accepted", k)
		}
	}
	if e := desc["replication.quota.window.num"]; e.Value != "11" || !e.ReadOnly {
		t.Errorf("replication.quota.window.num %+v", e)
	}
	if l, f := b.ReplicationThrottledRates(); l != 1<<63-1 || f != 1<<63-1 {
		t.Errorf("default rates %d %d", l, f)
	}
	b.SetDynamic(map[string]string{LeaderThrottledRateKey: "500", FollowerThrottledRateKey: "600"},
		map[string]string{LeaderThrottledRateKey: "100"})
	if l, f := b.ReplicationThrottledRates(); l != 100 || f != 600 {
		t.Errorf("dynamic rates %d %d, want the broker's 100 and the cluster's 600", l, f)
	}
}

func TestThrottledPartitions(t *testing.T) {
	for _, c := range []struct {
		v     string
		all   bool
		parts []int32
	}{
		{"*", true, nil},
		{"", false, nil},
		{"0:1,1:2,2:1", false, []int32{0, 2}},
		{" 3 : 1 ", false, []int32{3}},
		{"0:2", false, nil},
		{"bad", false, nil},
	} {
		all, parts := ThrottledPartitions(c.v, 1)
		if all != c.all || !slices.Equal(parts, c.parts) {
			t.Errorf("%q for broker 1: %v %v, want %v %v", c.v, all, parts, c.all, c.parts)
		}
	}
}
