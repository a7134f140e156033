package coordinator

import (
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// fakeClock fires timers only when Advance moves time past them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c             *fakeClock
	at            time.Time
	f             func()
	done, stopped bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done || t.stopped {
		return false
	}
	t.stopped = true
	return true
}

// advance moves time by d and fires (queues) every timer now due, in
// deadline order.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*fakeTimer
	keep := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.done = true
			due = append(due, t)
		default:
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	slices.SortStableFunc(due, func(a, b *fakeTimer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		t.f()
	}
}

// memLog is an in-memory partition: every batch is durable at once unless
// hold is set, and commitErr makes fsyncs fail.
type memLog struct {
	mu        sync.Mutex
	batches   [][]byte
	next      int64
	commitErr error
	replayed  chan struct{} // when set, Replay waits for it to close
}

func (l *memLog) Append(batch []byte, records int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := slices.Clone(batch)
	record.SetBaseOffset(b, l.next)
	l.batches = append(l.batches, b)
	l.next += records
	return l.next, nil
}

func (l *memLog) Commit(int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.commitErr
}

func (l *memLog) Replay(fn func([]byte) error) error {
	if l.replayed != nil {
		<-l.replayed
	}
	l.mu.Lock()
	bs := slices.Clone(l.batches)
	l.mu.Unlock()
	for _, b := range bs {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// records decodes every record written so far (tests of the log format).
func (l *memLog) records(t *testing.T) (keys, values [][]byte) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range l.batches {
		if err := record.Records(b, func(r *record.Record) error {
			keys, values = append(keys, r.Key), append(values, r.Value)
			return nil
		}); err != nil {
			t.Fatalf("bad batch: %v", err)
		}
	}
	return keys, values
}

type memBackend struct {
	mu     sync.Mutex
	logs   []*memLog
	topics map[string]int32
	// leaders of the offsets partitions (absent: node 0, the harness's
	// node); version counts changes.
	leaders map[int32]int32
	version int64
	// unhosted partitions have no log yet (OffsetsLog returns nil).
	unhosted map[int32]bool

	topicsVersion int64
	groupConfigs  map[string]map[string]string
}

func newMemBackend() *memBackend {
	return &memBackend{topics: map[string]int32{"t": 4, "u": 2}}
}

func (b *memBackend) OffsetsPartitions() int32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int32(len(b.logs))
}

func (b *memBackend) CreateOffsetsTopic(n int32, _ int16) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.logs) < int(n) {
		b.logs = append(b.logs, &memLog{})
	}
	b.version++
	return nil
}

func (b *memBackend) OffsetsLeaders() (int64, []PartitionLeader) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.logs) == 0 {
		return b.version, nil
	}
	out := make([]PartitionLeader, len(b.logs))
	for i := range out {
		out[i] = PartitionLeader{Leader: b.leaders[int32(i)]}
	}
	return b.version, out
}

// setLeader makes node the leader of offsets partition p (the
// coordinator follows on its next refresh).
func (b *memBackend) setLeader(p, node int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.leaders == nil {
		b.leaders = map[int32]int32{}
	}
	b.leaders[p] = node
	b.version++
}

func (b *memBackend) OffsetsLog(i int32) Log {
	b.mu.Lock()
	defer b.mu.Unlock()
	if int(i) >= len(b.logs) || b.unhosted[i] {
		return nil
	}
	return b.logs[i]
}

func (b *memBackend) PartitionExists(topic string, p int32) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, ok := b.topics[topic]
	return ok && p >= 0 && p < n
}

// logOf is the offsets partition holding group.
func (b *memBackend) logOf(group string) *memLog {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logs[PartitionFor(group, int32(len(b.logs)))]
}

// harness is one coordinator over an in-memory backend and a fake clock.
type harness struct {
	t     *testing.T
	clock *fakeClock
	be    *memBackend
	c     *Coordinator
	cfg   Config
}

func testConfig() Config {
	return Config{
		NumPartitions:          3,
		MinSessionTimeout:      time.Second,
		MaxSessionTimeout:      time.Minute,
		InitialRebalanceDelay:  3 * time.Second,
		OffsetsRetention:       24 * time.Hour,
		RetentionCheckInterval: 10 * time.Minute,
		MetadataMaxBytes:       64,
	}
}

func newHarness(t *testing.T) *harness {
	return newHarnessWith(t, testConfig(), newMemBackend(), newFakeClock())
}

func newHarnessWith(t *testing.T, cfg Config, be *memBackend, clock *fakeClock) *harness {
	t.Helper()
	cfg.Clock = clock
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c := New(cfg, be, logger)
	c.Start()
	h := &harness{t: t, clock: clock, be: be, c: c, cfg: cfg}
	t.Cleanup(c.Close)
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// restart closes the coordinator and starts a new one on the same logs.
func (h *harness) restart() {
	h.c.Close()
	h2 := newHarnessWith(h.t, h.cfg, h.be, h.clock)
	h.c = h2.c
	h.settle()
}

// settle waits until every shard ran everything queued so far.
func (h *harness) settle() {
	h.t.Helper()
	for _, s := range h.c.allShards() {
		recv(h.t, call(s, func(int16) struct{} { return struct{}{} }, func(reply func(struct{})) { reply(struct{}{}) }))
	}
}

// advance moves the clock and lets the shards run what fired.
func (h *harness) advance(d time.Duration) {
	h.clock.advance(d)
	h.settle()
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no answer within 5s")
		panic("unreachable")
	}
}

