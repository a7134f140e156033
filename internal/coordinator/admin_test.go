package coordinator

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *harness) deleteGroups(groups ...string) []int16 {
	r := kmsg.NewPtrDeleteGroupsRequest()
	r.Groups = groups
	var out []int16
	for _, g := range recv(h.t, h.c.DeleteGroups(r)).Groups {
		out = append(out, g.ErrorCode)
	}
	return out
}

func (h *harness) list(states ...string) map[string]string {
	r := kmsg.NewPtrListGroupsRequest()
	r.Version = 5
	r.StatesFilter = states
	resp := recv(h.t, h.c.ListGroups(r))
	if resp.ErrorCode != 0 {
		h.t.Fatalf("list groups: %d", resp.ErrorCode)
	}
	out := map[string]string{}
	for _, g := range resp.Groups {
		if g.GroupType != "classic" {
			h.t.Errorf("group type %q", g.GroupType)
		}
		out[g.Group] = g.GroupState
	}
	return out
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "live", 1)
	h.commit("live", ids[0], 1, commitPart{"t", 0, 1, ""})
	h.commit("idle", "", -1, commitPart{"t", 0, 5, ""}, commitPart{"u", 1, 6, ""})
	got := h.deleteGroups("live", "idle", "never", "")
	want := []int16{kerr.NonEmptyGroup.Code, 0, kerr.GroupIDNotFound.Code, kerr.InvalidGroupID.Code}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("delete %d: %d, want %d", i, got[i], want[i])
		}
	}
	if offs := h.fetchAll("idle"); len(offs) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", offs)
	}
	if d := h.describe("idle"); d.State != "Dead" {
		t.Fatalf("deleted group: %+v", d)
	}
	h.restart()
	if offs := h.fetchAll("idle"); len(offs) != 0 {
		t.Fatalf("offsets of a deleted group after restart: %+v", offs)
	}
	if l := h.list(); len(l) != 1 || l["live"] != "Stable" {
		t.Fatalf("groups after restart: %v", l)
	}
}

func TestListGroupsFilter(t *testing.T) {
	h := newHarness(t)
	stableGroup(t, h, "a", 1)
	h.commit("b", "", -1, commitPart{"t", 0, 1, ""})
	if l := h.list(); len(l) != 2 || l["a"] != "Stable" || l["b"] != "Empty" {
		t.Fatalf("all: %v", l)
	}
	if l := h.list("stable"); len(l) != 1 || l["a"] != "Stable" {
		t.Fatalf("stable: %v", l)
	}
	if l := h.list("Empty", "Dead"); len(l) != 1 || l["b"] != "Empty" {
		t.Fatalf("empty: %v", l)
	}
	r := kmsg.NewPtrListGroupsRequest()
	r.Version, r.TypesFilter = 5, []string{"consumer"}
	if resp := recv(t, h.c.ListGroups(r)); len(resp.Groups) != 0 {
		t.Fatalf("type consumer: %+v", resp.Groups)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 1) // subscribes to nothing parseable: every topic counts as subscribed
	h.commit("g", ids[0], 1, commitPart{"t", 0, 1, ""})
	del := func(group string, topic string, p int32) (int16, int16) {
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = group
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: p}}
		r.Topics = append(r.Topics, rt)
		resp := recv(t, h.c.OffsetDelete(r))
		if resp.ErrorCode != 0 {
			return resp.ErrorCode, 0
		}
		return 0, resp.Topics[0].Partitions[0].ErrorCode
	}
	if top, part := del("g", "t", 0); top != 0 || part != kerr.GroupSubscribedToTopic.Code {
		t.Fatalf("delete subscribed: %d %d", top, part)
	}
	if top, _ := del("nope", "t", 0); top != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete unknown group: %d", top)
	}
	h.commit("s", "", -1, commitPart{"t", 0, 1, ""}, commitPart{"t", 1, 2, ""})
	if top, part := del("s", "zz", 0); top != 0 || part != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("delete unknown topic: %d %d", top, part)
	}
	if top, part := del("s", "t", 0); top != 0 || part != 0 {
		t.Fatalf("delete: %d %d", top, part)
	}
	offs := h.fetchAll("s")
	if _, ok := offs[tp{"t", 0}]; ok || len(offs) != 1 {
		t.Fatalf("after delete: %+v", offs)
	}
	h.restart()
	if offs := h.fetchAll("s"); len(offs) != 1 {
		t.Fatalf("after delete and restart: %+v", offs)
	}
}

