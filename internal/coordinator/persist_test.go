package coordinator

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Offsets (with metadata, leader epoch and commit time) and a Stable group
// (generation, leader, members, assignments) come back after a restart.
func TestPersistRoundTrip(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 2)
	commitAt := h.clock.Now().UnixMilli()
	if got := commitCodes(h.commit("g", ids[0], 1, commitPart{"t", 0, 5, "meta-0"}, commitPart{"u", 1, 77, ""})); got[0] != 0 || got[1] != 0 {
		t.Fatalf("commit: %v", got)
	}
	if got := commitCodes(h.commit("simple", "", -1, commitPart{"t", 3, 9, "s"})); got[0] != 0 {
		t.Fatalf("simple commit: %v", got)
	}
	before := h.fetchAll("g")
	h.advance(time.Second)
	h.restart()

	after := h.fetchAll("g")
	if len(after) != 2 {
		t.Fatalf("offsets after restart: %+v", after)
	}
	for k, b := range before {
		a := after[k]
		if a.Offset != b.Offset || *a.Metadata != *b.Metadata || a.LeaderEpoch != b.LeaderEpoch {
			t.Errorf("%v: before %+v after %+v", k, b, a)
		}
	}
	if o := h.fetchAll("simple")[tp{"t", 3}]; o.Offset != 9 || *o.Metadata != "s" {
		t.Errorf("simple group offset after restart: %+v", o)
	}
	// Commit timestamps are restored (retention counts from them).
	s, _ := h.c.route("g", false)
	ch := call(s, func(int16) int64 { return 0 }, func(reply func(int64)) {
		reply(s.groups["g"].offsets[tp{"t", 0}].commitMs)
	})
	if ms := recv(t, ch); ms != commitAt {
		t.Errorf("commit timestamp %d after restart, want %d", ms, commitAt)
	}
	d := h.describe("g")
	if d.State != "Stable" || len(d.Members) != 2 || d.Protocol != "range" {
		t.Fatalf("group after restart: %+v", d)
	}
	for _, m := range d.Members {
		if string(m.MemberAssignment) != "assignment-"+m.MemberID || string(m.ProtocolMetadata) != "meta-g" {
			t.Errorf("member after restart: %+v", m)
		}
	}
	// Members carry on in the same generation; a silent one expires.
	if code := h.heartbeat("g", ids[0], 1, nil); code != 0 {
		t.Fatalf("heartbeat after restart: %d", code)
	}
	h.advance(6 * time.Second)
	h.heartbeat("g", ids[0], 1, nil)
	h.advance(6 * time.Second)
	if code := h.heartbeat("g", ids[0], 1, nil); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after the other member expired: %d", code)
	}
}

// The records are Kafka's: offset commit key v1 / value v3, group metadata
// key v2 / value v3, tombstones on delete.
func TestRecordFormat(t *testing.T) {
	h := newHarness(t)
	ids := stableGroup(t, h, "g", 1)
	h.commit("g", ids[0], 1, commitPart{"t", 2, 100, "md"})
	keys, values := h.be.logOf("g").records(t)
	var sawGroup, sawOffset bool
	for i, k := range keys {
		switch binary.BigEndian.Uint16(k) {
		case 1:
			var key kmsg.OffsetCommitKey
			var val kmsg.OffsetCommitValue
			if err := key.ReadFrom(k); err != nil || val.ReadFrom(values[i]) != nil {
				t.Fatalf("offset record: %v", err)
			}
			if key.Group != "g" || key.Topic != "t" || key.Partition != 2 || val.Version != 3 ||
				val.Offset != 100 || val.Metadata != "md" || val.LeaderEpoch != 7 || val.CommitTimestamp != h.clock.Now().UnixMilli() {
				t.Errorf("offset record %+v %+v", key, val)
			}
			sawOffset = true
		case 2:
			var key kmsg.GroupMetadataKey
			var val kmsg.GroupMetadataValue
			if err := key.ReadFrom(k); err != nil || val.ReadFrom(values[i]) != nil {
				t.Fatalf("group record: %v", err)
			}
			if key.Group != "g" || val.Version != 3 || val.Generation != 1 || val.ProtocolType != "consumer" ||
				*val.Protocol != "range" || *val.Leader != ids[0] || len(val.Members) != 1 ||
				val.Members[0].SessionTimeoutMillis != 10000 || val.Members[0].RebalanceTimeoutMillis != 30000 ||
				val.Members[0].ClientHost != "/127.0.0.1" || string(val.Members[0].Assignment) != "assignment-"+ids[0] {
				t.Errorf("group record %+v %+v", key, val)
			}
			sawGroup = true
		default:
			t.Errorf("unexpected key version in %x", k)
		}
	}
	if !sawGroup || !sawOffset {
		t.Fatalf("records: group %v offset %v", sawGroup, sawOffset)
	}
	// A commit asking for a retention time (v2-v4) writes value v1.
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version, r.Group, r.Generation, r.RetentionTimeMillis = 2, "old", -1, 60000
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = 3
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	recv(t, h.c.OffsetCommit(r))
	keys, values = h.be.logOf("old").records(t)
	for i, k := range keys {
		var key kmsg.OffsetCommitKey
		if key.ReadFrom(k) != nil || key.Group != "old" {
			continue
		}
		var val kmsg.OffsetCommitValue
		if err := val.ReadFrom(values[i]); err != nil || val.Version != 1 || val.ExpireTimestamp != h.clock.Now().UnixMilli()+60000 {
			t.Errorf("v1 value %+v %v", val, err)
		}
	}
}

