package controller

import (
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

// reassignEnv: brokers 1, 2 and 3 live; topic t has partitions 0 and 1,
// both on broker 1 alone.
func reassignEnv(t *testing.T) *alterEnv {
	e, _ := lifecycleEnv(t)
	a := &alterEnv{env: e, epochs: map[int32]int64{}}
	for _, id := range []int32{1, 2, 3} {
		a.epochs[id] = e.registerLive(id)
	}
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1}, 1: {1}}}); ce != nil {
		t.Fatal(ce)
	}
	top, _ := e.store.Image().Topic("t")
	a.id = top.ID
	return a
}

func (a *alterEnv) reassignOne(p int32, replicas []int32) *Error {
	res := a.c.AlterPartitionReassignments([]ReassignTopic{{Topic: "t", Partitions: []ReassignPartition{{Partition: p, Replicas: replicas}}}})
	return res[0].Partitions[0].Err
}

// expand sends the leader's AlterPartition setting t-p's ISR to isr.
func (a *alterEnv) expand(p int32, isr []int32) {
	a.t.Helper()
	part := a.partition("t", p)
	resp := a.c.AlterPartition(a.request(alterCase{version: 2, broker: part.Leader, topicID: a.id, partition: p,
		leaderEpo: part.LeaderEpoch, partEpo: part.PartitionEpoch, isr: isr}))
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		a.t.Fatalf("AlterPartition %v: %+v", isr, resp)
	}
}

func wantPart(t *testing.T, what string, p metadata.PartitionImage, replicas, isr []int32, leader int32, adding, removing []int32) {
	t.Helper()
	if !reflect.DeepEqual(p.Replicas, replicas) || !reflect.DeepEqual(p.ISR, isr) || p.Leader != leader ||
		!reflect.DeepEqual(p.AddingReplicas, adding) || !reflect.DeepEqual(p.RemovingReplicas, removing) {
		t.Fatalf("%s: %+v, want replicas %v isr %v leader %d adding %v removing %v", what, p, replicas, isr, leader, adding, removing)
	}
}

// TestReassignmentLifecycle moves t-0 from broker 1 to brokers 2 and 3:
// ongoing until the leader admits both adding replicas to the ISR, then
// completed by that AlterPartition's record, the removed leader replaced
// by the first target replica.
func TestReassignmentLifecycle(t *testing.T) {
	a := reassignEnv(t)
	wantCode(t, "start", a.reassignOne(0, []int32{2, 3}), nil)
	wantPart(t, "ongoing", a.partition("t", 0), []int32{2, 3, 1}, []int32{1}, 1, []int32{2, 3}, []int32{1})
	want := []Reassignment{{Topic: "t", Partition: 0, Replicas: []int32{2, 3, 1}, Adding: []int32{2, 3}, Removing: []int32{1}}}
	if got := a.c.ListPartitionReassignments(nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("list: %+v", got)
	}
	if got := a.c.ListPartitionReassignments([]TopicPartitions{{Topic: "t", Partitions: []int32{1, 0, 7}}, {Topic: "x"}}); !reflect.DeepEqual(got, want) {
		t.Fatalf("list by partition: %+v", got)
	}

	a.expand(0, []int32{1, 2})
	wantPart(t, "one caught up", a.partition("t", 0), []int32{2, 3, 1}, []int32{1, 2}, 1, []int32{2, 3}, []int32{1})
	epoch := a.partition("t", 0).LeaderEpoch
	a.expand(0, []int32{1, 2, 3})
	p := a.partition("t", 0)
	wantPart(t, "complete", p, []int32{2, 3}, []int32{2, 3}, 2, nil, nil)
	if p.LeaderEpoch != epoch+1 {
		t.Errorf("leader epoch %d, want %d", p.LeaderEpoch, epoch+1)
	}
	if got := a.c.ListPartitionReassignments(nil); len(got) != 0 {
		t.Fatalf("still listed: %+v", got)
	}
}

// TestReassignmentKeepsLeader: a target that keeps the leader completes
// without a leader change, and one already in sync completes at once.
func TestReassignmentKeepsLeader(t *testing.T) {
	a := reassignEnv(t)
	wantCode(t, "start", a.reassignOne(0, []int32{2, 1}), nil)
	wantPart(t, "ongoing", a.partition("t", 0), []int32{2, 1}, []int32{1}, 1, []int32{2}, nil)
	a.expand(0, []int32{1, 2})
	wantPart(t, "complete", a.partition("t", 0), []int32{2, 1}, []int32{1, 2}, 1, nil, nil)
	off := a.store.Image().Offset
	wantCode(t, "shrink in sync", a.reassignOne(0, []int32{2}), nil)
	wantPart(t, "shrunk", a.partition("t", 0), []int32{2}, []int32{2}, 2, nil, nil)
	if a.store.Image().Offset != off+1 {
		t.Errorf("immediate completion wrote %d records", a.store.Image().Offset-off)
	}
}

// TestReassignmentCancel: cancelling restores the original replicas and
// drops the adding ones from the ISR; a second cancel has nothing to do.
func TestReassignmentCancel(t *testing.T) {
	a := reassignEnv(t)
	wantCode(t, "start", a.reassignOne(1, []int32{2, 3}), nil)
	a.expand(1, []int32{1, 2})
	wantCode(t, "cancel", a.reassignOne(1, nil), nil)
	wantPart(t, "cancelled", a.partition("t", 1), []int32{1}, []int32{1}, 1, nil, nil)
	wantCode(t, "cancel again", a.reassignOne(1, nil), kerr.NoReassignmentInProgress)
	// A new target while one is ongoing starts from the union.
	wantCode(t, "start", a.reassignOne(1, []int32{2}), nil)
	wantCode(t, "retarget", a.reassignOne(1, []int32{3}), nil)
	wantPart(t, "retargeted", a.partition("t", 1), []int32{3, 2, 1}, []int32{1}, 1, []int32{3}, []int32{2, 1})
}
