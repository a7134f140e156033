package share

import "testing"

// __share_group_state gets share.coordinator.state.topic.min.isr as its
// min.insync.replicas, never more than the replicas it is created with
// (the replication factor is capped at the registered brokers).
func TestStateTopicConfigs(t *testing.T) {
	for _, c := range []struct {
		tc      StateTopicConfig
		rf      int16
		isr     string // "" : not set
		segment string
	}{
		{StateTopicConfig{ReplicationFactor: 3, MinISR: 2, SegmentBytes: 1 << 20}, 3, "2", "1048576"},
		{StateTopicConfig{ReplicationFactor: 3, MinISR: 2}, 1, "1", ""},
		{StateTopicConfig{MinISR: 2}, -1, "2", ""},
		{StateTopicConfig{ReplicationFactor: 3}, 3, "", ""},
	} {
		got := stateTopicConfigs(c.tc, c.rf)
		if v := got["min.insync.replicas"]; c.isr == "" && v != nil || c.isr != "" && (v == nil || *v != c.isr) {
			t.Errorf("%+v at rf %d: min.insync.replicas %v, want %q", c.tc, c.rf, v, c.isr)
		}
		if v := got["segment.bytes"]; c.segment == "" && v != nil || c.segment != "" && (v == nil || *v != c.segment) {
			t.Errorf("%+v at rf %d: segment.bytes %v, want %q", c.tc, c.rf, v, c.segment)
		}
	}
}