// Offsets of an Empty group expire offsets.retention after it became
// empty; simple consumers' after their commit; the group then goes too.
func TestOffsetExpiry(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 1)
	h.commit("g", ids[0], 1, commitPart{"t", 0, 1, ""})
	h.commit("s", "", -1, commitPart{"t", 0, 1, ""})
	h.advance(12 * time.Hour)
	h.heartbeat("g", ids[0], 1, nil)
	h.leave("g", ids[0]) // empty from now
	h.advance(12*time.Hour + time.Minute)
	if offs := h.fetchAll("s"); len(offs) != 0 {
		t.Fatalf("simple group offsets not expired: %+v", offs)
	}
	if offs := h.fetchAll("g"); len(offs) != 1 {
		t.Fatalf("group offsets expired before retention since empty: %+v", offs)
	}
	if _, ok := h.list()["s"]; ok {
		t.Fatal("expired simple group still listed")
	}
	h.advance(12 * time.Hour)
	if offs := h.fetchAll("g"); len(offs) != 0 {
		t.Fatalf("group offsets not expired: %+v", offs)
	}
	if l := h.list(); len(l) != 0 {
		t.Fatalf("groups left: %v", l)
	}
	h.restart()
	if l := h.list(); len(l) != 0 {
		t.Fatalf("groups after restart: %v", l)
	}
}

// OffsetFetch across versions: v1 per-partition answers, v2+ null topics
// mean all, v8 several groups, errors where each version carries them.
func TestOffsetFetchVersions(t *testing.T) {
	h := newHarness(t)
	h.commit("g", "", -1, commitPart{"t", 1, 11, "x"})
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version, r.Group = 1, "g"
	r.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
	resp := recv(t, h.c.OffsetFetch(r))
	if ps := resp.Topics[0].Partitions; ps[0].Offset != -1 || ps[1].Offset != 11 || *ps[1].Metadata != "x" {
		t.Fatalf("v1: %+v", ps)
	}
	r.Group = ""
	if resp := recv(t, h.c.OffsetFetch(r)); resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("v1 empty group: %+v", resp)
	}
	r.Version, r.Group, r.Topics = 3, "g", nil
	if resp := recv(t, h.c.OffsetFetch(r)); len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].Offset != 11 {
		t.Fatalf("v3 all: %+v", resp)
	}
	r = kmsg.NewPtrOffsetFetchRequest()
	r.Version = 8
	r.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}, {Group: "other"}, {Group: ""}}
	resp = recv(t, h.c.OffsetFetch(r))
	if len(resp.Groups) != 3 || len(resp.Groups[0].Topics) != 1 || len(resp.Groups[1].Topics) != 0 ||
		resp.Groups[2].ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("v8: %+v", resp.Groups)
	}
}

// LeaveGroup v3+ can remove a static member by instance id alone; an id
// that does not match the instance is fenced.
func TestLeaveStatic(t *testing.T) {
	h := newHarness(t)
	j := h.join("g", "", withInstance("i1"))
	h.advance(3 * time.Second)
	m := recv(t, j).MemberID
	r := kmsg.NewPtrLeaveGroupRequest()
	r.Version, r.Group = 4, "g"
	inst := "i1"
	r.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "wrong", InstanceID: &inst}, {InstanceID: &inst}}
	resp := recv(t, h.c.LeaveGroup(r))
	if resp.Members[0].ErrorCode != kerr.FencedInstanceID.Code || resp.Members[1].ErrorCode != 0 {
		t.Fatalf("leave: %+v", resp.Members)
	}
	if d := h.describe("g"); d.State != "Empty" {
		t.Fatalf("after leave: %+v (member %s)", d, m)
	}
	// v0-2: one member, error at the top.
	r = kmsg.NewPtrLeaveGroupRequest()
	r.Version, r.Group, r.MemberID = 1, "g", "nobody"
	if resp := recv(t, h.c.LeaveGroup(r)); resp.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("v1 leave: %+v", resp)
	}
}