// Replay skips what it does not understand and never fails on it.
func TestReplayTolerance(t *testing.T) {
	h := newHarness(t)
	h.commit("g", "", -1, commitPart{"t", 0, 1, ""})
	s, _ := h.c.route("g", false)
	recv(t, call(s, func(int16) bool { return false }, func(reply func(bool)) {
		s.replay([]byte{0}, nil)                           // too short
		s.replay([]byte{0, 9, 1, 2}, []byte{1})            // unknown key version
		s.replay([]byte{0, 1, 0, 5}, []byte{0, 3})         // truncated key
		s.replay(offsetKey("g", tp{"t", 1}), []byte{0, 3}) // truncated value
		s.replay(groupKey("g"), []byte{0, 3, 0})           // truncated group value
		reply(true)
	}))
	if offs := h.fetchAll("g"); len(offs) != 1 || offs[tp{"t", 0}].Offset != 1 {
		t.Fatalf("offsets after junk: %+v", offs)
	}
}

// While a partition replays, its groups answer COORDINATOR_LOAD_IN_PROGRESS
// (heartbeats NONE, syncs REBALANCE_IN_PROGRESS), then serve normally.
func TestLoadInProgress(t *testing.T) {
	h := newHarness(t)
	h.commit("g", "", -1, commitPart{"t", 0, 1, ""})
	h.c.Close()
	l := h.be.logOf("g")
	l.replayed = make(chan struct{})
	h2 := newHarnessWith(t, h.cfg, h.be, h.clock)
	if j := recv(t, h2.c.JoinGroup(&kmsg.JoinGroupRequest{Group: "g", SessionTimeoutMillis: 10000, ProtocolType: "consumer"}, Client{})); j.ErrorCode != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("join while loading: %d", j.ErrorCode)
	}
	if r := recv(t, h2.c.Heartbeat(&kmsg.HeartbeatRequest{Group: "g"})); r.ErrorCode != 0 {
		t.Fatalf("heartbeat while loading: %d", r.ErrorCode)
	}
	if r := recv(t, h2.c.SyncGroup(&kmsg.SyncGroupRequest{Group: "g"})); r.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("sync while loading: %d", r.ErrorCode)
	}
	if got := commitCodes(h2.commit("g", "", -1, commitPart{"t", 0, 2, ""})); got[0] != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("commit while loading: %d", got[0])
	}
	close(l.replayed)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := kmsg.NewPtrOffsetFetchRequest()
		r.Version, r.Group = 7, "g"
		resp := recv(t, h2.c.OffsetFetch(r))
		if resp.ErrorCode == 0 {
			if len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].Offset != 1 {
				t.Fatalf("offsets after load: %+v", resp.Topics)
			}
			break
		}
		if resp.ErrorCode != kerr.CoordinatorLoadInProgress.Code || time.Now().After(deadline) {
			t.Fatalf("fetch: %d", resp.ErrorCode)
		}
		time.Sleep(time.Millisecond)
	}
}

