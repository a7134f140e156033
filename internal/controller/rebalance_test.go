package controller

import (
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/metadata"
)

// TestAutoLeaderRebalanceThreshold: the check runs once per interval on the
// active controller; a broker whose preferred partitions are led elsewhere
// at exactly leader.imbalance.per.broker.percentage is left alone, above it
// it gets back those where it is in the ISR (leader epoch +1), not those
// where it is out of sync.
func TestAutoLeaderRebalanceThreshold(t *testing.T) {
	e := newEnv(t, map[string]string{"leader.imbalance.check.interval.seconds": "60"})
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	e.c.clock = clk
	e.registerLive(1)
	e.registerLive(2)
	as := map[int32][]int32{}
	for p := range int32(10) {
		as[p] = []int32{1, 2}
	}
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1, Assignments: as}); ce != nil {
		t.Fatal(ce)
	}
	e.setPartition("t", 0, []int32{1, 2}, []int32{1, 2}, 2) // 1 of 10 led elsewhere: 10%, not above
	e.c.maybeRebalanceLeaders()                             // the first check on this controller only starts the clock
	clk.Advance(time.Minute)
	e.c.maybeRebalanceLeaders()
	if l := e.partition("t", 0).Leader; l != 2 {
		t.Fatalf("10%% imbalance rebalanced: leader %d", l)
	}
	e.setPartition("t", 1, []int32{1, 2}, []int32{1, 2}, 2)
	e.setPartition("t", 2, []int32{1, 2}, []int32{2}, 2) // 1 out of sync: may not lead
	before := e.parts(3)
	clk.Advance(time.Minute - time.Millisecond)
	e.c.maybeRebalanceLeaders()
	if l := e.partition("t", 1).Leader; l != 2 {
		t.Fatalf("rebalanced before the interval passed: leader %d", l)
	}
	clk.Advance(time.Millisecond)
	e.c.maybeRebalanceLeaders()
	e.checkParts("rebalance", before, []partState{
		{1, []int32{1, 2}, 1, 1, metadata.Recovered},
		{1, []int32{1, 2}, 1, 1, metadata.Recovered},
		{2, []int32{2}, 0, 0, metadata.Recovered},
	})
}

// TestAutoLeaderRebalanceOff: auto.leader.rebalance.enable=false never
// moves a leader.
func TestAutoLeaderRebalanceOff(t *testing.T) {
	e := newEnv(t, map[string]string{"auto.leader.rebalance.enable": "false", "leader.imbalance.check.interval.ms": "1"})
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	e.c.clock = clk
	e.registerLive(1)
	e.registerLive(2)
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}}}); ce != nil {
		t.Fatal(ce)
	}
	e.setPartition("t", 0, []int32{1, 2}, []int32{1, 2}, 2)
	for range 3 {
		e.c.maybeRebalanceLeaders()
		clk.Advance(time.Second)
	}
	if l := e.partition("t", 0).Leader; l != 2 {
		t.Fatalf("rebalanced while disabled: leader %d", l)
	}
}
