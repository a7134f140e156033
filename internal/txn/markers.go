package txn

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/replica"
)

// Completing a transaction (see the package doc, "Ending a
// transaction"): once Prepare is durable, a marker job writes the
// transaction's markers to each partition's current leader (this broker's
// own partitions directly, the others' through WriteTxnMarkers), retrying
// what fails, then writes Complete. A marker in a __consumer_offsets
// partition completes the transaction's offsets there: the group
// coordinator is told once it is durable (here for this broker's
// partitions, in the WriteTxnMarkers handler for the others). The job
// holds no lock while it sends; it takes the shard's lock only to write
// Complete, and only if the shard is still the one (same load) and the
// transaction still the one it started for.

// Marker retry backoff (Kafka retries a marker to a partition whose
// leader is unknown or moved once the metadata changes; we poll the image).
const (
	markerBackoffMin = 50 * time.Millisecond
	markerBackoffMax = time.Second
)

// markerJob completes one prepared transaction.
type markerJob struct {
	s          *shard
	gen        uint64
	ctx        context.Context // the shard load's: cancelled when it unloads
	id         string
	pid        int64
	epoch      int16
	commit     bool
	coordEpoch int32
	parts      []tp
	offsets    map[string][]kmsg.TxnOffsetCommitRequestTopic
	hook       bool // run TestHookAfterPrepare first
	// local: every marker goes to this broker's own partitions, so a
	// request may wait for the job instead of answering
	// CONCURRENT_TRANSACTIONS (Coordinator.awaitLocal).
	local  bool
	warned atomic.Bool
	done   chan struct{} // closed when the job ends, completed or not
}

// startJob returns the running completion of m, starting one if none
// runs. Caller holds mu; the shard is active and m prepared.
func (s *shard) startJob(m *txnMeta, hook bool) *markerJob {
	if j := s.jobs[m.id]; j != nil {
		return j
	}
	j := &markerJob{s: s, gen: s.gen, ctx: s.ctx, id: m.id, pid: m.pid, epoch: m.epoch,
		commit: m.state == kmsg.TransactionStatePrepareCommit, coordEpoch: s.epoch,
		offsets: maps.Clone(m.offsets), hook: hook, done: make(chan struct{})}
	for p := range m.parts {
		// __consumer_offsets partitions too: their markers complete the
		// transaction's offsets there (the group coordinator's
		// CompleteTxn).
		j.parts = append(j.parts, p)
	}
	j.local = s.c.allLocal(j.parts)
	s.jobs[m.id] = j
	s.c.wg.Add(1)
	go func() {
		defer s.c.wg.Done()
		defer close(j.done)
		j.run()
	}()
	return j
}

// allLocal reports whether every partition is led by this broker (or
// there are no other brokers to reach).
func (c *Coordinator) allLocal(parts []tp) bool {
	if c.peers == nil {
		return true
	}
	img := c.meta.Image()
	for _, p := range parts {
		t, ok := img.Topic(p.topic)
		if ok && p.partition >= 0 && int(p.partition) < len(t.Partitions) && t.Partitions[p.partition].Leader != c.cfg.NodeID {
			return false
		}
	}
	return true
}

func (j *markerJob) run() {
	c := j.s.c
	if h := TestHookAfterPrepare.Load(); j.hook && h != nil {
		if err := (*h)(j.id); err != nil {
			c.log.Warn("transaction completion stopped after prepare", "transactional_id", j.id, "err", err)
			j.forget()
			return
		}
	}
	backoff := markerBackoffMin
	pending := j.parts
	for len(pending) > 0 {
		var abort bool
		if pending, abort = j.send(pending); abort {
			j.forget()
			return
		}
		if len(pending) > 0 && !j.sleep(&backoff) {
			return
		}
	}
	if j.commit && c.groups != nil {
		// Offsets an older Sluice kept in __transaction_state (legacy.go).
		for group, topics := range j.offsets {
			for {
				err := c.groups.CommitLegacyTxnOffsets(group, topics)
				if err == nil {
					break
				}
				j.warn("commit transaction offsets", "group", group, "err", err)
				if !j.sleep(&backoff) {
					return
				}
			}
		}
	}
	for !j.writeComplete() {
		if !j.sleep(&backoff) {
			return
		}
	}
}

