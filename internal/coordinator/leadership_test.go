package coordinator

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A group's shard serves only while this broker leads its partition:
// when the leader moves away, a parked JoinGroup and every later request
// get NOT_COORDINATOR, ListGroups stops listing the group and its state is
// dropped; when the leadership comes back the shard replays the
// partition and serves the same group and offsets again.
func TestShardFollowsLeadership(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 1)
	if codes := commitCodes(h.commit("g", ids[0], 1, commitPart{"t", 0, 42, "m"})); codes[0] != 0 {
		t.Fatalf("commit: %v", codes)
	}
	// A second member parks in JoinGroup (the rebalance waits for the
	// first member to rejoin).
	_, parkedJoin := h.joinNew("g")
	if !parked(parkedJoin) {
		t.Fatal("second join answered before the rebalance")
	}

	p := PartitionFor("g", h.cfg.NumPartitions)
	h.be.setLeader(p, 7)
	h.c.refresh()
	if j := recv(t, parkedJoin); j.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("parked join after losing leadership: code %d, want NOT_COORDINATOR", j.ErrorCode)
	}
	if code := h.heartbeat("g", ids[0], 1, nil); code != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat at a non-leader: %d", code)
	}
	if d := h.describe("g"); d.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("describe at a non-leader: %+v", d)
	}
	if r := h.commit("g", ids[0], 1, commitPart{"t", 0, 43, ""}); commitCodes(r)[0] != kerr.NotCoordinator.Code {
		t.Fatalf("commit at a non-leader: %v", commitCodes(r))
	}
	lr := recv(t, h.c.ListGroups(kmsg.NewPtrListGroupsRequest()))
	if lr.ErrorCode != 0 || len(lr.Groups) != 0 {
		t.Fatalf("ListGroups at a non-leader lists %+v (code %d)", lr.Groups, lr.ErrorCode)
	}

	// Leader -1 (a fenced leader): still not this broker's.
	h.be.setLeader(p, -1)
	h.c.refresh()
	if j := recv(t, h.join("g", "")); j.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join with no leader: %d", j.ErrorCode)
	}

	// Back to this broker: the partition is replayed.
	h.be.setLeader(p, 0)
	h.c.refresh()
	h.settle()
	got := h.fetchAll("g")
	if o := got[tp{"t", 0}]; o.Offset != 42 || o.ErrorCode != 0 {
		t.Fatalf("offset after leadership came back: %+v", got)
	}
	if d := h.describe("g"); d.ErrorCode != 0 || d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != ids[0] {
		t.Fatalf("group after leadership came back: %+v", d)
	}
	// Other partitions never stopped.
	other := "other"
	for PartitionFor(other, h.cfg.NumPartitions) == p {
		other += "x"
	}
	if codes := commitCodes(h.commit(other, "", -1, commitPart{"t", 1, 5, ""})); codes[0] != 0 {
		t.Fatalf("commit on another partition: %v", codes)
	}
}

// An older view of the metadata never undoes a newer one, and an image
// that drops the offsets topic stops every shard.
func TestFollowIgnoresOlderViews(t *testing.T) {
	h := newHarness(t)
	stableGroup(t, h, "g", 1)
	p := PartitionFor("g", h.cfg.NumPartitions)
	v, leaders := h.be.OffsetsLeaders()
	moved := append([]PartitionLeader(nil), leaders...)
	moved[p].Leader = 3
	h.c.follow(v+10, moved)
	h.c.follow(v+5, leaders) // stale: ignored
	if d := h.describe("g"); d.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("describe after a stale view: %+v", d)
	}
	h.c.follow(v+11, nil)
	if d := h.describe("g"); d.ErrorCode != 0 || d.State != "Dead" {
		t.Fatalf("describe without the offsets topic: %+v", d)
	}
}

// A shard whose partition is not open yet when it starts (the image
// naming this broker leader is applied to the partitions after the
// coordinator saw it) loads on the next image.
func TestShardRetriesUnhostedPartition(t *testing.T) {
	be := newMemBackend()
	cfg := testConfig()
	if err := be.CreateOffsetsTopic(cfg.NumPartitions, 1); err != nil {
		t.Fatal(err)
	}
	p := PartitionFor("g", cfg.NumPartitions)
	be.unhosted = map[int32]bool{p: true}
	h := newHarnessWith(t, cfg, be, newFakeClock())
	h.settle()
	if d := h.describe("g"); d.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("describe before the partition opened: %+v", d)
	}
	be.mu.Lock()
	be.unhosted = nil
	be.mu.Unlock()
	h.c.refresh() // the same metadata version: applied again
	h.settle()
	if d := h.describe("g"); d.ErrorCode != 0 {
		t.Fatalf("describe after the partition opened: %+v", d)
	}
}
