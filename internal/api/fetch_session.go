package api

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/metrics"
	"github.com/sluice-io/sluice/internal/replica"
)

// Fetch sessions (KIP-227). A consumer's full fetch (session epoch 0)
// opens a session holding its partitions and their fetch positions; each
// later fetch (epoch 1, 2, ...) names only the partitions whose position
// changed, plus the ones to forget, and is answered with only the
// partitions that have something new: records, a moved high watermark, log
// start or LSO, or an error. With 100 partitions and one of them written
// at a time, that turns a 100-partition request and response into one or
// two, on both sides of the connection.

const (
	// sessionEvictAfter is how long a session must have been idle before
	// a new one may take its slot when the cache is full (Kafka's
	// min.incremental.fetch.session.eviction.ms, an internal constant).
	sessionEvictAfter = 2 * time.Minute
	// sessionFullReadEvery is how often an incremental fetch reads every
	// partition of its session, not only those whose HW moved, whose
	// position the client changed or that had an error: it catches what
	// moves without waking a fetch (the log start offset after retention,
	// an LSO that moves alone).
	sessionFullReadEvery = time.Second
	// maxSessionPartitions bounds the partitions all sessions together
	// hold, so that clients naming made-up partitions cannot grow the
	// cache without limit (slots bound the sessions, this their size).
	maxSessionPartitions = 500_000
)

// FetchSessions is the broker's cache of fetch sessions.
type FetchSessions struct {
	slots int

	mu    sync.Mutex // before any session's mu
	byID  map[int32]*fetchSession
	parts atomic.Int64 // partitions held by every session together
}

// NewFetchSessions makes a cache of up to slots sessions; 0 disables
// sessions (every fetch is answered as sessionless).
func NewFetchSessions(slots int) *FetchSessions {
	return &FetchSessions{slots: slots, byID: map[int32]*fetchSession{}}
}

// sessionKey names a partition in a session: by topic ID for sessions
// opened at Fetch v13+, by name before.
type sessionKey struct {
	id        [16]byte
	name      string
	partition int32
}

// sessionPart is one partition of a session: what the client asked for
// last, and what the session last told it (so an unchanged partition can
// be left out of the answer).
type sessionPart struct {
	key         sessionKey
	offset      int64
	maxBytes    int32
	leaderEpoch int32

	hw, lso, logStart int64 // as last answered; hw -1 forces an answer

	sess       *fetchSession
	dirty      atomic.Bool                    // read it at the next fetch
	resolvedAt atomic.Pointer[metadata.Image] // the image sub was found in
	sub        *replica.Partition             // subscribed to (s.mu)
	rotating   bool                           // rotate's mark (s.mu)
}

// HWMoved marks the partition for reading and wakes the session's parked
// fetch, if any.
func (sp *sessionPart) HWMoved() {
	sp.dirty.Store(true)
	select {
	case sp.sess.wake <- struct{}{}:
	default:
	}
}

type fetchSession struct {
	id      int32
	usesIDs bool

	mu       sync.Mutex
	epoch    int32 // the epoch the next incremental fetch must carry
	parts    []*sessionPart
	index    map[sessionKey]*sessionPart
	count    int // len(index), as counted in the cache's parts
	lastUsed time.Time
	lastFull time.Time // the last fetch that read every partition
	closed   bool

	// wake is signalled when a partition of the session changes (its
	// HWMoved); an incremental fetch parks on it.
	wake chan struct{}

	// items is the fetchItem slice incremental fetches reuse: at every
	// HW move a tailing consumer's fetch lists all of the session's
	// partitions, and a fresh slice each time was most of the broker's
	// garbage at 100 partitions. It costs about 70 bytes per partition
	// held, bounded with the sessions by maxSessionPartitions.
	// itemsBusy: a fetch of this session holds it. Fetches on one
	// connection run one at a time, but a session is not bound to a
	// connection: another one may fetch it meanwhile, and gets its own.
	items     []fetchItem
	itemsBusy bool
}

