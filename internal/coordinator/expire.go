package coordinator

import (
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/record"
)

// Offset retention, Kafka 2.1+ semantics (KIP-211): an offset expires
// offsets.retention.minutes after
//   - the group became Empty, for a group that had members;
//   - its commit, for a simple (offsets-only) group, and for offsets of
//     topics a Stable consumer group no longer subscribes to;
//
// or at the expire timestamp an old client asked for (commit v2-v4
// retention). An offset with a commit in flight never expires. A group left
// Empty with no offsets is deleted. Every removal is a tombstone.

func (s *shard) scheduleExpiry() {
	s.expiry.stop()
	s.expiry = s.after(s.c.cfg.RetentionCheckInterval, func() {
		s.expireOffsets(s.c.clock.Now())
		s.scheduleExpiry()
	})
}

// expireOffsets removes what retention allows at now.
func (s *shard) expireOffsets(now time.Time) {
	retention := s.c.cfg.OffsetsRetention
	var recs []record.Record
	type expired struct {
		g   *group
		tps []tp
	}
	var done []expired
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[id]
		base, ok := g.expirationBase()
		var gone []tp
		if ok {
			for _, t := range slices.SortedFunc(maps.Keys(g.offsets), compareTP) {
				o := g.offsets[t]
				if g.pendingCommits[t] > 0 {
					continue
				}
				if (g.state == stateStable || g.cg != nil && !g.isEmpty()) && g.isSubscribedTo(t.topic) {
					continue
				}
				if o.expired(now, base, retention) {
					gone = append(gone, t)
					recs = append(recs, record.Record{Key: offsetKey(g.id, t)})
				}
			}
		}
		if len(gone) > 0 {
			done = append(done, expired{g, gone})
			s.log.Info("expiring offsets", "group", g.id, "offsets", len(gone))
		}
		if g.state == stateEmpty && g.isEmpty() && len(g.members) == 0 && len(g.pending) == 0 &&
			len(g.pendingCommits) == 0 && len(gone) == len(g.offsets) {
			// Nothing left: the group goes too.
			if g.cg != nil {
				recs = append(recs, record.Record{Key: consumerGroupKey(g.id)})
			}
			recs = append(recs, record.Record{Key: groupKey(g.id)})
			g.stopAll(kerr.CoordinatorNotAvailable.Code)
			g.transition(s, stateDead)
			delete(s.groups, g.id)
			s.log.Info("removing empty group", "group", g.id)
		}
	}
	if len(recs) == 0 {
		return
	}
	s.write(recs, func(err error) {
		if err != nil {
			s.log.Warn("writing offset expiry tombstones failed", "err", err)
			return
		}
		for _, e := range done {
			for _, t := range e.tps {
				delete(e.g.offsets, t)
			}
		}
	})
}

// expirationBase says when retention starts counting for g's offsets:
// fixed (the time g became Empty) or per offset (zero time: its commit).
// ok is false when g's offsets must not expire now (a live group that is
// not a Stable consumer group, whose subscriptions cannot be told).
func (g *group) expirationBase() (base time.Time, ok bool) {
	switch {
	case g.cg != nil && len(g.cg.members) == 0:
		return g.cg.emptySince, true
	case g.cg != nil:
		return time.Time{}, true
	case g.protocolType == "":
		return time.Time{}, true
	case g.state == stateEmpty:
		return g.stateTime, true
	case g.state == stateStable && g.protocolType == "consumer" && g.subscribedKnown:
		return time.Time{}, true
	}
	return time.Time{}, false
}

func (o offset) expired(now, base time.Time, retention time.Duration) bool {
	if o.expireMs >= 0 {
		return now.UnixMilli() >= o.expireMs
	}
	from := o.commitMs
	if !base.IsZero() {
		from = base.UnixMilli()
	}
	return now.UnixMilli()-from >= retention.Milliseconds()
}
