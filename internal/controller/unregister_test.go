package controller

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestUnregisterBroker: unregistering a live broker removes its
// registration and takes it out of ISRs and leaderships in the same batch
// (the last ISR member stays), while the partitions' replica lists keep it
// as an offline replica; its heartbeats are then STALE_BROKER_EPOCH until
// it registers again, with a greater epoch; an unknown id is
// BROKER_ID_NOT_REGISTERED and writes nothing.
func TestUnregisterBroker(t *testing.T) {
	e, _ := lifecycleEnv(t)
	e1 := e.registerLive(1)
	e.registerLive(2)
	e.registerLive(3)
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}, 1: {1, 3}, 2: {2, 3}}}); ce != nil {
		t.Fatal(ce)
	}
	e.setPartition("t", 0, []int32{1, 2}, []int32{1, 2}, 1)
	e.setPartition("t", 1, []int32{1, 3}, []int32{1}, 1) // 3 out of sync
	e.setPartition("t", 2, []int32{2, 3}, []int32{2, 3}, 2)
	before2 := e.partition("t", 2)

	if ce := e.c.UnregisterBroker(1); ce != nil {
		t.Fatal(ce)
	}
	im := e.store.Image()
	if _, ok := im.Brokers[1]; ok {
		t.Fatal("broker 1 still registered")
	}
	if got := im.LiveBrokerIDs(); !slices.Equal(got, []int32{2, 3}) {
		t.Fatalf("live brokers %v", got)
	}
	want := []struct {
		replicas, isr []int32
		leader        int32
	}{
		{[]int32{1, 2}, []int32{2}, 2},  // the in-sync follower takes over; 1 stays an offline replica
		{[]int32{1, 3}, []int32{1}, -1}, // 3 not in sync: no leader, the ISR keeps its last member
		{[]int32{2, 3}, []int32{2, 3}, 2},
	}
	for p, w := range want {
		got := e.partition("t", int32(p))
		if !slices.Equal(got.Replicas, w.replicas) || !slices.Equal(got.ISR, w.isr) || got.Leader != w.leader {
			t.Errorf("partition %d: replicas %v isr %v leader %d, want %v %v %d", p, got.Replicas, got.ISR, got.Leader, w.replicas, w.isr, w.leader)
		}
	}
	if got := e.partition("t", 2); got.LeaderEpoch != before2.LeaderEpoch || got.PartitionEpoch != before2.PartitionEpoch {
		t.Errorf("partition 2 (without broker 1) changed: %+v", got)
	}

	// Still running, broker 1 heartbeats with the epoch it had.
	if _, ce := e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: e1, CurrentMetadataOffset: im.Offset}); ce == nil || ce.Code != kerr.StaleBrokerEpoch.Code {
		t.Fatalf("heartbeat of an unregistered broker: %v, want STALE_BROKER_EPOCH", ce)
	}
	// Unregistered twice, or a broker never registered.
	for _, id := range []int32{1, 7} {
		off := e.store.Image().Offset
		if ce := e.c.UnregisterBroker(id); ce == nil || ce.Code != kerr.BrokerIDNotRegistered.Code {
			t.Fatalf("unregister %d: %v, want BROKER_ID_NOT_REGISTERED", id, ce)
		}
		if e.store.Image().Offset != off {
			t.Fatalf("unregister %d wrote records", id)
		}
	}
	// A restart registers it again, with a greater epoch.
	if again := e.registerLive(1); again <= e1 {
		t.Fatalf("epoch %d after re-registering, was %d", again, e1)
	}
}
