package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/record"
)

// InternalLog is a partition of an internal topic (__consumer_offsets,
// __share_group_state, __transaction_state) as a coordinator uses it:
// append one batch, wait until it is committed, replay everything at load.
//
// Coordinators load to the log end and gate on the HW (Kafka's
// CoordinatorLoader and its acks=all appends):
//   - Replay reads to the LEO, not the HW. A coordinator starts on the new
//     leader of its partition, whose HW lags by a fetch round (the ISR has
//     not fetched from it yet, or it reopened at a checkpointed HW): the
//     records below its LEO are the state the partition will commit, since
//     a leader never truncates its own log, and a coordinator that stopped
//     at the HW would forget offsets and transactions its predecessor had
//     already answered for.
//   - Commit answers a coordinator's own write only once the HW covers it:
//     with more than one replica that is acks=all (every ISR member holds
//     it, and the ISR is at least min.insync.replicas); with one replica
//     it is the local fsync, as before.
//
// INVARIANT: a coordinator answers a write only once it survives the loss
// of the leader (or of the disk cache, with one replica).
type InternalLog struct {
	P *Partition
	// Timeout bounds Commit's wait for the ISR (offsets.commit.timeout.ms;
	// 0: defaultCommitTimeout).
	Timeout time.Duration
}

// defaultCommitTimeout is Kafka's offsets.commit.timeout.ms default.
const defaultCommitTimeout = 5 * time.Second

// Append writes one record batch and returns the offset after it.
func (l InternalLog) Append(batch []byte, records int64) (next int64, err error) {
	info, err := l.P.Append(batch, records)
	if err != nil {
		return 0, err
	}
	return info.LastOffset + 1, nil
}

// Commit waits until every offset below upTo is durable here and, when
// the partition has other replicas, until the HW covers it with at least
// min.insync.replicas in the ISR. Errors: the storage error of the local
// fsync, ErrNotLeader (leadership moved: the coordinator is elsewhere
// now), ErrNotEnoughReplicasAfterAppend, ErrReplicationTimeout.
func (l InternalLog) Commit(upTo int64) error {
	return CommitReplicated(l.P, upTo, l.Timeout)
}

// CommitReplicated is Commit for any partition the broker writes itself
// (coordinator records, transaction markers): fsync, then with more than
// one replica the wait for the HW (acks=all). A timeout <= 0 is
// defaultCommitTimeout.
func CommitReplicated(p *Partition, upTo int64, timeout time.Duration) error {
	if err := p.Commit(upTo); err != nil {
		return err
	}
	if p.replicaCount() <= 1 {
		return nil // the fsync moved the HW: a single node as before
	}
	if timeout <= 0 {
		timeout = defaultCommitTimeout
	}
	return p.AwaitReplicated(upTo, int(p.Config().MinInsyncReplicas), timeout, nil)
}

// replicaCount is the size of the replica set the image gives the
// partition (0 before the first image).
func (p *Partition) replicaCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.role.replicas)
}

// replayChunk bounds one read while replaying (a larger batch is still
// returned whole).
const replayChunk = 1 << 20

// Replay calls fn with each batch from the log start to the log end
// (LEO), in offset order: see InternalLog for why not only to the HW.
// Local durability is not in question: a leader's log was recovered or
// fsynced before it is replayed (the coordinator starts after open), and
// on a single replica HW = LEO at open anyway.
func (l InternalLog) Replay(fn func(batch []byte) error) error {
	p := l.P
	off := p.LogStartOffset()
	var buf []byte
	for off < p.log.EndOffset() {
		rr, err := p.ReadReplica(off, replayChunk)
		if errors.Is(err, ErrCorrupt) {
			// Coordinators skip unreadable batches; this damage the
			// scrubber already found.
			if next, ok := p.corruptEnd(off); ok {
				p.logger().Error("replay skips records the scrubber found damaged", "from", off, "to", next)
				off = next
				continue
			}
		}
		if err != nil {
			return err
		}
		buf, err = rr.ReadAll(buf[:0])
		rr.Release()
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			return nil
		}
		next := off
		if err := record.Split(buf, func(h record.Header, batch []byte) error {
			next = h.LastOffset() + 1
			return fn(batch)
		}); err != nil {
			return err
		}
		if next <= off {
			return fmt.Errorf("replay of %s-%d made no progress at offset %d", p.Topic, p.Index, off)
		}
		off = next
	}
	return nil
}

// InternalLog returns the hosted partition i of an internal topic as its
// coordinator uses it, with offsets.commit.timeout.ms as the bound of its
// commits' wait for the ISR; ok is false when it is not hosted here.
func (m *Manager) InternalLog(topic string, i int32) (l InternalLog, ok bool) {
	p := m.Get(topic, i)
	if p == nil {
		return InternalLog{}, false
	}
	return InternalLog{P: p, Timeout: m.broker.OffsetsCommitTimeout()}, true
}
