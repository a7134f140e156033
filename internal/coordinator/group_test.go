package coordinator

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestPartitionFor(t *testing.T) {
	for _, c := range []struct {
		s    string
		hash int32
	}{
		{"", 0},
		{"a", 97},
		{"ab", 3105},
		{"hello", 99162322},
		{"polygenelubricants", -2147483648}, // Integer.MIN_VALUE: Utils.abs gives 0
		{"\U0001F600", 1772899},             // a surrogate pair, hashed as two UTF-16 units
		{"é", 233},
	} {
		if got := javaStringHash(c.s); got != c.hash {
			t.Errorf("javaStringHash(%q) = %d, want %d", c.s, got, c.hash)
		}
	}
	if p := PartitionFor("polygenelubricants", 50); p != 0 {
		t.Errorf("PartitionFor(MIN_VALUE hash) = %d, want 0", p)
	}
	if p := PartitionFor("hello", 50); p != 99162322%50 {
		t.Errorf("PartitionFor(hello) = %d", p)
	}
	// "abcdefghij".hashCode() is -634317659: Utils.abs gives 634317659,
	// so partition 9 of 50 (hash & 0x7fffffff would give 39).
	if p := PartitionFor("abcdefghij", 50); p != 9 {
		t.Errorf("PartitionFor(negative hash) = %d, want 9", p)
	}
}

// A v4+ member first gets MEMBER_ID_REQUIRED with its id, then joins with
// it; after the initial delay it leads generation 1 alone and gets back
// exactly the assignment it sent.
func TestTwoStepJoin(t *testing.T) {
	h := newHarness(t)
	id, ch := h.joinNew("g")
	if !parked(ch) {
		t.Fatal("join answered before the initial rebalance delay")
	}
	if st := h.describe("g").State; st != "PreparingRebalance" {
		t.Fatalf("state %s, want PreparingRebalance", st)
	}
	h.advance(3 * time.Second)
	j := recv(t, ch)
	if j.ErrorCode != 0 || j.Generation != 1 || j.LeaderID != id || j.MemberID != id || len(j.Members) != 1 {
		t.Fatalf("join: %+v", j)
	}
	if *j.Protocol != "range" || *j.ProtocolType != "consumer" || string(j.Members[0].ProtocolMetadata) != "meta-g" {
		t.Fatalf("join protocol: %+v", j)
	}
	want := []byte{0, 1, 2, 3, 0xff}
	s := recv(t, h.sync("g", id, 1, map[string][]byte{id: want}))
	if s.ErrorCode != 0 || !bytes.Equal(s.MemberAssignment, want) {
		t.Fatalf("sync: %+v", s)
	}
	d := h.describe("g")
	if d.State != "Stable" || d.Protocol != "range" || len(d.Members) != 1 || !bytes.Equal(d.Members[0].MemberAssignment, want) {
		t.Fatalf("describe: %+v", d)
	}
	// A v3 client joins in one step.
	v3 := h.join("g3", "", withVersion(3))
	h.advance(3 * time.Second)
	if j := recv(t, v3); j.ErrorCode != 0 || j.MemberID == "" || j.LeaderID != j.MemberID || j.Generation != 1 {
		t.Fatalf("v3 join: %+v", j)
	}
}

// stableGroup builds a Stable group of n dynamic members (generation 1)
// and returns their ids, leader first.
func stableGroup(t *testing.T, h *harness, group string, n int) []string {
	t.Helper()
	var ids []string
	var chs []<-chan *kmsgJoin
	for range n {
		id, ch := h.joinNew(group)
		ids, chs = append(ids, id), append(chs, ch)
	}
	// Each member that arrived during the initial delay extends it.
	for i := 0; i < 20 && parked(chs[0]); i++ {
		h.advance(h.cfg.InitialRebalanceDelay)
	}
	assign := map[string][]byte{}
	for i, ch := range chs {
		j := recv(t, ch)
		if j.ErrorCode != 0 || j.Generation != 1 || j.LeaderID != ids[0] {
			t.Fatalf("join %d: %+v", i, j)
		}
		assign[ids[i]] = []byte("assignment-" + ids[i])
	}
	syncs := []<-chan *kmsgSync{h.sync(group, ids[0], 1, assign)}
	for _, id := range ids[1:] {
		syncs = append(syncs, h.sync(group, id, 1, nil))
	}
	for i, ch := range syncs {
		if s := recv(t, ch); s.ErrorCode != 0 || string(s.MemberAssignment) != "assignment-"+ids[i] {
			t.Fatalf("sync %d: %+v", i, s)
		}
	}
	return ids
}

