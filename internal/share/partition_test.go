package share

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/replica"
)

func TestAcquireAcceptAdvances(t *testing.T) {
	h := newHarness(t)
	h.d.add(3)
	h.d.add(2)
	got := h.acquire("a", 100)
	if want := []Range{{0, 4, 1}}; !slices.Equal(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
	// Another member gets nothing while a holds everything.
	if got := h.acquire("b", 100); len(got) != 0 {
		t.Fatalf("b acquired %v while a holds the records", got)
	}
	if code := h.ack("a", 0, 2, AckAccept); code != 0 {
		t.Fatalf("ack: %d", code)
	}
	if s := h.spso(); s != 3 {
		t.Fatalf("SPSO %d after accepting 0-2, want 3", s)
	}
	// b cannot acknowledge a's records.
	if code := h.ack("b", 3, 4, AckAccept); code != kerr.InvalidRecordState.Code {
		t.Fatalf("b acked a's records: code %d", code)
	}
	if code := h.ack("a", 3, 4, AckAccept); code != 0 {
		t.Fatalf("ack: %d", code)
	}
	if s := h.spso(); s != 5 {
		t.Fatalf("SPSO %d, want 5", s)
	}
}

func TestReleaseRedeliversRejectArchives(t *testing.T) {
	h := newHarness(t)
	h.d.add(4)
	h.acquire("a", 100)
	acks := []AckBatch{{First: 0, Last: 3, Types: []int8{AckRelease, AckReject, AckAccept, AckRelease}}}
	if code := h.m.Acknowledge("g", "a", h.tid, 0, acks, AckReject); code != 0 {
		t.Fatalf("ack: %d", code)
	}
	got := h.acquire("b", 100)
	if want := []Range{{0, 0, 2}, {3, 3, 2}}; !slices.Equal(got, want) {
		t.Fatalf("redelivered %v, want %v (1 and 2 finished)", got, want)
	}
	h.ack("b", 0, 0, AckAccept)
	if s := h.spso(); s != 3 {
		t.Fatalf("SPSO %d, want 3", s)
	}
}

func TestLockExpiryAndDeliveryLimit(t *testing.T) {
	h := newHarness(t, func(_ *Config, s *Settings) { s.DeliveryAttemptLimit = 2; s.RecordLockDuration = 10 * time.Second })
	h.d.add(2)
	if got := h.acquire("a", 100); count(got) != 2 {
		t.Fatalf("acquired %v", got)
	}
	h.clock.Add(9 * time.Second)
	h.m.ExpireLocks()
	if got := h.acquire("b", 100); len(got) != 0 {
		t.Fatalf("acquired %v before the lock expired", got)
	}
	h.clock.Add(2 * time.Second)
	h.m.ExpireLocks()
	got := h.acquire("b", 100)
	if want := []Range{{0, 1, 2}}; !slices.Equal(got, want) {
		t.Fatalf("after expiry got %v, want %v", got, want)
	}
	// a's lock is gone: its late ack is refused.
	if code := h.ack("a", 0, 1, AckAccept); code != kerr.InvalidRecordState.Code {
		t.Fatalf("late ack: code %d", code)
	}
	// Second expiry reaches the delivery limit: archived, SPSO moves.
	h.clock.Add(11 * time.Second)
	h.m.ExpireLocks()
	if got := h.acquire("c", 100); len(got) != 0 {
		t.Fatalf("records at the delivery limit redelivered: %v", got)
	}
	if s := h.spso(); s != 2 {
		t.Fatalf("SPSO %d, want 2", s)
	}
}

func TestRenewExtendsLock(t *testing.T) {
	h := newHarness(t, func(_ *Config, s *Settings) { s.RecordLockDuration = 10 * time.Second })
	h.d.add(1)
	h.acquire("a", 10)
	h.clock.Add(8 * time.Second)
	if code := h.m.Acknowledge("g", "a", h.tid, 0, []AckBatch{{0, 0, []int8{AckRenew}}}, AckRenew); code != 0 {
		t.Fatalf("renew: %d", code)
	}
	if code := h.m.Acknowledge("g", "a", h.tid, 0, []AckBatch{{0, 0, []int8{AckRenew}}}, AckReject); code != kerr.InvalidRequest.Code {
		t.Fatalf("renew without IsRenewAck: %d", code)
	}
	h.clock.Add(8 * time.Second)
	h.m.ExpireLocks()
	if got := h.acquire("b", 10); len(got) != 0 {
		t.Fatalf("renewed lock expired early: %v", got)
	}
	if code := h.ack("a", 0, 0, AckAccept); code != 0 {
		t.Fatalf("ack after renew: %d", code)
	}
}

func TestMaxRecordsAndStrict(t *testing.T) {
	h := newHarness(t)
	h.d.add(5)
	h.d.add(5)
	// Whole batches: asking for 3 takes the first batch of 5.
	if got := h.acquire("a", 3); count(got) != 5 {
		t.Fatalf("acquired %v, want the whole first batch", got)
	}
	a, _ := h.m.Acquire("g", "b", h.tid, 0, h.d, FetchOpts{MaxRecords: 3, Strict: true, MaxBytes: 1 << 20})
	if want := []Range{{5, 7, 1}}; !slices.Equal(a.Ranges, want) {
		t.Fatalf("strict acquired %v, want %v", a.Ranges, want)
	}
	if got := h.acquire("c", 100); !slices.Equal(got, []Range{{8, 9, 1}}) {
		t.Fatalf("rest of the batch: %v", got)
	}
}

func TestMaxRecordLocks(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *Settings) { c.MaxRecordLocks = 4 })
	for range 4 {
		h.d.add(2)
	}
	if got := h.acquire("a", 100); count(got) != 4 {
		t.Fatalf("acquired %v, want 4 (the lock limit)", got)
	}
	if got := h.acquire("b", 100); len(got) != 0 {
		t.Fatalf("acquired past the lock limit: %v", got)
	}
	h.ack("a", 0, 1, AckAccept)
	if got := h.acquire("b", 100); !slices.Equal(got, []Range{{4, 5, 1}}) {
		t.Fatalf("after the window moved: %v", got)
	}
}

