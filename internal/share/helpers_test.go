package share

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
)

// fakeData is a data partition made of batch headers only.
type fakeData struct {
	mu       sync.Mutex
	batches  []replica.BatchInfo
	hw, lso  int64
	start    int64
	aborted  []replica.AbortedTxn
	lsoSet   bool
	times    map[int64]int64 // batch base -> timestamp (by_duration)
	watchers map[chan struct{}]struct{}
}

// add appends a data batch of n records and moves the HW past it.
func (d *fakeData) add(n int32) { d.addBatch(replica.BatchInfo{Records: n, ProducerID: -1}) }

func (d *fakeData) addBatch(b replica.BatchInfo) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b.Base = d.hw
	if b.Records == 0 {
		b.Records = 1
	}
	b.Last = b.Base + int64(b.Records) - 1
	d.batches = append(d.batches, b)
	d.hw = b.Last + 1
	for ch := range d.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (d *fakeData) HighWatermark() int64 { d.mu.Lock(); defer d.mu.Unlock(); return d.hw }
func (d *fakeData) LastStableOffset() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lsoSet {
		return d.lso
	}
	return d.hw
}
func (d *fakeData) LogStartOffset() int64 { d.mu.Lock(); defer d.mu.Unlock(); return d.start }
func (d *fakeData) LeaderEpoch() int32    { return 0 }
func (d *fakeData) AbortedTxns(from, to int64) []replica.AbortedTxn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.aborted
}

// ShareRead returns the batches from the one holding offset, each
// "costing" 10 bytes a record, below maxOffset; the first one always.
func (d *fakeData) ShareRead(offset int64, maxBytes int, maxOffset int64) (*log.ReadResult, []replica.BatchInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []replica.BatchInfo
	size := 0
	for _, b := range d.batches {
		if b.Last < offset || b.Base < d.start {
			continue
		}
		if b.Base >= maxOffset || (len(out) > 0 && size+int(b.Records)*10 > maxBytes) {
			break
		}
		out = append(out, b)
		size += int(b.Records) * 10
	}
	return &log.ReadResult{Size: size}, out, nil
}

func (d *fakeData) OffsetForTime(ts int64) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.batches {
		if d.times[b.Base] >= ts {
			return b.Base, true
		}
	}
	return 0, false
}

func (d *fakeData) Watch(ch chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.watchers == nil {
		d.watchers = map[chan struct{}]struct{}{}
	}
	d.watchers[ch] = struct{}{}
}

func (d *fakeData) Unwatch(ch chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.watchers, ch)
}

// memLog is an in-memory __share_group_state partition.
type memLog struct {
	mu      sync.Mutex
	batches [][]byte
	durable int64
	commits int
}

func (l *memLog) Append(batch []byte, _ int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := append([]byte(nil), batch...)
	record.SetBaseOffset(b, int64(len(l.batches)))
	l.batches = append(l.batches, b)
	return int64(len(l.batches)), nil
}

func (l *memLog) Commit(upTo int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.durable = max(l.durable, upTo)
	l.commits++
	return nil
}

// Replay replays only what was committed: a restart loses the rest.
func (l *memLog) Replay(fn func([]byte) error) error {
	l.mu.Lock()
	bs := append([][]byte(nil), l.batches[:l.durable]...)
	l.mu.Unlock()
	for _, b := range bs {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// memBackend hosts fake data partitions and in-memory state logs.
type memBackend struct {
	mu    sync.Mutex
	data  map[TP]*fakeData
	logs  []*memLog
	nlogs int32
}

func newMemBackend() *memBackend { return &memBackend{data: map[TP]*fakeData{}} }

func (b *memBackend) Data(id [16]byte, p int32) Data {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.data[TP{id, p}]; d != nil {
		return d
	}
	return nil
}

func (b *memBackend) StatePartitions() int32 { b.mu.Lock(); defer b.mu.Unlock(); return b.nlogs }

func (b *memBackend) CreateStateTopic(n int32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nlogs == 0 {
		b.nlogs = n
		for range n {
			b.logs = append(b.logs, &memLog{})
		}
	}
	return nil
}

func (b *memBackend) StateLog(i int32) StateLog {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i < 0 || i >= b.nlogs {
		return nil
	}
	return b.logs[i]
}

// fakeGroups answers every group as a share group with settings s.
type fakeGroups struct {
	mu    sync.Mutex
	s     Settings
	types map[string]string
}

func (g *fakeGroups) GroupType(id string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.types[id]; ok {
		return t
	}
	return GroupTypeShare
}

func (g *fakeGroups) ShareSettings(string) Settings { g.mu.Lock(); defer g.mu.Unlock(); return g.s }

// fakeClock is an injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t      *testing.T
	m      *Manager
	be     *memBackend
	groups *fakeGroups
	clock  *fakeClock
	cfg    Config
	tid    [16]byte
	d      *fakeData
}

func newHarness(t *testing.T, mut ...func(*Config, *Settings)) *harness {
	t.Helper()
	h := &harness{t: t, be: newMemBackend(), clock: &fakeClock{now: time.Unix(1_700_000_000, 0)}, tid: [16]byte{1, 2, 3}}
	s := Settings{AutoOffsetReset: "earliest", RecordLockDuration: 30 * time.Second, DeliveryAttemptLimit: 5}
	h.cfg = Config{StatePartitions: 3, SweepInterval: -1, Now: h.clock.Now}
	for _, f := range mut {
		f(&h.cfg, &s)
	}
	h.groups = &fakeGroups{s: s}
	h.d = &fakeData{}
	h.be.data[TP{h.tid, 0}] = h.d
	h.start()
	return h
}

func (h *harness) start() {
	h.t.Helper()
	h.m = New(h.cfg, h.groups, h.be, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := h.m.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(h.m.Close)
}

// restart simulates a broker restart: a new manager over what was durable.
func (h *harness) restart() {
	h.m.Close()
	h.start()
}

func (h *harness) acquire(member string, max int) []Range {
	h.t.Helper()
	a, code := h.m.Acquire("g", member, h.tid, 0, h.d, FetchOpts{MaxRecords: max, MaxBytes: 1 << 20})
	if code != 0 {
		h.t.Fatalf("acquire: code %d", code)
	}
	return a.Ranges
}

func (h *harness) ack(member string, first, last int64, typ int8) int16 {
	h.t.Helper()
	return h.m.Acknowledge("g", member, h.tid, 0, []AckBatch{{First: first, Last: last, Types: []int8{typ}}}, AckReject)
}

func (h *harness) spso() int64 {
	return h.m.Offsets("g", h.tid, []int32{0})[0].StartOffset
}

func count(rs []Range) int {
	n := 0
	for _, r := range rs {
		n += int(r.Last - r.First + 1)
	}
	return n
}