// A second member joining a Stable group triggers a rebalance: the first
// learns it from its heartbeat, rejoins, and both get the new generation;
// the newcomer gets its own partitions, never UNKNOWN_MEMBER_ID.
func TestRebalanceWithTwoMembers(t *testing.T) {
	h := newHarness(t)
	a := stableGroup(t, h, "g", 1)[0]
	b, bJoin := h.joinNew("g")
	if !parked(bJoin) {
		t.Fatal("second member's join answered before the rebalance")
	}
	if code := h.heartbeat("g", a, 1, nil); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if code := h.heartbeat("g", b, 1, nil); code != kerr.UnknownMemberID.Code {
		// b is a member but generation 1 is not its generation... it is
		// the group's current generation, so only the state matters.
		if code != kerr.RebalanceInProgress.Code {
			t.Fatalf("newcomer heartbeat: %d", code)
		}
	}
	aJoin := h.join("g", a)
	ja, jb := recv(t, aJoin), recv(t, bJoin)
	if ja.ErrorCode != 0 || jb.ErrorCode != 0 || ja.Generation != 2 || jb.Generation != 2 {
		t.Fatalf("joins: %+v %+v", ja, jb)
	}
	if ja.LeaderID != a || len(ja.Members) != 2 || len(jb.Members) != 0 {
		t.Fatalf("leader %s members %d/%d", ja.LeaderID, len(ja.Members), len(jb.Members))
	}
	// The follower syncs first and waits for the leader's assignment.
	bSync := h.sync("g", b, 2, nil)
	if !parked(bSync) {
		t.Fatal("follower sync answered before the leader's")
	}
	aSync := h.sync("g", a, 2, map[string][]byte{a: {1}, b: {2, 2}})
	if s := recv(t, aSync); s.ErrorCode != 0 || !bytes.Equal(s.MemberAssignment, []byte{1}) {
		t.Fatalf("leader sync: %+v", s)
	}
	if s := recv(t, bSync); s.ErrorCode != 0 || !bytes.Equal(s.MemberAssignment, []byte{2, 2}) {
		t.Fatalf("follower sync: %+v", s)
	}
	for _, id := range []string{a, b} {
		if code := h.heartbeat("g", id, 2, nil); code != 0 {
			t.Fatalf("heartbeat %s: %d", id, code)
		}
		if code := h.heartbeat("g", id, 1, nil); code != kerr.IllegalGeneration.Code {
			t.Fatalf("stale heartbeat %s: %d", id, code)
		}
	}
	if code := h.heartbeat("g", "nobody", 2, nil); code != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member heartbeat: %d", code)
	}
}

// Leaving members trigger a rebalance; when the last one leaves the group
// is Empty with the next generation, and that is persisted.
func TestLeave(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 2)
	if code := h.leave("g", ids[1]); code != 0 {
		t.Fatalf("leave: %d", code)
	}
	if code := h.heartbeat("g", ids[0], 1, nil); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after leave: %d", code)
	}
	j := recv(t, h.join("g", ids[0]))
	if j.ErrorCode != 0 || j.Generation != 2 || len(j.Members) != 1 {
		t.Fatalf("rejoin: %+v", j)
	}
	if s := recv(t, h.sync("g", ids[0], 2, map[string][]byte{ids[0]: {9}})); s.ErrorCode != 0 {
		t.Fatalf("sync: %+v", s)
	}
	if code := h.leave("g", ids[1]); code != kerr.UnknownMemberID.Code {
		t.Fatalf("second leave of the same member: %d", code)
	}
	if code := h.leave("g", ids[0]); code != 0 {
		t.Fatalf("last leave: %d", code)
	}
	d := h.describe("g")
	if d.State != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after last leave: %+v", d)
	}
	h.restart()
	if d := h.describe("g"); d.State != "Empty" {
		t.Fatalf("after restart: %+v", d)
	}
	// The generation went on: a new member gets generation 4.
	_, ch := h.joinNew("g")
	h.advance(3 * time.Second)
	if j := recv(t, ch); j.Generation != 4 {
		t.Fatalf("generation after empty: %d, want 4", j.Generation)
	}
}

