package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

type partState struct {
	leader   int32
	isr      []int32
	leBump   int32 // leader epoch change
	peBump   int32 // partition epoch change
	recovery metadata.LeaderRecoveryState
}

func (e *env) setUnclean(topic string, on bool) {
	e.t.Helper()
	v := "false"
	if on {
		v = "true"
	}
	if err := e.store.Append(metadata.ConfigRecord{ResourceType: metadata.ResourceTopic, ResourceName: topic,
		Name: "unclean.leader.election.enable", Value: &v}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) checkParts(what string, before []metadata.PartitionImage, want []partState) {
	e.t.Helper()
	for i, w := range want {
		got := e.partition("t", int32(i))
		b := before[i]
		if got.Leader != w.leader || !slices.Equal(got.ISR, w.isr) || got.LeaderEpoch-b.LeaderEpoch != w.leBump ||
			got.PartitionEpoch-b.PartitionEpoch != w.peBump || got.LeaderRecoveryState != w.recovery {
			e.t.Errorf("%s: partition %d: leader %d isr %v leader epoch +%d partition epoch +%d %s, want leader %d isr %v +%d +%d %s",
				what, i, got.Leader, got.ISR, got.LeaderEpoch-b.LeaderEpoch, got.PartitionEpoch-b.PartitionEpoch, got.LeaderRecoveryState,
				w.leader, w.isr, w.leBump, w.peBump, w.recovery)
		}
	}
}

func (e *env) parts(n int) []metadata.PartitionImage {
	var out []metadata.PartitionImage
	for i := range n {
		out = append(out, e.partition("t", int32(i)))
	}
	return out
}

// TestElectionsOnLeaderLoss: broker 1 leaves (fenced for a lost lease, or
// in controlled shutdown) with and without unclean.leader.election.enable
// on the topic. Its partitions get the first in-sync active replica
// (leader epoch +1); where none is in sync they get no leader, or, with
// unclean elections, the first active replica with the ISR reset to it
// and RECOVERING; it leaves the ISRs it is not the last member of
// (partition epoch +1, leader epoch unchanged).
func TestElectionsOnLeaderLoss(t *testing.T) {
	for _, how := range []string{"fenced", "controlled shutdown"} {
		for _, unclean := range []bool{false, true} {
			name := how
			if unclean {
				name += " unclean"
			}
			t.Run(name, func(t *testing.T) {
				e, clk := lifecycleEnv(t)
				e1 := e.registerLive(1)
				e2 := e.registerLive(2)
				e3 := e.registerLive(3)
				if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
					Assignments: map[int32][]int32{0: {1, 2}, 1: {1, 2}, 2: {2, 1}, 3: {3, 2}, 4: {1, 2}}}); ce != nil {
					t.Fatal(ce)
				}
				e.setPartition("t", 0, []int32{1, 2, 3}, []int32{1, 2, 3}, 1)
				e.setPartition("t", 1, []int32{1, 2}, []int32{1}, 1) // 2 out of sync
				e.setPartition("t", 2, []int32{2, 1}, []int32{2, 1}, 2)
				e.setPartition("t", 3, []int32{3}, []int32{3}, 3)
				e.setPartition("t", 4, []int32{1}, []int32{1}, 1) // no other replica at all
				e.setUnclean("t", unclean)
				before := e.parts(5)

				switch how {
				case "fenced":
					clk.Advance(session / 2)
					e.heartbeat(2, e2)
					e.heartbeat(3, e3)
					clk.Advance(session/2 + time.Millisecond)
					e.c.fenceExpired()
				default:
					rep, err := e.c.BrokerHeartbeat(BrokerHeartbeat{BrokerID: 1, BrokerEpoch: e1,
						CurrentMetadataOffset: e.store.Image().Offset, WantShutDown: true})
					if err != nil || !rep.InControlledShutdown {
						t.Fatalf("shutdown heartbeat: %+v %v", rep, err)
					}
				}
				p1 := partState{-1, []int32{1}, 1, 1, metadata.Recovered}
				if unclean {
					p1 = partState{2, []int32{2}, 1, 1, metadata.Recovering}
				}
				e.checkParts(name, before, []partState{
					{2, []int32{2, 3}, 1, 1, metadata.Recovered},
					p1,
					{2, []int32{2}, 0, 1, metadata.Recovered},
					{3, []int32{3}, 0, 0, metadata.Recovered},
					{-1, []int32{1}, 1, 1, metadata.Recovered},
				})
			})
		}
	}
}

