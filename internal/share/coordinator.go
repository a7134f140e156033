package share

import (
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/record"
)

// Coordinator is Kafka's share coordinator: for each __share_group_state
// partition this broker leads it holds the latest snapshot of every
// share-partition stored there and answers the share-group state APIs
// (Initialize/Read/Write/Delete/ReadSummary, keys 83-87) for them, writing
// each change durably to the partition before answering.
//
// It follows leadership like the group and transaction coordinators: a
// shard loads (replays) its partition when the metadata names this broker
// its leader (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and drops its state
// when another broker or none leads it (NOT_COORDINATOR). A coordinator
// built standalone (no metadata to follow: unit tests, and a Manager
// without a Remote) leads every partition and loads each on first use.
//
// INVARIANTS
//   - a shard's map is the last record of each key in its partition, in
//     log order (appends happen under the shard's lock);
//   - only a shard whose partition this broker leads holds state; one that
//     lost it never writes again (its generation moved on).
type Coordinator struct {
	nodeID     int32
	be         Backend
	now        func() time.Time
	log        logger
	standalone bool

	mu       sync.Mutex
	shards   []*stateShard
	followed int64 // metadata offset of the image last followed
	closed   bool
	wg       sync.WaitGroup
}

// logger is the part of slog.Logger the coordinator uses.
type logger interface {
	Info(msg string, args ...any)
	Error(msg string, args ...any)
}

type shardStatus uint8

const (
	shardInactive shardStatus = iota // another broker (or none) leads it: NOT_COORDINATOR
	shardLoading                     // replaying: COORDINATOR_LOAD_IN_PROGRESS
	shardActive
	shardFailed // the replay or a commit failed: COORDINATOR_NOT_AVAILABLE until reloaded
)

// entry is one key's latest snapshot and the offset after its record.
type entry struct {
	snap snapshot
	next int64
}

type stateShard struct {
	c     *Coordinator
	index int32

	mu           sync.Mutex
	status       shardStatus
	epoch        int32
	gen          uint64
	ready        chan struct{}
	state        map[key]entry
	leaderEpochs map[key]int32 // highest data-partition leader epoch seen per key (Kafka's leaderEpochMap)
}

// NewCoordinator returns a share coordinator over be's state partitions.
// standalone: lead every partition (no metadata to follow).
func NewCoordinator(nodeID int32, be Backend, now func() time.Time, log logger, standalone bool) *Coordinator {
	if now == nil {
		now = time.Now
	}
	return &Coordinator{nodeID: nodeID, be: be, now: now, log: log, standalone: standalone, followed: -1}
}