// A member that stops heartbeating is removed after its session timeout;
// the one that heartbeats stays and rebalances alone.
func TestSessionExpiry(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 2)
	for range 3 { // 9s: within the 10s session of ids[1]
		h.advance(3 * time.Second)
		if code := h.heartbeat("g", ids[0], 1, nil); code != 0 {
			t.Fatalf("heartbeat: %d", code)
		}
	}
	h.advance(time.Second + time.Millisecond)
	if code := h.heartbeat("g", ids[0], 1, nil); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after expiry: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if code := h.heartbeat("g", ids[1], 1, nil); code != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member heartbeat: %d", code)
	}
	j := recv(t, h.join("g", ids[0]))
	if j.ErrorCode != 0 || j.Generation != 2 || len(j.Members) != 1 {
		t.Fatalf("rejoin: %+v", j)
	}
}

// A member that joined but never syncs is removed after the rebalance
// timeout, and the group rebalances without it.
func TestPendingSyncExpiry(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 1)
	b, bJoin := h.joinNew("g")
	aJoin := h.join("g", ids[0])
	recv(t, aJoin)
	recv(t, bJoin)
	if s := recv(t, h.sync("g", ids[0], 2, map[string][]byte{ids[0]: {1}, b: {2}})); s.ErrorCode != 0 {
		t.Fatalf("sync: %+v", s)
	}
	for range 5 { // 25s, both heartbeating; b never syncs
		h.advance(5 * time.Second)
		for _, id := range []string{ids[0], b} {
			if code := h.heartbeat("g", id, 2, nil); code != 0 {
				t.Fatalf("heartbeat: %d", code)
			}
		}
	}
	h.advance(5 * time.Second) // past the 30s rebalance timeout
	if code := h.heartbeat("g", ids[0], 2, nil); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if j := recv(t, h.join("g", ids[0])); j.Generation != 3 || len(j.Members) != 1 {
		t.Fatalf("rejoin: %+v", j)
	}
}

// A restarted static member (same group.instance.id, no member id) gets a
// new member id and its previous assignment back, with no rebalance; the
// old member id is fenced.
func TestStaticMemberRejoin(t *testing.T) {
	h := newHarness(t)
	a, aJoin := h.joinNew("g")
	sJoin := h.join("g", "", withInstance("i1")) // static members join in one step
	h.advance(3 * time.Second)
	h.advance(3 * time.Second) // the second member extended the initial delay
	ja, js := recv(t, aJoin), recv(t, sJoin)
	if ja.ErrorCode != 0 || js.ErrorCode != 0 || ja.Generation != 1 {
		t.Fatalf("joins: %+v %+v", ja, js)
	}
	s := js.MemberID
	inst := "i1"
	aSync := h.sync("g", a, 1, map[string][]byte{a: {0xa}, s: {0x5, 0x5}})
	sSync := h.sync("g", s, 1, nil)
	recv(t, aSync)
	if r := recv(t, sSync); !bytes.Equal(r.MemberAssignment, []byte{5, 5}) {
		t.Fatalf("static sync: %+v", r)
	}

	// Restart: same instance id, same protocols, no member id.
	j := recv(t, h.join("g", "", withInstance("i1")))
	if j.ErrorCode != 0 || j.MemberID == s || j.Generation != 1 {
		t.Fatalf("static rejoin: %+v", j)
	}
	s2 := j.MemberID
	if r := recv(t, h.sync("g", s2, 1, nil)); r.ErrorCode != 0 || !bytes.Equal(r.MemberAssignment, []byte{5, 5}) {
		t.Fatalf("static rejoin sync: %+v", r)
	}
	if code := h.heartbeat("g", a, 1, nil); code != 0 {
		t.Fatalf("other member saw a rebalance: %d", code)
	}
	if code := h.heartbeat("g", s, 1, &inst); code != kerr.FencedInstanceID.Code {
		t.Fatalf("old static member id: %d, want FENCED_INSTANCE_ID", code)
	}
	if code := h.heartbeat("g", s2, 1, &inst); code != 0 {
		t.Fatalf("new static member id: %d", code)
	}
	if d := h.describe("g"); d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("describe: %+v", d)
	}
	// The replacement is durable: after a restart the new id is the member.
	h.restart()
	if code := h.heartbeat("g", s2, 1, &inst); code != 0 {
		t.Fatalf("new static member id after restart: %d", code)
	}
}