func TestReadCommitted(t *testing.T) {
	h := newHarness(t, func(_ *Config, s *Settings) { s.ReadCommitted = true })
	h.d.add(2)                                                                                     // 0-1
	h.d.addBatch(replica.BatchInfo{Records: 2, ProducerID: 7, Transactional: true})                // 2-3 aborted
	h.d.addBatch(replica.BatchInfo{Records: 1, ProducerID: 7, Transactional: true, Control: true}) // 4 abort marker
	h.d.addBatch(replica.BatchInfo{Records: 2, ProducerID: 8, Transactional: true})                // 5-6 open
	h.d.aborted = []replica.AbortedTxn{{ProducerID: 7, FirstOffset: 2, LastOffset: 4}}
	h.d.lso, h.d.lsoSet = 5, true
	got := h.acquire("a", 100)
	if want := []Range{{0, 1, 1}}; !slices.Equal(got, want) {
		t.Fatalf("read_committed acquired %v, want %v", got, want)
	}
	h.ack("a", 0, 1, AckAccept)
	if s := h.spso(); s != 5 {
		t.Fatalf("SPSO %d, want 5 (aborted records and marker archived)", s)
	}
	h.d.lso = 7
	if got := h.acquire("a", 100); !slices.Equal(got, []Range{{5, 6, 1}}) {
		t.Fatalf("after commit: %v", got)
	}
}

func TestAutoOffsetReset(t *testing.T) {
	for _, tc := range []struct {
		reset string
		want  int64
	}{{"earliest", 2}, {"latest", 6}, {"by_duration:PT1H", 4}, {"", 6}} {
		h := newHarness(t, func(_ *Config, s *Settings) { s.AutoOffsetReset = tc.reset })
		h.d.times = map[int64]int64{}
		now := h.clock.Now()
		for i, ago := range []time.Duration{3 * time.Hour, 2 * time.Hour, 30 * time.Minute} {
			h.d.times[int64(i*2)] = now.Add(-ago).UnixMilli()
			h.d.add(2)
		}
		h.d.start = 2
		h.acquire("a", 1)
		h.m.ExpireLocks()
		// The SPSO is where initialization put it (nothing accepted).
		if s := h.spso(); s != tc.want {
			t.Errorf("%q: SPSO %d, want %d", tc.reset, s, tc.want)
		}
	}
}