// parked reports whether ch has no answer yet (after settle).
func parked[T any](ch <-chan T) bool { return len(ch) == 0 }

type joinOpt func(*kmsg.JoinGroupRequest)

func withInstance(id string) joinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.InstanceID = &id }
}

func withVersion(v int16) joinOpt { return func(r *kmsg.JoinGroupRequest) { r.Version = v } }

func withProtocols(ps ...protocol) joinOpt {
	return func(r *kmsg.JoinGroupRequest) {
		r.Protocols = nil
		for _, p := range ps {
			jp := kmsg.NewJoinGroupRequestProtocol()
			jp.Name, jp.Metadata = p.name, p.metadata
			r.Protocols = append(r.Protocols, jp)
		}
	}
}

func (h *harness) join(group, memberID string, opts ...joinOpt) <-chan *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = 9
	r.Group, r.MemberID = group, memberID
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10000, 30000
	r.ProtocolType = "consumer"
	withProtocols(protocol{"range", []byte("meta-" + group)})(r)
	for _, o := range opts {
		o(r)
	}
	ch := h.c.JoinGroup(r, Client{ID: "cli", Host: "/127.0.0.1"})
	h.settle()
	return ch
}

// joinNew does the two-step join and returns the member id and the parked
// second JoinGroup.
func (h *harness) joinNew(group string, opts ...joinOpt) (string, <-chan *kmsg.JoinGroupResponse) {
	h.t.Helper()
	first := recv(h.t, h.join(group, "", opts...))
	if first.ErrorCode != kerr.MemberIDRequired.Code {
		h.t.Fatalf("first join: error %d, want MEMBER_ID_REQUIRED", first.ErrorCode)
	}
	return first.MemberID, h.join(group, first.MemberID, opts...)
}

func (h *harness) sync(group, memberID string, gen int32, assign map[string][]byte) <-chan *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	ch := h.c.SyncGroup(r)
	h.settle()
	return ch
}

func (h *harness) heartbeat(group, memberID string, gen int32, instance *string) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.Generation, r.InstanceID = group, memberID, gen, instance
	return recv(h.t, h.c.Heartbeat(r)).ErrorCode
}

func (h *harness) describe(group string) kmsg.DescribeGroupsResponseGroup {
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.Version = 5
	r.Groups = []string{group}
	return recv(h.t, h.c.DescribeGroups(r)).Groups[0]
}

type commitPart struct {
	topic     string
	partition int32
	offset    int64
	metadata  string
}

func (h *harness) commit(group, memberID string, gen int32, parts ...commitPart) *kmsg.OffsetCommitResponse {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	for _, p := range parts {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = p.topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata, rp.LeaderEpoch = p.partition, p.offset, kmsg.StringPtr(p.metadata), 7
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
	}
	return recv(h.t, h.c.OffsetCommit(r))
}

// commitCodes flattens a commit response's error codes in request order.
func commitCodes(r *kmsg.OffsetCommitResponse) []int16 {
	var out []int16
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out = append(out, p.ErrorCode)
		}
	}
	return out
}

// fetchAll returns the group's committed offsets (OffsetFetch v9, all topics).
func (h *harness) fetchAll(group string) map[tp]kmsg.OffsetFetchResponseGroupTopicPartition {
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version = 9
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	r.Groups = append(r.Groups, g)
	resp := recv(h.t, h.c.OffsetFetch(r))
	if resp.Groups[0].ErrorCode != 0 {
		h.t.Fatalf("offset fetch: error %d", resp.Groups[0].ErrorCode)
	}
	out := map[tp]kmsg.OffsetFetchResponseGroupTopicPartition{}
	for _, t := range resp.Groups[0].Topics {
		for _, p := range t.Partitions {
			out[tp{t.Topic, p.Partition}] = p
		}
	}
	return out
}

type (
	kmsgJoin    = kmsg.JoinGroupResponse
	kmsgJoinReq = kmsg.JoinGroupRequest
	kmsgSync    = kmsg.SyncGroupResponse
)

func (h *harness) leave(group, memberID string) int16 {
	r := kmsg.NewPtrLeaveGroupRequest()
	r.Version = 5
	r.Group = group
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = memberID
	r.Members = append(r.Members, m)
	resp := recv(h.t, h.c.LeaveGroup(r))
	h.settle()
	if resp.ErrorCode != 0 {
		return resp.ErrorCode
	}
	return resp.Members[0].ErrorCode
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