// Commits are checked against the member and generation; a simple
// consumer (generation -1, no member id) may commit only to an empty group.
func TestCommitValidation(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 1)
	p := commitPart{"t", 0, 42, "m"}
	for _, c := range []struct {
		name   string
		member string
		gen    int32
		want   int16
	}{
		{"stale generation", ids[0], 0, kerr.IllegalGeneration.Code},
		{"unknown member", "nobody", 1, kerr.UnknownMemberID.Code},
		{"simple commit to a live group", "", -1, kerr.UnknownMemberID.Code},
		{"member", ids[0], 1, 0},
	} {
		if got := commitCodes(h.commit("g", c.member, c.gen, p)); got[0] != c.want {
			t.Errorf("%s: %d, want %d", c.name, got[0], c.want)
		}
	}
	got := commitCodes(h.commit("g", ids[0], 1,
		commitPart{"t", 1, 1, ""},
		commitPart{"missing", 0, 1, ""},
		commitPart{"t", 9, 1, ""},
		commitPart{"t", 2, 1, string(make([]byte, 65))}))
	want := []int16{0, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicOrPartition.Code, kerr.OffsetMetadataTooLarge.Code}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("partition %d: %d, want %d", i, got[i], want[i])
		}
	}
	if got := commitCodes(h.commit("", "", -1, p)); got[0] != kerr.InvalidGroupID.Code {
		t.Errorf("empty group id: %d", got[0])
	}
	// Simple consumers create their group by committing; a generation >= 0
	// for an unknown group is GROUP_ID_NOT_FOUND from v9.
	if got := commitCodes(h.commit("simple", "", -1, p)); got[0] != 0 {
		t.Errorf("simple commit: %d", got[0])
	}
	if got := commitCodes(h.commit("nogroup", "x", 3, p)); got[0] != kerr.GroupIDNotFound.Code {
		t.Errorf("commit to unknown group: %d", got[0])
	}
	offs := h.fetchAll("g")
	if o := offs[tp{"t", 0}]; o.Offset != 42 || *o.Metadata != "m" || o.LeaderEpoch != 7 {
		t.Errorf("fetched %+v", o)
	}
	if _, ok := offs[tp{"missing", 0}]; ok {
		t.Error("offset of an unknown topic was stored")
	}
}

// Protocol selection is by vote among the protocols all members support.
func TestProtocolVote(t *testing.T) {
	h := newHarness(t)
	p := func(names ...string) joinOpt {
		var ps []protocol
		for _, n := range names {
			ps = append(ps, protocol{n, []byte(n)})
		}
		return withProtocols(ps...)
	}
	_, c1 := h.joinNew("g", p("range", "sticky", "roundrobin"))
	_, c2 := h.joinNew("g", p("sticky", "range"))
	_, c3 := h.joinNew("g", p("sticky", "roundrobin", "range"))
	if j := recv(t, h.join("g", "", withVersion(3), p("cooperative-sticky"))); j.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("unsupported protocol: %+v", j)
	}
	for range 3 {
		h.advance(3 * time.Second)
	}
	for _, ch := range []<-chan *kmsgJoin{c1, c2, c3} {
		if j := recv(t, ch); *j.Protocol != "sticky" {
			t.Fatalf("protocol %s, want sticky", *j.Protocol)
		}
	}
}

