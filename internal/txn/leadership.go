package txn

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
)

// Leadership (see the package doc): the coordinator follows the metadata
// image, and each shard serves while this broker leads its
// __transaction_state partition.

// OnImage hands the coordinator a new metadata image the partitions have
// applied. It never blocks: the shards follow it from the coordinator's
// own goroutine (a subscriber must not wait for anything that may wait
// for the metadata publisher).
func (c *Coordinator) OnImage(img *metadata.Image) {
	for {
		cur := c.latest.Load()
		if cur != nil && cur.Offset > img.Offset {
			return
		}
		if c.latest.CompareAndSwap(cur, img) {
			break
		}
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// follow makes the shards match the latest image: a shard loads when this
// broker leads its partition (again, at a new leader epoch) and unloads
// when another broker (or none) does.
func (c *Coordinator) follow() {
	c.followMu.Lock()
	defer c.followMu.Unlock()
	img := c.latest.Load()
	if img == nil || img == c.followed || c.closed.Load() {
		return
	}
	c.followed = img
	var old []*shard
	if p := c.shards.Load(); p != nil {
		old = *p
	}
	t, ok := img.Topic(StateTopic)
	if !ok || len(t.Partitions) != len(old) {
		// The topic appeared (or, which Kafka refuses, vanished or
		// changed its partition count: ids hash elsewhere now).
		for _, s := range old {
			s.mu.Lock()
			s.unloadLocked()
			s.mu.Unlock()
		}
		old = nil
		c.shards.Store(nil)
		if !ok {
			return
		}
		ss := make([]*shard, len(t.Partitions))
		for i := range ss {
			ss[i] = &shard{c: c, index: int32(i)}
		}
		c.shards.Store(&ss)
		old = ss
	}
	for i, p := range t.Partitions {
		old[i].follow(p.Leader == c.cfg.NodeID, p.LeaderEpoch)
	}
}

// retryFailedLoads lets a shard whose load failed try again.
func (c *Coordinator) retryFailedLoads() {
	retry := false
	for _, s := range c.loadedShards() {
		s.mu.Lock()
		if s.status == shardFailed {
			s.status, retry = shardInactive, true
		}
		s.mu.Unlock()
	}
	if retry {
		c.followMu.Lock()
		c.followed = nil
		c.followMu.Unlock()
		c.follow()
	}
}

// Locate names the broker coordinating a transactional id, for
// FindCoordinator: the leader of the id's __transaction_state partition,
// which is created on first need (as Kafka's FindCoordinator does). The
// code is COORDINATOR_NOT_AVAILABLE while the topic cannot be created or
// the partition has no leader.
func (c *Coordinator) Locate(id string) (leader int32, code int16) {
	if c.closed.Load() {
		return -1, kerr.CoordinatorNotAvailable.Code
	}
	if code := c.ensure(); code != 0 {
		return -1, code
	}
	t, ok := c.meta.Image().Topic(StateTopic)
	if !ok || len(t.Partitions) == 0 {
		return -1, kerr.CoordinatorNotAvailable.Code
	}
	l := t.Partitions[PartitionFor(id, int32(len(t.Partitions)))].Leader
	if l < 0 {
		return -1, kerr.CoordinatorNotAvailable.Code
	}
	return l, 0
}

// coordinatorOf is the leader of id's state partition in the current
// image: a node id, or -1 (no topic, no leader).
func (c *Coordinator) coordinatorOf(id string) int32 {
	t, ok := c.meta.Image().Topic(StateTopic)
	if !ok || len(t.Partitions) == 0 {
		return -1
	}
	return t.Partitions[PartitionFor(id, int32(len(t.Partitions)))].Leader
}

// shardStatus is where a shard stands with its partition.
type shardStatus uint8

const (
	shardInactive shardStatus = iota // another broker (or none) leads the partition: NOT_COORDINATOR
	shardLoading                     // replaying: COORDINATOR_LOAD_IN_PROGRESS
	shardActive                      // serving
	shardFailed                      // the replay failed: COORDINATOR_NOT_AVAILABLE until retried
	shardClosed                      // the coordinator closed
)

// follow makes the shard match its partition's leadership: load when
// this broker leads it (again, when the leader epoch changed), unload
// when it does not.
func (s *shard) follow(lead bool, epoch int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.status == shardClosed:
	case lead && s.status != shardInactive && s.epoch == epoch:
		// Still ours (a failed load is retried by the checker).
	case lead:
		if s.status != shardInactive {
			s.c.log.Info("transaction state partition has a new leader epoch: reloading", "partition", s.index, "leader_epoch", epoch)
			s.unloadLocked()
		}
		s.beginLoadLocked(epoch)
	case s.status != shardInactive:
		s.c.log.Info("no longer leading transaction state partition: its transactional ids move", "partition", s.index)
		s.unloadLocked()
	}
}

// unloadLocked drops the shard's state (the log keeps it for the next
// leader) and stops its marker jobs. Caller holds mu.
func (s *shard) unloadLocked() {
	s.gen++
	if s.cancel != nil {
		s.cancel()
	}
	s.ctx, s.cancel = nil, nil
	s.txns, s.jobs = nil, nil
	s.status = shardInactive
}

// beginLoadLocked starts replaying the partition at coordinator epoch
// epoch. Caller holds mu.
func (s *shard) beginLoadLocked(epoch int32) {
	s.gen++
	gen := s.gen
	s.epoch, s.status = epoch, shardLoading
	s.ctx, s.cancel = context.WithCancel(context.Background())
	ready := make(chan struct{})
	s.ready = ready
	s.c.log.Info("leading transaction state partition: loading its transactional ids", "partition", s.index, "leader_epoch", epoch)
	ctx := s.ctx
	s.c.wg.Add(1)
	go func() {
		defer s.c.wg.Done()
		defer close(ready)
		s.load(ctx, gen)
	}()
}

// partitionWait bounds how long a load waits for its partition to open
// (the image naming this broker the leader can be seen before the
// partitions applied it).
const partitionWait = 10 * time.Second

// load replays the partition without holding mu (requests get
// COORDINATOR_LOAD_IN_PROGRESS meanwhile; nothing writes the partition
// until the shard is active), then installs the state unless the shard
// moved on meanwhile, and restarts the completion of prepared
// transactions.
func (s *shard) load(ctx context.Context, gen uint64) {
	var p *replica.Partition
	deadline := time.Now().Add(partitionWait)
	for p = s.c.parts.Get(StateTopic, s.index); p == nil && time.Now().Before(deadline); p = s.c.parts.Get(StateTopic, s.index) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
	var txns map[string]*txnMeta
	err := errors.New("partition not hosted")
	if p != nil {
		txns, err = s.replayLog(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if err != nil {
		s.c.log.Error("load transaction state partition", "partition", s.index, "err", err)
		s.status = shardFailed
		return
	}
	s.txns, s.jobs, s.status = txns, map[string]*markerJob{}, shardActive
	s.c.log.Info("loaded transaction state partition", "partition", s.index, "leader_epoch", s.epoch, "transactional_ids", len(txns))
	for _, m := range txns {
		if m.prepared() {
			s.startJob(m, false)
		}
	}
}

// acquire locks the shard once it is active, waiting up to wait for a
// load in progress, or returns the code for the client.
func (s *shard) acquire(wait time.Duration) (*shard, int16) {
	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		switch s.status {
		case shardActive:
			return s, 0
		case shardInactive:
			s.mu.Unlock()
			return nil, kerr.NotCoordinator.Code
		case shardLoading:
		default:
			s.mu.Unlock()
			return nil, kerr.CoordinatorNotAvailable.Code
		}
		ready := s.ready
		s.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return nil, kerr.CoordinatorLoadInProgress.Code
		}
		t := time.NewTimer(left)
		select {
		case <-ready:
			t.Stop()
		case <-t.C:
			return nil, kerr.CoordinatorLoadInProgress.Code
		}
	}
}