func TestRetentionMovesStart(t *testing.T) {
	h := newHarness(t)
	h.d.add(3)
	h.d.add(3)
	h.acquire("a", 1)
	h.d.start = 3
	h.ack("a", 0, 2, AckRelease)
	got := h.acquire("b", 100)
	if want := []Range{{3, 5, 1}}; !slices.Equal(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
}

func TestInvalidAcks(t *testing.T) {
	h := newHarness(t)
	h.d.add(4)
	h.acquire("a", 100)
	for _, acks := range [][]AckBatch{
		{{First: 2, Last: 1, Types: []int8{1}}},
		{{First: 0, Last: 1, Types: []int8{1, 1, 1}}},
		{{First: 0, Last: 1, Types: []int8{9}}},
		{{First: 2, Last: 3, Types: []int8{1}}, {First: 0, Last: 1, Types: []int8{1}}},
	} {
		if code := h.m.Acknowledge("g", "a", h.tid, 0, acks, AckReject); code != kerr.InvalidRequest.Code {
			t.Errorf("%v: code %d, want INVALID_REQUEST", acks, code)
		}
	}
	// Partly outside what a holds: nothing changes.
	if code := h.ack("a", 2, 9, AckAccept); code != kerr.InvalidRecordState.Code {
		t.Fatalf("ack past end: %d", code)
	}
	if code := h.ack("a", 0, 3, AckAccept); code != 0 {
		t.Fatalf("ack: %d", code)
	}
}

func TestPersistAndReplay(t *testing.T) {
	h := newHarness(t)
	for range 5 {
		h.d.add(2)
	}
	h.acquire("a", 100)
	acks := []AckBatch{
		{First: 0, Last: 3, Types: []int8{AckAccept}},
		{First: 4, Last: 5, Types: []int8{AckReject, AckRelease}},
		{First: 6, Last: 6, Types: []int8{AckAccept}},
	}
	if code := h.m.Acknowledge("g", "a", h.tid, 0, acks, AckReject); code != 0 {
		t.Fatalf("ack: %d", code)
	}
	// 7-9 stay acquired by a: after a restart they are available again,
	// and their delivery counts (5's and 7-9's) are kept.
	h.restart()
	if s := h.spso(); s != 5 {
		t.Fatalf("SPSO after restart %d, want 5", s)
	}
	got := h.acquire("b", 100)
	if want := []Range{{5, 5, 2}, {7, 9, 2}}; !slices.Equal(got, want) {
		t.Fatalf("after restart acquired %v, want %v", got, want)
	}
	if init := h.m.Initialized("g"); !slices.Equal(init[h.tid], []int32{0}) {
		t.Fatalf("Initialized: %v", init)
	}
}

func TestAdminState(t *testing.T) {
	h := newHarness(t)
	for range 5 {
		h.d.add(2)
	}
	if off := h.m.Offsets("g", h.tid, []int32{0, 1}); off[0].StartOffset != -1 || off[1].StartOffset != -1 {
		t.Fatalf("uninitialized offsets: %+v", off)
	}
	if code := h.m.SetStartOffset("g", h.tid, 0, 6); code != 0 {
		t.Fatal(code)
	}
	if off := h.m.Offsets("g", h.tid, []int32{0})[0]; off.StartOffset != 6 || off.Lag != 4 {
		t.Fatalf("after alter: %+v", off)
	}
	if got := h.acquire("a", 100); !slices.Equal(got, []Range{{6, 9, 1}}) {
		t.Fatalf("acquired %v", got)
	}
	h.restart()
	if s := h.spso(); s != 6 {
		t.Fatalf("altered SPSO after restart: %d", s)
	}
	if code := h.m.DeleteGroup("g"); code != 0 {
		t.Fatal(code)
	}
	h.restart()
	if s := h.spso(); s != -1 {
		t.Fatalf("deleted state came back: SPSO %d", s)
	}
	if len(h.m.Initialized("g")) != 0 {
		t.Fatal("Initialized lists a deleted group")
	}
}

func TestSessions(t *testing.T) {
	h := newHarness(t, func(c *Config, _ *Settings) { c.MaxSessions = 2 })
	tp := TP{h.tid, 0}
	if _, code := h.m.FetchSession("g", "a", 1, nil, nil, nil); code != kerr.ShareSessionNotFound.Code {
		t.Fatalf("unknown session: %d", code)
	}
	parts, code := h.m.FetchSession("g", "a", 0, []TP{tp}, nil, nil)
	if code != 0 || len(parts) != 1 {
		t.Fatalf("open: %v %d", parts, code)
	}
	if _, code := h.m.FetchSession("g", "a", 2, nil, nil, nil); code != kerr.InvalidShareSessionEpoch.Code {
		t.Fatalf("wrong epoch: %d", code)
	}
	if code := h.m.AckSession("g", "a", 1); code != 0 {
		t.Fatalf("ack epoch 1: %d", code)
	}
	if parts, code := h.m.FetchSession("g", "a", 2, nil, []TP{tp}, nil); code != 0 || len(parts) != 0 {
		t.Fatalf("forget: %v %d", parts, code)
	}
	if code := h.m.AckSession("g", "a", 0); code != kerr.InvalidShareSessionEpoch.Code {
		t.Fatalf("ack epoch 0: %d", code)
	}
	h.m.FetchSession("g", "b", 0, nil, nil, nil)
	if _, code := h.m.FetchSession("g", "c", 0, nil, nil, nil); code != kerr.ShareSessionLimitReached.Code {
		t.Fatalf("third session: %d", code)
	}
	// Closing releases what the member holds.
	h.m.FetchSession("g", "a", 0, []TP{tp}, nil, nil)
	h.d.add(3)
	h.acquire("a", 100)
	if code := h.m.CloseSession("g", "a"); code != 0 {
		t.Fatal(code)
	}
	if got := h.acquire("b", 100); !slices.Equal(got, []Range{{0, 2, 2}}) {
		t.Fatalf("after close: %v", got)
	}
	// A closed connection ends its session the same way.
	done := make(chan struct{})
	h.m.FetchSession("g", "c", 0, []TP{tp}, nil, done)
	h.ack("b", 0, 2, AckRelease)
	h.acquire("c", 100)
	close(done)
	deadline := time.Now().Add(5 * time.Second)
	for h.m.HasSession("g", "c") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := h.acquire("b", 100); !slices.Equal(got, []Range{{0, 2, 4}}) {
		t.Fatalf("after disconnect: %v", got)
	}
}

func TestSnapshotCodec(t *testing.T) {
	s := snapshot{stateEpoch: 3, leaderEpoch: 1, startOffset: 10, batches: []stateBatch{{10, 12, stateAvailable, 2}, {14, 14, stateArchived, 1}}}
	got, err := decodeSnapshot(encodeSnapshot(s, time.Unix(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if got.stateEpoch != 3 || got.leaderEpoch != 1 || got.startOffset != 10 || !slices.Equal(got.batches, s.batches) {
		t.Fatalf("round trip: %+v", got)
	}
	k := key{"grp", [16]byte{9}, 7}
	if dk, ok, err := decodeKey(encodeKey(k)); err != nil || !ok || dk != k {
		t.Fatalf("key round trip: %v %v %v", dk, ok, err)
	}
	b := encodeSnapshot(s, time.Unix(1, 0))
	for i := range len(b) {
		_, _ = decodeSnapshot(b[:i]) // must not panic
	}
}

func TestISODuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"PT1H": time.Hour, "P1D": 24 * time.Hour, "PT1H30M": 90 * time.Minute, "pt0.5s": 500 * time.Millisecond} {
		if got, ok := parseISODuration(in); !ok || got != want {
			t.Errorf("%s: %v %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "P", "1H", "PT", "PTxS", "P1H"} {
		if _, ok := parseISODuration(in); ok {
			t.Errorf("%q parsed", in)
		}
	}
}

func TestStatePartitionUUID(t *testing.T) {
	// Kafka's Uuid.toString of the all-zero id is "AAAAAAAAAAAAAAAAAAAAAA".
	if s := uuidString([16]byte{}); s != "AAAAAAAAAAAAAAAAAAAAAA" {
		t.Fatalf("uuidString: %s", s)
	}
	for i := range 100 {
		if p := statePartition(key{string(rune('a' + i%26)), [16]byte{byte(i)}, int32(i)}, 50); p < 0 || p >= 50 {
			t.Fatalf("partition %d", p)
		}
	}
}

// Offsets no batch holds (compacted away) are archived, never delivered;
// the SPSO moves past them.
func TestCompactedHoles(t *testing.T) {
	h := newHarness(t)
	h.d.add(2) // 0-1
	h.d.hw = 5
	h.d.add(2) // 5-6
	got := h.acquire("a", 100)
	if want := []Range{{0, 1, 1}, {5, 6, 1}}; !slices.Equal(got, want) {
		t.Fatalf("acquired %v, want %v", got, want)
	}
	h.ack("a", 0, 1, AckAccept)
	h.ack("a", 5, 6, AckAccept)
	if s := h.spso(); s != 7 {
		t.Fatalf("SPSO %d, want 7", s)
	}
	h.d.hw = 100
	h.d.add(1) // 100, after a hole with nothing in flight
	if got := h.acquire("a", 100); !slices.Equal(got, []Range{{100, 100, 1}}) {
		t.Fatalf("after the hole: %v", got)
	}
}

func TestTopicsDeleted(t *testing.T) {
	h := newHarness(t)
	h.d.add(1)
	h.acquire("a", 10)
	h.m.TopicsDeleted([][16]byte{h.tid})
	deadline := time.Now().Add(5 * time.Second)
	for h.spso() != -1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s := h.spso(); s != -1 {
		t.Fatalf("state of a deleted topic kept: SPSO %d", s)
	}
	h.restart()
	if s := h.spso(); s != -1 {
		t.Fatalf("state of a deleted topic replayed: SPSO %d", s)
	}
}

// A member leaving the group (or fenced) loses its session at once and its
// records are released for the others; a fetch still running in the ended
// session acquires nothing more.
func TestMemberLeft(t *testing.T) {
	h := newHarness(t)
	tp := TP{h.tid, 0}
	h.m.FetchSession("g", "a", 0, []TP{tp}, nil, nil)
	sess := h.m.Session("g", "a")
	if !sess.Live() {
		t.Fatal("open session not live")
	}
	h.d.add(3)
	if got := h.acquire("a", 100); count(got) != 3 {
		t.Fatalf("acquired %v", got)
	}
	h.m.MemberLeft("g", "a")
	if h.m.HasSession("g", "a") || sess.Live() {
		t.Fatal("session survived MemberLeft")
	}
	if _, code := h.m.Acquire("g", "a", h.tid, 0, h.d, FetchOpts{MaxRecords: 10, MaxBytes: 1 << 20, Session: &sess}); code != kerr.ShareSessionNotFound.Code {
		t.Fatalf("acquire in an ended session: code %d", code)
	}
	var got []Range
	for deadline := time.Now().Add(5 * time.Second); count(got) == 0 && time.Now().Before(deadline); {
		got = h.acquire("b", 100)
		if count(got) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if !slices.Equal(got, []Range{{0, 2, 2}}) {
		t.Fatalf("after MemberLeft: %v", got)
	}
	// A member without a session (it never fetched here) is a no-op for
	// sessions; a later session of the same member id is a new one.
	h.m.MemberLeft("g", "nobody")
	h.m.FetchSession("g", "a", 0, []TP{tp}, nil, nil)
	if !h.m.Session("g", "a").Live() || sess.Live() {
		t.Fatal("a new session of the member must be live, the old one not")
	}
}