func TestSessionTimeoutBounds(t *testing.T) {
	h := newHarness(t)
	for _, ms := range []int32{999, 60001} {
		j := recv(t, h.join("g", "", func(r *kmsgJoinReq) { r.SessionTimeoutMillis = ms }))
		if j.ErrorCode != kerr.InvalidSessionTimeout.Code {
			t.Fatalf("session %dms: %d", ms, j.ErrorCode)
		}
	}
	if j := recv(t, h.join("", "")); j.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group id: %d", j.ErrorCode)
	}
	if d := h.describe("g"); d.State != "Dead" {
		t.Fatalf("a failed join left a group behind: %+v", d)
	}
}

// Between JoinGroup and the leader's SyncGroup: heartbeats are fine, a
// lost JoinGroup answer can be asked for again, and a leader that leaves
// sends the parked followers back to rejoin.
func TestCompletingRebalance(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 1)
	b, bJoin := h.joinNew("g")
	recv(t, h.join("g", ids[0]))
	recv(t, bJoin)
	if st := h.describe("g").State; st != "CompletingRebalance" {
		t.Fatalf("state %s", st)
	}
	if code := h.heartbeat("g", b, 2, nil); code != 0 {
		t.Fatalf("heartbeat while completing: %d", code)
	}
	// The leader repeats its JoinGroup with the same metadata: same answer.
	if j := recv(t, h.join("g", ids[0])); j.ErrorCode != 0 || j.Generation != 2 || len(j.Members) != 2 {
		t.Fatalf("repeated join: %+v", j)
	}
	if code := commitCodes(h.commit("g", b, 2, commitPart{"t", 0, 1, ""})); code[0] != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit while completing: %d", code[0])
	}
	bSync := h.sync("g", b, 2, nil)
	if !parked(bSync) {
		t.Fatal("follower sync answered without the leader")
	}
	if code := h.leave("g", ids[0]); code != 0 {
		t.Fatalf("leader leave: %d", code)
	}
	if s := recv(t, bSync); s.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("parked sync after the leader left: %+v", s)
	}
	j := recv(t, h.join("g", b))
	if j.ErrorCode != 0 || j.Generation != 3 || j.LeaderID != b {
		t.Fatalf("rejoin: %+v", j)
	}
}

// A second JoinGroup from the same member replaces the parked one, which
// is answered (so its connection never hangs).
func TestDuplicateJoinAnswered(t *testing.T) {
	h := newHarness(t)
	id, first := h.joinNew("g")
	second := h.join("g", id)
	if j := recv(t, first); j.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("replaced join: %+v", j)
	}
	h.advance(3 * time.Second)
	if j := recv(t, second); j.ErrorCode != 0 || j.Generation != 1 {
		t.Fatalf("second join: %+v", j)
	}
}

// A static member rejoining while the group completes a rebalance starts a
// new one, and its old id's parked requests are fenced.
func TestStaticRejoinWhileCompleting(t *testing.T) {
	h := newHarness(t)
	a, aJoin := h.joinNew("g")
	sJoin := h.join("g", "", withInstance("i1"))
	h.advance(3 * time.Second)
	h.advance(3 * time.Second)
	recv(t, aJoin)
	s := recv(t, sJoin).MemberID
	sSync := h.sync("g", s, 1, nil)
	j2 := h.join("g", "", withInstance("i1"))
	if r := recv(t, sSync); r.ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("old static member's parked sync: %+v", r)
	}
	if st := h.describe("g").State; st != "PreparingRebalance" {
		t.Fatalf("state %s, want PreparingRebalance", st)
	}
	aj := recv(t, h.join("g", a))
	sj := recv(t, j2)
	if aj.Generation != 2 || sj.Generation != 2 || sj.MemberID == s {
		t.Fatalf("joins: %+v %+v", aj, sj)
	}
}