// resolve subscribes sp to the partition named in img (none when this
// broker holds no replica of it), dropping its older subscription.
func (s *fetchSession) resolve(e *Env, img *metadata.Image, sp *sessionPart, name string) {
	var p *replica.Partition
	if name != "" {
		p = e.Parts.Get(name, sp.key.partition)
	}
	s.mu.Lock()
	if !s.closed && p != sp.sub {
		if sp.sub != nil {
			sp.sub.Unsubscribe(sp)
		}
		if p != nil {
			p.Subscribe(sp)
		}
		sp.sub = p
	}
	s.mu.Unlock()
	sp.resolvedAt.Store(img)
}

// unsubscribe drops sp's subscription (s.mu held).
func (sp *sessionPart) unsubscribe() {
	if sp.sub != nil {
		sp.sub.Unsubscribe(sp)
		sp.sub = nil
	}
}

// fetchContext is how one client fetch uses sessions: sessionless (id 0
// in the answer), full (opens a session when answered), or incremental.
type fetchContext struct {
	cache    *FetchSessions
	version  int16
	open     bool          // full fetch that opens a session when answered
	sess     *fetchSession // incremental: the session
	fullRead bool          // incremental: read every partition, not only the changed ones
	items    []fetchItem
	// ownsItems: items is the session's reusable slice, handed back by
	// done.
	ownsItems bool
}

// fetchItem is one partition a client fetch reads.
type fetchItem struct {
	key         sessionKey
	offset      int64
	maxBytes    int32
	leaderEpoch int32
	part        *sessionPart // incremental: the session's entry
}

// newFetchContext reads the session fields of r (Kafka's
// FetchManager.newContext). A nonzero top-level error code ends the
// request with that error and no partitions.
func (c *FetchSessions) newContext(r *kmsg.FetchRequest) (*fetchContext, int16) {
	fc := &fetchContext{cache: c, version: r.Version}
	useIDs := r.Version >= 13
	if r.Version < 7 || c == nil {
		fc.items = requestItems(r, useIDs)
		return fc, 0
	}
	if r.SessionEpoch == -1 || r.SessionEpoch == 0 {
		// A full fetch closes the session it names, if any, and an
		// epoch-0 one opens a new session when it is answered.
		if r.SessionID != 0 {
			c.remove(r.SessionID)
		}
		fc.items = requestItems(r, useIDs)
		fc.open = r.SessionEpoch == 0 && c.slots > 0
		return fc, 0
	}
	c.mu.Lock()
	s := c.byID[r.SessionID]
	c.mu.Unlock()
	if s == nil {
		return nil, kerr.FetchSessionIDNotFound.Code
	}
	s.mu.Lock()
	if code := s.check(r.SessionEpoch, useIDs); code != 0 {
		s.mu.Unlock()
		return nil, code
	}
	added := 0
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			k := keyOf(useIDs, rt.Topic, rt.TopicID, rp.Partition)
			sp := s.index[k]
			if sp == nil {
				sp = &sessionPart{key: k, hw: -1, lso: -1, logStart: -1, sess: s}
				s.index[k] = sp
				s.parts = append(s.parts, sp)
				added++
			}
			sp.offset, sp.maxBytes, sp.leaderEpoch = rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch
			sp.dirty.Store(true)
		}
	}
	removed := 0
	for _, ft := range r.ForgottenTopics {
		for _, p := range ft.Partitions {
			k := keyOf(useIDs, ft.Topic, ft.TopicID, p)
			if sp, ok := s.index[k]; ok {
				sp.unsubscribe()
				delete(s.index, k)
				removed++
			}
		}
	}
	if removed > 0 {
		kept := s.parts[:0]
		for _, sp := range s.parts {
			if s.index[sp.key] == sp {
				kept = append(kept, sp)
			}
		}
		clear(s.parts[len(kept):])
		s.parts = kept
	}
	s.count += added - removed
	metrics.FetchSessionsChanged(0, added-removed)
	if c.parts.Add(int64(added-removed)) > maxSessionPartitions {
		// Too big to keep: the client starts over with a full fetch,
		// which will not get a session while the cache is this full.
		s.mu.Unlock()
		c.remove(s.id)
		return nil, kerr.FetchSessionIDNotFound.Code
	}
	defer s.mu.Unlock()
	s.epoch = nextEpoch(s.epoch)
	s.lastUsed = time.Now()
	fc.sess = s
	if s.lastUsed.Sub(s.lastFull) >= sessionFullReadEvery {
		fc.fullRead, s.lastFull = true, s.lastUsed
	}
	var items []fetchItem
	if !s.itemsBusy {
		items, s.itemsBusy, fc.ownsItems = s.items[:0], true, true
	}
	for _, sp := range s.parts {
		items = append(items, fetchItem{key: sp.key, offset: sp.offset, maxBytes: sp.maxBytes, leaderEpoch: sp.leaderEpoch, part: sp})
	}
	fc.items = items
	return fc, 0
}

