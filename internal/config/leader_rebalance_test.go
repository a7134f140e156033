package config

import (
	"testing"
	"time"
)

// TestLeaderRebalanceKeys: Kafka's defaults, described as DescribeConfigs
// shows them; the Sluice ms key wins over the seconds key; out of range
// values are refused.
func TestLeaderRebalanceKeys(t *testing.T) {
	b, err := Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.LeaderRebalance(); got != (LeaderRebalance{Enabled: true, Interval: 300 * time.Second, PerBrokerPercentage: 10}) {
		t.Errorf("defaults %+v", got)
	}
	want := map[string]string{AutoLeaderRebalanceKey: "true", LeaderImbalanceIntervalKey: "300", LeaderImbalancePerBrokerKey: "10"}
	for _, e := range b.Describe() {
		if v, ok := want[e.Name]; ok {
			if e.Value != v || e.Source != SourceDefault || !e.ReadOnly {
				t.Errorf("%s described as %+v", e.Name, e)
			}
			delete(want, e.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("not described: %v", want)
	}
	b, err = Build(map[string]string{AutoLeaderRebalanceKey: "false", LeaderImbalanceIntervalKey: "5",
		LeaderImbalanceIntervalMs: "250", LeaderImbalancePerBrokerKey: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.LeaderRebalance(); got != (LeaderRebalance{Enabled: false, Interval: 250 * time.Millisecond, PerBrokerPercentage: 0}) {
		t.Errorf("set %+v", got)
	}
	for k, v := range map[string]string{LeaderImbalancePerBrokerKey: "101", LeaderImbalanceIntervalKey: "0", LeaderImbalanceIntervalMs: "0.5"} {
		if _, err := Build(map[string]string{k: v}); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}