// Close stops loads; later requests get COORDINATOR_NOT_AVAILABLE.
func (c *Coordinator) Close() {
	c.mu.Lock()
	c.closed = true
	for _, s := range c.shards {
		s.mu.Lock()
		s.unloadLocked()
		s.mu.Unlock()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// OnImage follows the leadership of __share_group_state in img. It never
// blocks: loads run on their own goroutines.
func (c *Coordinator) OnImage(img *metadata.Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.standalone || img.Offset < c.followed {
		return
	}
	c.followed = img.Offset
	t, ok := img.Topic(StateTopic)
	if !ok || len(t.Partitions) != len(c.shards) {
		for _, s := range c.shards {
			s.mu.Lock()
			s.unloadLocked()
			s.mu.Unlock()
		}
		c.shards = nil
		if !ok {
			return
		}
		c.shards = make([]*stateShard, len(t.Partitions))
		for i := range c.shards {
			c.shards[i] = &stateShard{c: c, index: int32(i)}
		}
	}
	for i, p := range t.Partitions {
		c.shards[i].follow(p.Leader == c.nodeID, p.LeaderEpoch)
	}
}

func (s *stateShard) follow(lead bool, epoch int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case lead && s.status != shardInactive && s.status != shardFailed && s.epoch == epoch:
	case lead:
		if s.status != shardInactive {
			s.unloadLocked()
		}
		s.beginLoadLocked(epoch)
	case s.status != shardInactive:
		s.c.log.Info("no longer leading share state partition: its share-partitions moved", "partition", s.index)
		s.unloadLocked()
	}
}

func (s *stateShard) unloadLocked() {
	s.gen++
	s.state, s.leaderEpochs = nil, nil
	s.status = shardInactive
}

// partitionWait bounds how long a load waits for its partition to open
// (the image naming this broker the leader can be seen before the
// partitions applied it).
const partitionWait = 10 * time.Second

func (s *stateShard) beginLoadLocked(epoch int32) {
	s.gen++
	gen := s.gen
	s.epoch, s.status = epoch, shardLoading
	ready := make(chan struct{})
	s.ready = ready
	s.c.wg.Add(1)
	go func() {
		defer s.c.wg.Done()
		defer close(ready)
		s.load(gen)
	}()
}

func (s *stateShard) load(gen uint64) {
	var l StateLog
	deadline := time.Now().Add(partitionWait)
	for {
		if l = s.c.be.StateLog(s.index); l != nil || time.Now().After(deadline) {
			break
		}
		s.mu.Lock()
		moved := s.gen != gen
		s.mu.Unlock()
		if moved {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	var state map[key]entry
	var err error = errNoStateTopic
	if l != nil {
		state, err = replayState(l, s.c.log, s.index)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if err != nil {
		s.c.log.Error("load share state partition", "partition", s.index, "err", err)
		s.status = shardFailed
		return
	}
	s.state, s.leaderEpochs, s.status = state, map[key]int32{}, shardActive
	for k, e := range state {
		s.leaderEpochs[k] = e.snap.leaderEpoch
	}
	if len(state) > 0 {
		s.c.log.Info("loaded share state partition", "partition", s.index, "share_partitions", len(state))
	}
}

// replayState reads a state partition: the last record of a key wins, a
// tombstone removes it; an unreadable batch is skipped (logged).
func replayState(l StateLog, log logger, index int32) (map[key]entry, error) {
	found := map[key]entry{}
	err := l.Replay(func(batch []byte) error {
		h, err := record.ParseHeader(batch)
		if err != nil || h.IsControl() {
			return err
		}
		next := h.BaseOffset + int64(h.LastOffsetDelta) + 1
		if err := record.Records(batch, func(r *record.Record) error {
			k, ok, err := decodeKey(r.Key)
			if err != nil || !ok {
				return err
			}
			if r.Value == nil {
				delete(found, k)
				return nil
			}
			s, err := decodeSnapshot(r.Value)
			if err != nil {
				return err
			}
			found[k] = entry{snap: s, next: next}
			return nil
		}); err != nil {
			log.Error("skipping unreadable batch in share state partition", "partition", index, "offset", h.BaseOffset, "err", err)
		}
		return nil
	})
	return found, err
}

// shardWait is how long a local call waits for a load in progress; a
// remote caller gets COORDINATOR_LOAD_IN_PROGRESS after it and retries.
const shardWait = 5 * time.Second

// shardOf returns k's shard locked and active, or the code to answer.
func (c *Coordinator) shardOf(k key) (*stateShard, int16) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if c.standalone && c.shards == nil {
		n := c.be.StatePartitions()
		if n == 0 {
			c.mu.Unlock()
			return nil, kerr.CoordinatorNotAvailable.Code
		}
		c.shards = make([]*stateShard, n)
		for i := range c.shards {
			c.shards[i] = &stateShard{c: c, index: int32(i)}
		}
	}
	if len(c.shards) == 0 {
		c.mu.Unlock()
		return nil, kerr.NotCoordinator.Code
	}
	s := c.shards[statePartition(k, int32(len(c.shards)))]
	standalone := c.standalone
	c.mu.Unlock()
	deadline := time.Now().Add(shardWait)
	for {
		s.mu.Lock()
		switch s.status {
		case shardActive:
			return s, 0
		case shardInactive, shardFailed:
			if !standalone {
				code := kerr.NotCoordinator.Code
				if s.status == shardFailed {
					code = kerr.CoordinatorNotAvailable.Code
				}
				s.mu.Unlock()
				return nil, code
			}
			s.beginLoadLocked(0) // standalone: (re)load on first use
		}
		ready := s.ready
		s.mu.Unlock()
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ready:
			t.Stop()
		case <-t.C:
			return nil, kerr.CoordinatorLoadInProgress.Code
		}
		s.mu.Lock()
		failed := s.status == shardFailed
		s.mu.Unlock()
		if failed {
			return nil, kerr.CoordinatorNotAvailable.Code
		}
	}
}

// Summary is a share-partition's state as ReadShareGroupStateSummary
// reports it.
type Summary struct {
	StateEpoch, LeaderEpoch int32
	StartOffset             int64 // -1: no state
	DeliveryComplete        int32 // in-flight records Acknowledged or Archived
}

// read returns k's snapshot (found false: no state, start offset -1),
// fencing a reader whose leader epoch is older than one seen before and
// remembering the reader's (Kafka's ReadShareGroupState).
func (c *Coordinator) read(k key, leaderEpoch int32) (snapshot, bool, int16) {
	s, code := c.shardOf(k)
	if code != 0 {
		return snapshot{}, false, code
	}
	defer s.mu.Unlock()
	if e, ok := s.leaderEpochs[k]; ok && e > leaderEpoch {
		return snapshot{}, false, kerr.FencedLeaderEpoch.Code
	}
	s.leaderEpochs[k] = leaderEpoch
	e, ok := s.state[k]
	return e.snap, ok, 0
}

// summary returns k's state without fencing anything.
func (c *Coordinator) summary(k key) (Summary, int16) {
	s, code := c.shardOf(k)
	if code != 0 {
		return Summary{StartOffset: -1, LeaderEpoch: -1}, code
	}
	defer s.mu.Unlock()
	e, ok := s.state[k]
	if !ok {
		return Summary{StartOffset: -1, LeaderEpoch: -1}, 0
	}
	return summarize(e.snap), 0
}

func summarize(sn snapshot) Summary {
	out := Summary{StateEpoch: sn.stateEpoch, LeaderEpoch: sn.leaderEpoch, StartOffset: sn.startOffset}
	for _, b := range sn.batches {
		if b.state == stateAcknowledged || b.state == stateArchived {
			out.DeliveryComplete += int32(b.last - b.first + 1)
		}
	}
	return out
}

// write stores sn as k's state after the fencing checks of Kafka's
// WriteShareGroupState (FENCED_LEADER_EPOCH, FENCED_STATE_EPOCH) and
// returns the wait for its durability.
func (c *Coordinator) write(k key, sn snapshot) (func() error, int16) {
	s, code := c.shardOf(k)
	if code != 0 {
		return nil, code
	}
	defer s.mu.Unlock()
	if e, ok := s.leaderEpochs[k]; ok && e > sn.leaderEpoch {
		return nil, kerr.FencedLeaderEpoch.Code
	}
	if e, ok := s.state[k]; ok && e.snap.stateEpoch > sn.stateEpoch {
		return nil, kerr.FencedStateEpoch.Code
	}
	return s.appendLocked(k, &sn)
}

// initialize makes k's state start at start with state epoch stateEpoch
// and nothing in flight (Kafka's InitializeShareGroupState: a state epoch
// not above the current one is FENCED_STATE_EPOCH).
func (c *Coordinator) initialize(k key, stateEpoch int32, start int64) (func() error, int16) {
	s, code := c.shardOf(k)
	if code != 0 {
		return nil, code
	}
	defer s.mu.Unlock()
	if e, ok := s.state[k]; ok && e.snap.stateEpoch >= stateEpoch {
		return nil, kerr.FencedStateEpoch.Code
	}
	return s.appendLocked(k, &snapshot{stateEpoch: stateEpoch, leaderEpoch: -1, startOffset: start})
}

// remove writes a tombstone for k when it has state.
func (c *Coordinator) remove(k key) (func() error, int16) {
	s, code := c.shardOf(k)
	if code != 0 {
		return nil, code
	}
	defer s.mu.Unlock()
	if _, ok := s.state[k]; !ok {
		return func() error { return nil }, 0
	}
	return s.appendLocked(k, nil)
}

// keys lists the keys with state that match, in the shards this broker
// leads (waiting a little for those still loading).
func (c *Coordinator) keys(match func(key) bool) []key {
	c.mu.Lock()
	ss := append([]*stateShard(nil), c.shards...)
	c.mu.Unlock()
	var out []key
	deadline := time.Now().Add(shardWait)
	for _, s := range ss {
		s.mu.Lock()
		if s.status == shardLoading {
			// Loading (this broker just became its leader, or just
			// started): its keys count too.
			ready := s.ready
			s.mu.Unlock()
			t := time.NewTimer(max(time.Until(deadline), 0))
			select {
			case <-ready:
			case <-t.C:
			}
			t.Stop()
			s.mu.Lock()
		}
		for k := range s.state {
			if match(k) {
				out = append(out, k)
			}
		}
		s.mu.Unlock()
	}
	return out
}

// appendLocked appends k's record (a tombstone for nil) and installs it;
// the wait makes it durable, and a failed commit reloads the shard, so
// its map never keeps a state the log may not have.
func (s *stateShard) appendLocked(k key, sn *snapshot) (func() error, int16) {
	l := s.c.be.StateLog(s.index)
	if l == nil {
		return nil, kerr.NotCoordinator.Code
	}
	var value []byte
	now := s.c.now()
	if sn != nil {
		value = encodeSnapshot(*sn, now)
	}
	batch, err := record.Build(record.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: now.UnixMilli(), Records: []record.Record{{Key: encodeKey(k), Value: value}}})
	if err != nil {
		return nil, kerr.UnknownServerError.Code
	}
	next, err := l.Append(batch, 1)
	if err != nil {
		s.c.log.Error("append share state", "partition", s.index, "err", err)
		return nil, kerr.KafkaStorageError.Code
	}
	if sn == nil {
		delete(s.state, k)
	} else {
		s.state[k] = entry{snap: *sn, next: next}
		if e, ok := s.leaderEpochs[k]; !ok || sn.leaderEpoch > e {
			s.leaderEpochs[k] = sn.leaderEpoch
		}
	}
	gen := s.gen
	return func() error {
		err := l.Commit(next)
		if err != nil {
			s.mu.Lock()
			if s.gen == gen && s.status == shardActive {
				s.c.log.Error("commit share state: reloading the partition", "partition", s.index, "err", err)
				s.unloadLocked()
				s.beginLoadLocked(s.epoch)
			}
			s.mu.Unlock()
		}
		return err
	}, 0
}

// ---- the share-group state APIs (83-87) as the handlers call them ----

// StateBatch is a run of offsets with one persisted state and delivery
// count, as the state RPCs carry it.
type StateBatch struct {
	First, Last int64
	State       int8
	Count       int16
}

// PartitionState is one share-partition's persisted state.
type PartitionState struct {
	StateEpoch, LeaderEpoch int32
	StartOffset             int64 // -1: no state
	Batches                 []StateBatch
}

func toSnapshot(ps PartitionState) snapshot {
	sn := snapshot{stateEpoch: ps.StateEpoch, leaderEpoch: ps.LeaderEpoch, startOffset: ps.StartOffset}
	for _, b := range ps.Batches {
		sn.batches = append(sn.batches, stateBatch{b.First, b.Last, b.State, b.Count})
	}
	return sn
}

// waitCode waits for wait (when code is 0) and reports a failed commit as
// KAFKA_STORAGE_ERROR: nothing is answered before it is durable.
func waitCode(wait func() error, code int16) int16 {
	if code != 0 {
		return code
	}
	if wait() != nil {
		return kerr.KafkaStorageError.Code
	}
	return 0
}

// Read is ReadShareGroupState for one share-partition.
func (c *Coordinator) Read(group string, topicID [16]byte, p, leaderEpoch int32) (PartitionState, int16) {
	sn, found, code := c.read(key{group, topicID, p}, leaderEpoch)
	if code != 0 || !found {
		return PartitionState{StartOffset: -1, LeaderEpoch: -1}, code
	}
	out := PartitionState{StateEpoch: sn.stateEpoch, LeaderEpoch: sn.leaderEpoch, StartOffset: sn.startOffset}
	for _, b := range sn.batches {
		out.Batches = append(out.Batches, StateBatch{b.first, b.last, b.state, b.count})
	}
	return out, 0
}

// Write is WriteShareGroupState for one share-partition: ps replaces the
// state (Sluice's persister always sends the full state), durably. State
// that would not load back (batches out of order, below the start
// offset, an unknown delivery state) is INVALID_REQUEST.
func (c *Coordinator) Write(group string, topicID [16]byte, p int32, ps PartitionState) int16 {
	sn := toSnapshot(ps)
	if _, err := decodeSnapshot(encodeSnapshot(sn, time.Time{})); err != nil {
		return kerr.InvalidRequest.Code
	}
	return waitCode(c.write(key{group, topicID, p}, sn))
}

// Initialize is InitializeShareGroupState for one share-partition.
func (c *Coordinator) Initialize(group string, topicID [16]byte, p, stateEpoch int32, start int64) int16 {
	if start < 0 {
		return kerr.InvalidRequest.Code
	}
	return waitCode(c.initialize(key{group, topicID, p}, stateEpoch, start))
}

// Delete is DeleteShareGroupState for one share-partition.
func (c *Coordinator) Delete(group string, topicID [16]byte, p int32) int16 {
	return waitCode(c.remove(key{group, topicID, p}))
}

// Summary is ReadShareGroupStateSummary for one share-partition.
func (c *Coordinator) Summary(group string, topicID [16]byte, p int32) (Summary, int16) {
	return c.summary(key{group, topicID, p})
}