// done ends the fetch: the session may lend its items to the next one.
func (fc *fetchContext) done() {
	if !fc.ownsItems {
		return
	}
	s := fc.sess
	s.mu.Lock()
	clear(fc.items) // no sessionParts kept alive past their removal
	s.items, s.itemsBusy = fc.items[:0], false
	s.mu.Unlock()
	fc.items, fc.ownsItems = nil, false
}

// check validates an incremental fetch against the session (s.mu held).
func (s *fetchSession) check(epoch int32, useIDs bool) int16 {
	switch {
	case s.closed:
		return kerr.FetchSessionIDNotFound.Code
	case s.usesIDs != useIDs:
		return kerr.FetchSessionTopicIDError.Code
	case epoch != s.epoch:
		return kerr.InvalidFetchSessionEpoch.Code
	}
	return 0
}

// keyOf names a partition of a request: by topic ID from Fetch v13, by
// name before.
func keyOf(useIDs bool, name string, id [16]byte, partition int32) sessionKey {
	if useIDs {
		return sessionKey{id: id, partition: partition}
	}
	return sessionKey{name: name, partition: partition}
}

// requestItems lists the partitions of a full request, in request order.
func requestItems(r *kmsg.FetchRequest, useIDs bool) []fetchItem {
	var items []fetchItem
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			k := keyOf(useIDs, rt.Topic, rt.TopicID, rp.Partition)
			items = append(items, fetchItem{key: k, offset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes, leaderEpoch: rp.CurrentLeaderEpoch})
		}
	}
	return items
}

// nextEpoch follows epoch, wrapping past the largest int32 to 1 (0 and -1
// are the full-fetch epochs).
func nextEpoch(epoch int32) int32 {
	if epoch == 1<<31-1 {
		return 1
	}
	return epoch + 1
}

// mustAnswer reports whether an incremental answer includes a partition
// (Kafka's CachedPartition.maybeUpdateResponseData): records, an error, or
// a high watermark, LSO or log start offset other than the session last
// sent. Kafka leaves the LSO out of the rule; we include it so a
// read_committed consumer always learns the LSO the HW implies.
func mustAnswer(sp *sessionPart, fp *kmsg.FetchResponseTopicPartition, records bool) bool {
	return records || fp.ErrorCode != 0 || sp.hw != fp.HighWatermark || sp.lso != fp.LastStableOffset || sp.logStart != fp.LogStartOffset
}

// remember records what an answer told the client about a partition. An
// error sets hw -1, so the partition is answered again once it clears.
func remember(sp *sessionPart, fp *kmsg.FetchResponseTopicPartition) {
	sp.hw, sp.lso, sp.logStart = fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset
	if fp.ErrorCode != 0 {
		sp.hw = -1
	}
}

// answered keeps, of one pass's entries, those the answer includes,
// updating the session: a full fetch that opens one creates it here (its
// id is returned), an incremental one drops the partitions with nothing
// new and moves the ones with records to the end of the session, so the
// next fetch reads the others first when the response size runs out
// (Kafka does the same). It returns the indexes of the entries to answer
// and the session id for the response.
func (fc *fetchContext) answered(entries []passEntry) ([]int, int32) {
	all := func() []int {
		idx := make([]int, len(entries))
		for k := range idx {
			idx[k] = k
		}
		return idx
	}
	switch {
	case fc.sess != nil:
		s := fc.sess
		s.mu.Lock()
		defer s.mu.Unlock()
		var idx []int
		var moved []*sessionPart
		for k := range entries {
			pe := &entries[k]
			sp := fc.items[pe.i].part
			if !mustAnswer(sp, &pe.fp, pe.records) {
				continue
			}
			remember(sp, &pe.fp)
			idx = append(idx, k)
			if pe.records {
				moved = append(moved, sp)
			}
		}
		if len(moved) > 0 {
			s.rotate(moved)
		}
		s.lastUsed = time.Now()
		return idx, s.id
	case fc.open:
		return all(), fc.cache.create(fc.items, entries, fc.version >= 13)
	default:
		return all(), 0
	}
}