// A commit whose fsync fails is not acknowledged and not visible.
func TestCommitWriteFailure(t *testing.T) {
	h := newHarness(t)
	h.commit("g", "", -1, commitPart{"t", 0, 1, ""})
	l := h.be.logOf("g")
	l.mu.Lock()
	l.commitErr = errors.New("disk on fire")
	l.mu.Unlock()
	if got := commitCodes(h.commit("g", "", -1, commitPart{"t", 0, 2, ""})); got[0] != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("commit with failing fsync: %d", got[0])
	}
	if o := h.fetchAll("g")[tp{"t", 0}]; o.Offset != 1 {
		t.Fatalf("failed commit is visible: %+v", o)
	}
}

// Close answers parked JoinGroups and later requests; nothing hangs.
func TestCloseAnswersParked(t *testing.T) {
	h := newHarness(t)
	_, ch := h.joinNew("g")
	h.c.Close()
	if j := recv(t, ch); j.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("parked join after close: %d", j.ErrorCode)
	}
	if j := recv(t, h.c.JoinGroup(&kmsg.JoinGroupRequest{Group: "g", SessionTimeoutMillis: 10000}, Client{})); j.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join after close: %d", j.ErrorCode)
	}
	if _, err := h.c.Ready(); err == nil {
		t.Fatal("Ready after close")
	}
}

// FuzzReplay: no record read back from __consumer_offsets can crash the
// shard or leave state that describing, listing or fetching trips over.
func FuzzReplay(f *testing.F) {
	g := newGroup("g", time.UnixMilli(1))
	g.protocolType, g.protocolName, g.generation = "consumer", "range", 3
	inst := "i"
	g.add(&member{id: "m1", instanceID: &inst, protocols: []protocol{{"range", []byte{0, 1}}}, assignment: []byte{9}})
	g.add(&member{id: "m2", protocols: []protocol{{"range", nil}}})
	f.Add(groupKey("g"), groupValue(g, nil))
	f.Add(offsetKey("g", tp{"t", 1}), offsetValue(offset{offset: 5, leaderEpoch: 2, metadata: "x", commitMs: 1, expireMs: -1}))
	f.Add(offsetKey("g", tp{"t", 1}), offsetValue(offset{offset: 5, metadata: "x", commitMs: 1, expireMs: 9}))
	f.Add(groupKey("g"), []byte(nil))
	// A KIP-848 consumer group and a share group (Sluice records, key
	// versions 100 and 101), so mutations reach those decoders too.
	cg := newGroup("c", time.UnixMilli(1))
	cg.cg = newConsumerGroup(time.UnixMilli(1))
	cg.cg.groupEpoch, cg.cg.assignmentEpoch = 4, 4
	cr := consumerGroupRecord(cg)
	f.Add(cr.Key, cr.Value)
	sg := newShareGroup("s", time.UnixMilli(1))
	sg.groupEpoch, sg.assignmentEpoch = 2, 2
	sg.subMeta["t"] = TopicInfo{Name: "t", ID: uuid{1}, Partitions: 2}
	sg.members["m"] = &smember{id: "m", clientID: "c", clientHost: "/127.0.0.1", subscribed: []string{"t"},
		epoch: 2, assigned: parts{uuid{1}: {0, 1}}}
	sg.target["m"] = parts{uuid{1}: {0, 1}}
	sr := shareGroupRecord(sg)
	f.Add(sr.Key, sr.Value)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		s := &shard{c: &Coordinator{clock: realClock, log: discardLogger(), be: newMemBackend()}, log: discardLogger(),
			groups: map[string]*group{}, shares: map[string]*shareGroup{}}
		s.replay(key, value)
		s.replay(groupKey("g"), groupValue(g, nil))
		s.replay(key, value)
		for id := range s.groups {
			s.describeGroup(id, true)
			s.fetchOffsets(id, nil, true)
		}
		s.listGroups(nil, nil)
		s.replay(key, nil)
	})
}
