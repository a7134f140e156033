package config

import (
	"strings"
	"testing"
)

func TestShareDefaults(t *testing.T) {
	b, err := Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := ShareProps{DeliveryCountLimit: 5, PartitionMaxRecordLock: 2000, MaxShareSessions: 2000,
		StateTopicPartitions: 50, StateTopicReplication: 1, StateTopicMinISR: 1, StateTopicSegmentBytes: 104857600}
	if got := b.Share(); got != want {
		t.Errorf("Share() = %+v, want %+v", got, want)
	}
	// Without a Broker (or with process.roles) the replication factor is
	// Kafka's 3; a single node (no process.roles) resolves it to 1.
	want.StateTopicReplication, want.StateTopicMinISR = 3, 2
	var nilB *Broker
	if got := nilB.Share(); got != want {
		t.Errorf("nil Share() = %+v, want %+v", got, want)
	}
	// Every share property is described with Kafka's default.
	desc := map[string]Entry{}
	for _, e := range b.Describe() {
		desc[e.Name] = e
	}
	for name, def := range map[string]string{
		ShareDeliveryCountLimitKey: "5", ShareMinDeliveryCountLimitKey: "2", ShareMaxDeliveryCountLimitKey: "10",
		SharePartitionMaxRecordLocksKey: "2000", ShareMaxSessionsKey: "2000",
		ShareStateTopicPartitionsKey: "50", ShareStateTopicReplicationFactorKey: "1", ShareStateTopicMinISRKey: "1",
		ShareStateTopicSegmentBytesKey: "104857600", ShareMaxRecordLockDurationKey: "60000",
	} {
		e, ok := desc[name]
		if !ok || e.Value != def || e.Source != SourceDefault || !e.ReadOnly {
			t.Errorf("%s described as %+v (present %v), want default %s", name, e, ok, def)
		}
	}
	if _, ok := desc["group.share.max.groups"]; ok {
		t.Error("group.share.max.groups is not a Kafka 4.2 property")
	}
}

func TestShareValidation(t *testing.T) {
	b, err := Build(map[string]string{
		SharePartitionMaxRecordLocksKey: "500", ShareMaxSessionsKey: " 300 ",
		ShareStateTopicPartitionsKey: "3", ShareStateTopicReplicationFactorKey: "1",
		ShareDeliveryCountLimitKey: "7", "group.share.max.groups": "12",
	})
	if err != nil {
		t.Fatal(err)
	}
	if sp := b.Share(); sp.PartitionMaxRecordLock != 500 || sp.MaxShareSessions != 300 ||
		sp.StateTopicPartitions != 3 || sp.StateTopicReplication != 1 || sp.DeliveryCountLimit != 7 {
		t.Errorf("Share() = %+v", sp)
	}
	for _, c := range []struct {
		props map[string]string
		msg   string
	}{
		{map[string]string{SharePartitionMaxRecordLocksKey: "99"}, "between 100 and 10000"},
		{map[string]string{ShareDeliveryCountLimitKey: "11"}, "between 2 and 10"},
		{map[string]string{ShareMinDeliveryCountLimitKey: "4", ShareDeliveryCountLimitKey: "3"}, "must be greater than or equal to " + ShareMinDeliveryCountLimitKey},
		{map[string]string{ShareMaxDeliveryCountLimitKey: "6", ShareDeliveryCountLimitKey: "8"}, ShareMaxDeliveryCountLimitKey},
		{map[string]string{ShareMaxSessionsKey: "0"}, "at least 1"},
		{map[string]string{ShareMaxSessionsKey: "100"}, "must be greater than or equal to " + ShareMaxSizeKey},
		{map[string]string{ShareStateTopicReplicationFactorKey: "40000"}, "16-bit"},
		{map[string]string{ShareRecordLockDurationKey: "90000"}, ShareMaxRecordLockDurationKey},
	} {
		if _, err := Build(c.props); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Build(%v) = %v, want an error with %q", c.props, err, c.msg)
		}
	}
}