// rotate moves the session's entries of moved to the end of its order,
// keeping the rest in place. Entries the session no longer holds
// (forgotten by a later request) are skipped. In place, with no map: it
// runs on every answer with records.
func (s *fetchSession) rotate(moved []*sessionPart) {
	for _, sp := range moved {
		sp.rotating = true
	}
	var buf [8]*sessionPart
	tail := buf[:0]
	w := 0
	for _, sp := range s.parts {
		if sp.rotating {
			sp.rotating = false
			tail = append(tail, sp)
			continue
		}
		s.parts[w] = sp
		w++
	}
	copy(s.parts[w:], tail)
	for _, sp := range moved {
		sp.rotating = false // one the session no longer holds
	}
}

// create opens a session holding items with what the full answer (entries) told the client,
// or returns 0 when the cache has no room (the client then keeps sending
// full fetches, which work as before). A full cache gives the slot of the
// session idle longest, if it has been idle for sessionEvictAfter.
func (c *FetchSessions) create(items []fetchItem, entries []passEntry, usesIDs bool) int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts.Load()+int64(len(items)) > maxSessionPartitions {
		return 0
	}
	now := time.Now()
	if len(c.byID) >= c.slots {
		var oldest *fetchSession
		for _, s := range c.byID {
			if oldest == nil || s.lastUsedAt().Before(oldest.lastUsedAt()) {
				oldest = s
			}
		}
		if oldest == nil || now.Sub(oldest.lastUsedAt()) < sessionEvictAfter {
			return 0
		}
		c.removeLocked(oldest.id)
		metrics.FetchSessionEvicted()
	}
	s := &fetchSession{usesIDs: usesIDs, epoch: 1, lastUsed: now, index: make(map[sessionKey]*sessionPart, len(items)), wake: make(chan struct{}, 1)}
	for i, it := range items {
		if _, dup := s.index[it.key]; dup {
			continue
		}
		// Not subscribed yet: the first incremental fetch resolves
		// and reads every partition (resolvedAt is nil).
		sp := &sessionPart{key: it.key, offset: it.offset, maxBytes: it.maxBytes, leaderEpoch: it.leaderEpoch, sess: s}
		remember(sp, &entries[i].fp) // a full pass: entries[i] is items[i]
		s.index[it.key] = sp
		s.parts = append(s.parts, sp)
	}
	for {
		// Session ids are random and never 0 (no session).
		s.id = rand.Int32()
		if _, taken := c.byID[s.id]; s.id != 0 && !taken {
			break
		}
	}
	s.count = len(s.parts)
	c.byID[s.id] = s
	c.parts.Add(int64(s.count))
	metrics.FetchSessionsChanged(1, s.count)
	return s.id
}

func (s *fetchSession) lastUsedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastUsed
}

// remove closes session id, if the cache holds it.
func (c *FetchSessions) remove(id int32) {
	c.mu.Lock()
	c.removeLocked(id)
	c.mu.Unlock()
}

func (c *FetchSessions) removeLocked(id int32) {
	s := c.byID[id]
	if s == nil {
		return
	}
	delete(c.byID, id)
	s.mu.Lock()
	s.closed = true
	for _, sp := range s.parts {
		sp.unsubscribe()
	}
	c.parts.Add(-int64(s.count))
	metrics.FetchSessionsChanged(-1, -s.count)
	s.count = 0
	s.mu.Unlock()
}

// Close drops every session (the broker is stopping).
func (c *FetchSessions) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.byID {
		c.removeLocked(id)
	}
}

// Len is the number of open sessions (for metrics and tests).
func (c *FetchSessions) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}