// sleep waits out the backoff (doubling it), or reports false when the
// shard unloaded.
func (j *markerJob) sleep(backoff *time.Duration) bool {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	*backoff = min(2**backoff, markerBackoffMax)
	select {
	case <-j.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// warn logs a job's first failure as a warning, later ones at debug.
func (j *markerJob) warn(msg string, args ...any) {
	args = append(args, "transactional_id", j.id, "producer_id", j.pid, "epoch", j.epoch)
	if !j.warned.Swap(true) {
		j.s.c.log.Warn(msg+" (retrying)", args...)
		return
	}
	j.s.c.log.Debug(msg+" (retrying)", args...)
}

// forget removes the job from its shard without completing the
// transaction: it stays prepared until the timeout checker, a request or
// the next load starts another job.
func (j *markerJob) forget() {
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == j.gen && s.jobs[j.id] == j {
		delete(s.jobs, j.id)
	}
}

// writeComplete writes Complete (and tombstones the pending offsets) if
// the shard and the transaction are still the job's. It reports false
// when the write failed and should be retried.
func (j *markerJob) writeComplete() bool {
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != j.gen || s.status != shardActive {
		return true // unloaded: the next leader completes it
	}
	if m := s.txns[j.id]; m != nil && m.pid == j.pid && m.epoch == j.epoch && m.prepared() &&
		(m.state == kmsg.TransactionStatePrepareCommit) == j.commit {
		n := s.completed(m)
		if code := s.persist(n, legacyTombstones(m)...); code != 0 {
			j.warn("write transaction completion", "err", kerr.ErrorForCode(code))
			return false
		}
		s.txns[j.id] = n
	}
	if s.jobs[j.id] == j {
		delete(s.jobs, j.id)
	}
	return true
}

// send writes the markers of pending to their leaders once and returns
// the partitions to try again; abort means a newer coordinator took over
// (TRANSACTION_COORDINATOR_FENCED): this job must stop.
func (j *markerJob) send(pending []tp) (retry []tp, abort bool) {
	c := j.s.c
	img := c.meta.Image()
	byLeader := map[int32][]tp{}
	for _, p := range pending {
		t, ok := img.Topic(p.topic)
		if !ok || p.partition < 0 || int(p.partition) >= len(t.Partitions) {
			continue // deleted meanwhile: nothing to mark (as Kafka)
		}
		l := t.Partitions[p.partition].Leader
		if l < 0 {
			j.warn("no leader for marker", "topic", p.topic, "partition", p.partition)
			retry = append(retry, p)
			continue
		}
		if c.peers == nil {
			l = c.cfg.NodeID
		}
		byLeader[l] = append(byLeader[l], p)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for leader, ps := range byLeader {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r []tp
			var a bool
			if leader == c.cfg.NodeID {
				r, a = j.writeLocal(ps)
			} else {
				r, a = j.writeRemote(leader, ps)
			}
			mu.Lock()
			retry, abort = append(retry, r...), abort || a
			mu.Unlock()
		}()
	}
	wg.Wait()
	return retry, abort
}

// markerCode classifies a partition's answer to a marker, as Kafka's
// marker handler does: done, retry (leader moving or unavailable), or
// abort (a newer coordinator epoch wrote there).
func (j *markerJob) markerCode(p tp, code int16) (retry, abort bool) {
	switch code {
	case 0:
		return false, false
	case kerr.InvalidProducerEpoch.Code:
		// A newer epoch of the producer already wrote there: its
		// transactions are decided past this one.
		j.s.c.log.Warn("marker refused: the producer has a newer epoch", "topic", p.topic, "partition", p.partition,
			"transactional_id", j.id, "producer_id", j.pid, "epoch", j.epoch)
		return false, false
	case kerr.TransactionCoordinatorFenced.Code:
		j.s.c.log.Warn("marker refused: a newer transaction coordinator wrote there", "topic", p.topic, "partition", p.partition,
			"transactional_id", j.id, "coordinator_epoch", j.coordEpoch)
		return false, true
	}
	j.warn("write marker", "topic", p.topic, "partition", p.partition, "err", kerr.ErrorForCode(code))
	return true, false
}

// writeLocal appends the markers to this broker's partitions.
func (j *markerJob) writeLocal(ps []tp) (retry []tp, abort bool) {
	c := j.s.c
	for _, p := range ps {
		part := c.parts.Get(p.topic, p.partition)
		if part == nil {
			j.warn("marker partition not open here", "topic", p.topic, "partition", p.partition)
			retry = append(retry, p)
			continue
		}
		upTo, err := part.AppendMarker(j.pid, j.epoch, j.commit, j.coordEpoch)
		if err == nil {
			// As Kafka's markers, acks=all: on the ISR before Complete.
			err = replica.CommitReplicated(part, upTo, c.cfg.RequestTimeout)
		}
		if err == nil && p.topic == OffsetsTopic && c.groups != nil {
			// Durable: the group coordinator may now complete the
			// transaction's offsets in that partition.
			c.groups.CompleteTxn(p.partition, j.pid, j.commit, upTo-1)
		}
		code := int16(0)
		var perr *replica.ProduceError
		switch {
		case errors.As(err, &perr):
			code = perr.Err.Code
		case err != nil:
			code = replicatedCode(err)
		}
		r, a := j.markerCode(p, code)
		if r {
			retry = append(retry, p)
		}
		abort = abort || a
	}
	return retry, abort
}

// writeRemote sends the markers for ps to their leader as one
// WriteTxnMarkers request.
func (j *markerJob) writeRemote(leader int32, ps []tp) (retry []tp, abort bool) {
	c := j.s.c
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = j.pid, j.epoch, j.commit, j.coordEpoch
	idx := map[string]int{}
	for _, p := range ps {
		i, ok := idx[p.topic]
		if !ok {
			i = len(m.Topics)
			idx[p.topic] = i
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = p.topic
			m.Topics = append(m.Topics, t)
		}
		m.Topics[i].Partitions = append(m.Topics[i].Partitions, p.partition)
	}
	req.Markers = append(req.Markers, m)
	ctx, cancel := context.WithTimeout(j.ctx, c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.peers.Request(ctx, leader, req)
	if err != nil {
		if j.ctx.Err() == nil {
			j.warn("send markers", "broker", leader, "err", err)
		}
		return ps, false
	}
	answered := map[tp]bool{}
	for _, rm := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		if rm.ProducerID != j.pid {
			continue
		}
		for _, t := range rm.Topics {
			for _, rp := range t.Partitions {
				p := tp{t.Topic, rp.Partition}
				answered[p] = true
				r, a := j.markerCode(p, rp.ErrorCode)
				if r {
					retry = append(retry, p)
				}
				abort = abort || a
			}
		}
	}
	for _, p := range ps {
		if !answered[p] {
			retry = append(retry, p)
		}
	}
	return retry, abort
}

// replicatedCode is the Kafka code of a marker write that failed after
// the append, as the produce path answers it: leadership moved, the ISR
// shrank below min.insync.replicas, the ISR did not copy it in time, or
// the storage failed.
func replicatedCode(err error) int16 {
	switch {
	case errors.Is(err, replica.ErrNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, replica.ErrNotEnoughReplicasAfterAppend):
		return kerr.NotEnoughReplicasAfterAppend.Code
	case errors.Is(err, replica.ErrReplicationTimeout):
		return kerr.RequestTimedOut.Code
	}
	return kerr.KafkaStorageError.Code
}
