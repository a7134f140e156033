package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// The follower's side of a partition: what the fetcher (fetcher.go) does
// with the batches its leader sent. A follower never serves clients (the
// handlers' leadership check, api/leader.go, answers NOT_LEADER_OR_FOLLOWER)
// and never assigns offsets: its log is the leader's, byte for byte.

// AppendReplica appends batches fetched from the leader with the leader's
// offsets and leader epochs (log.AppendReplica: base >= LEO, gaps allowed),
// starts each new epoch in the epoch cache and applies the producer state
// without sequence checks (the leader made them), all under appendMu as
// every append. Each batch's CRC is checked first: a corrupt batch is
// never written. The records are not durable until SyncReplica.
func (p *Partition) AppendReplica(batches []byte) (log.AppendInfo, error) {
	if err := checkCRCs(batches); err != nil {
		return log.AppendInfo{}, err
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.appendReplicaLocked(batches)
}

// errNotFollowing: the partition's role changed after a replica fetch was
// built (this broker leads it now, or follows it in another leader epoch),
// so that fetch's answer is stale and must not touch the log.
var errNotFollowing = errors.New("replica: no longer following the partition in the fetch's leader epoch")

// followingLocked reports errNotFollowing unless this broker follows the
// partition in leaderEpoch. Caller holds appendMu: followImage changes the
// role under it too, so the answer holds until the caller releases it.
//
// INVARIANT: a leader's log is changed only by its own appends. The
// fetcher is taken off a partition only after the image made this broker
// its leader (Manager.followLocked runs after followImage), so an answer
// of the old leader can arrive in between; appended, it would put an old
// epoch's batches after the new epoch's start in the epoch cache, and a
// truncation would cut records the new leader is answering for.
func (p *Partition) followingLocked(leaderEpoch int32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role.leader == p.role.self || p.role.leaderEpoch != leaderEpoch {
		return errNotFollowing
	}
	return nil
}

// appendReplicaIn is AppendReplica for the fetcher: only while this
// broker still follows the partition in leaderEpoch (followingLocked).
func (p *Partition) appendReplicaIn(leaderEpoch int32, batches []byte) (log.AppendInfo, error) {
	if err := checkCRCs(batches); err != nil {
		return log.AppendInfo{}, err
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if err := p.followingLocked(leaderEpoch); err != nil {
		return log.AppendInfo{}, err
	}
	return p.appendReplicaLocked(batches)
}

// checkCRCs checks every batch's CRC: a corrupt batch is never written.
func checkCRCs(batches []byte) error {
	err := record.Split(batches, func(h record.Header, b []byte) error {
		if err := record.CheckCRC(b); err != nil {
			return fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replica append: %w", err)
	}
	return nil
}

func (p *Partition) appendReplicaLocked(batches []byte) (log.AppendInfo, error) {
	if err := p.offlineErr(); err != nil {
		return log.AppendInfo{}, err
	}
	base := p.log.ActiveBase()
	info, err := p.log.AppendReplica(batches)
	if err != nil {
		return info, p.noteStorage(err)
	}
	if nb := p.log.ActiveBase(); nb != base && nb == info.FirstOffset {
		p.writeSnapshot(nb)
	}
	p.psMu.Lock()
	p.ps.nowMs = time.Now().UnixMilli()
	var epochErr error
	_ = record.Split(batches, func(h record.Header, b []byte) error {
		// Assign ignores an epoch the cache already has (or an older
		// one), so only the first batch of each new epoch adds an entry.
		if e := h.PartitionLeaderEpoch; e >= 0 && epochErr == nil {
			epochErr = p.epochs.Assign(e, h.BaseOffset)
		}
		p.ps.apply(&h, h.BaseOffset, h.LastOffset(), controlOf(&h, b))
		return nil
	})
	p.psMu.Unlock()
	if epochErr != nil {
		p.logger().Error("write leader-epoch-checkpoint", "err", epochErr)
	}
	return info, nil
}

// SyncReplica makes everything appended durable (group commit). The
// fetcher calls it before its next fetch: the offset that fetch names is
// what the leader counts toward the HW, so it must be on disk.
func (p *Partition) SyncReplica() error {
	if err := p.log.Sync(p.log.EndOffset()); err != nil {
		return p.noteStorage(err)
	}
	return nil
}

// FollowLeader applies the leader's HW and log start offset from a fetch
// response: the follower's HW is min(leader HW, own durable LEO), never
// back; its log start moves up to the leader's (not past its own HW).
func (p *Partition) FollowLeader(leaderHW, leaderStart int64) error {
	own := min(leaderHW, p.log.DurableOffset())
	p.mu.Lock()
	var ws map[chan struct{}]struct{}
	if own > p.hw {
		p.hw = own
		ws = p.waiters
		p.waiters = nil
	}
	hw := p.hw
	p.mu.Unlock()
	p.wake(ws)
	if start := min(leaderStart, hw); start > p.log.StartOffset() {
		if err := p.log.DeleteRecordsBefore(start); err != nil {
			return p.noteStorage(err)
		}
		if err := p.epochs.TruncateFromStart(start); err != nil {
			p.logger().Error("write leader-epoch-checkpoint", "err", err)
		}
	}
	return nil
}

// FetchPosition is where the follower fetches next: its LEO, made durable
// first if it is not (after an open without recovery fsyncs), so the
// offset the leader records is always durable here. lastEpoch is the
// newest epoch in the cache (-1: none), the fetch's LastFetchedEpoch.
func (p *Partition) FetchPosition() (offset int64, lastEpoch int32, logStart int64, err error) {
	end := p.log.EndOffset()
	if p.log.DurableOffset() < end {
		if err := p.SyncReplica(); err != nil {
			return 0, -1, 0, err
		}
	}
	return end, p.epochs.Latest(), p.log.StartOffset(), nil
}