// TestElectionsOnUnfence: a returning broker leads the leaderless
// partitions it is in sync for; with unclean elections allowed a
// leaderless partition takes the returning broker although it is not in
// sync.
func TestElectionsOnUnfence(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		e, clk := lifecycleEnv(t)
		e.registerLive(1)
		e2 := e.registerLive(2)
		if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: map[int32][]int32{0: {1, 2}, 1: {2, 1}}}); ce != nil {
			t.Fatal(ce)
		}
		e.setPartition("t", 0, []int32{1, 2}, []int32{1}, 1) // 2 out of sync
		e.setPartition("t", 1, []int32{2, 1}, []int32{2, 1}, 2)
		e.setUnclean("t", unclean)
		// Both lose their leases; 2 first (partition 1 moves to 1), then 1.
		clk.Advance(session + time.Millisecond)
		e.c.fenceExpired()
		if p := e.partition("t", 0); p.Leader != metadata.NoLeader && !unclean {
			t.Fatalf("partition 0 still led: %+v", p)
		}
		before := e.parts(2)
		e.heartbeat(2, e2) // 2 returns, 1 stays fenced
		if unclean {
			e.checkParts("unfence unclean", before, []partState{
				{2, []int32{2}, 1, 1, metadata.Recovering},
				{2, []int32{2}, 1, 1, metadata.Recovered},
			})
		} else {
			e.checkParts("unfence", before, []partState{
				{-1, []int32{1}, 0, 0, metadata.Recovered}, // 2 is not in sync: stays leaderless
				{2, []int32{2}, 1, 1, metadata.Recovered},  // 2 is in sync (the last member)
			})
		}
	}
}

// TestUncleanElectionLater: a partition that lost its leader while its
// topic did not allow unclean elections gets one from the lease check once
// the topic allows it.
func TestUncleanElectionLater(t *testing.T) {
	e, clk := lifecycleEnv(t)
	e.registerLive(1)
	e2 := e.registerLive(2)
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}}}); ce != nil {
		t.Fatal(ce)
	}
	e.setPartition("t", 0, []int32{1, 2}, []int32{1}, 1)
	clk.Advance(session / 2)
	e.heartbeat(2, e2)
	clk.Advance(session/2 + time.Millisecond)
	e.c.fenceExpired()
	e.c.electUncleanLeaders()
	if p := e.partition("t", 0); p.Leader != metadata.NoLeader {
		t.Fatalf("elected without unclean elections allowed: %+v", p)
	}
	before := e.parts(1)
	e.setUnclean("t", true)
	e.c.electUncleanLeaders()
	e.checkParts("later", before, []partState{{2, []int32{2}, 1, 1, metadata.Recovering}})
}

// TestElectLeadersRules: ElectLeaders as Kafka's builder runs it.
func TestElectLeadersRules(t *testing.T) {
	e, _ := lifecycleEnv(t)
	e.registerLive(1)
	e.registerLive(2)
	e.registerLive(3)
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}, 1: {1, 2}, 2: {1, 2}, 3: {1, 2}, 4: {1, 2}}}); ce != nil {
		t.Fatal(ce)
	}
	e.setPartition("t", 0, []int32{1, 2}, []int32{1, 2}, 2)                 // preferred 1 in sync: elected
	e.setPartition("t", 1, []int32{9, 2}, []int32{9, 2}, metadata.NoLeader) // 9 unknown; 2 in sync: Kafka elects 2
	e.setPartition("t", 2, []int32{9, 3}, []int32{9}, metadata.NoLeader)    // unclean: 3, RECOVERING
	e.setPartition("t", 3, []int32{9, 2}, []int32{9, 2}, metadata.NoLeader) // unclean: 2 is in sync, a clean pick
	e.setPartition("t", 4, []int32{1, 2}, []int32{1, 2}, 1)
	before := e.parts(5)

	res, top := e.c.ElectLeaders(ElectPreferred, []TopicPartitions{{Topic: "t", Partitions: []int32{0, 1, 4}}})
	wantCode(t, "top", top, nil)
	if got := codes(res); got["t-0"] != 0 || got["t-1"] != 0 || got["t-4"] != kerr.ElectionNotNeeded.Code {
		t.Errorf("preferred: %v", got)
	}
	res, top = e.c.ElectLeaders(ElectUnclean, []TopicPartitions{{Topic: "t", Partitions: []int32{2, 3, 4}}})
	wantCode(t, "top", top, nil)
	if got := codes(res); got["t-2"] != 0 || got["t-3"] != 0 || got["t-4"] != kerr.ElectionNotNeeded.Code {
		t.Errorf("unclean: %v", got)
	}
	e.checkParts("elect", before, []partState{
		{1, []int32{1, 2}, 1, 1, metadata.Recovered},
		{2, []int32{9, 2}, 1, 1, metadata.Recovered},
		{3, []int32{3}, 1, 1, metadata.Recovering},
		{2, []int32{9, 2}, 1, 1, metadata.Recovered},
		{1, []int32{1, 2}, 0, 0, metadata.Recovered},
	})
	// Nobody can lead: ELIGIBLE_LEADERS_NOT_AVAILABLE.
	e.setPartition("t", 2, []int32{9}, []int32{9}, metadata.NoLeader)
	res, _ = e.c.ElectLeaders(ElectUnclean, []TopicPartitions{{Topic: "t", Partitions: []int32{2}}})
	if got := codes(res); got["t-2"] != kerr.EligibleLeadersNotAvailable.Code {
		t.Errorf("no eligible leader: %v", got)
	}
}
