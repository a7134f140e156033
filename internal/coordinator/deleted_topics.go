package coordinator

import (
	"maps"
	"slices"

	"github.com/sluice-io/sluice/internal/record"
)

// Committed offsets die with their topic, as in Kafka's
// onPartitionsDeleted: otherwise a topic deleted and created again under
// the same name would resume from the old topic's offsets and silently skip
// the new topic's first records.

// OnTopicsDeleted drops every group's committed offsets on the deleted
// topics and writes their tombstones. It only queues work on the shard
// loops, so it may be called from a metadata subscriber. Ops run in
// submission order, so this runs before any commit that arrives for a
// re-created topic of the same name.
func (c *Coordinator) OnTopicsDeleted(topics []string) {
	if len(topics) == 0 {
		return
	}
	for _, s := range c.allShards() {
		s.submit(op{run: func() {
			s.dropOffsets(func(t tp) bool { return slices.Contains(topics, t.topic) })
		}})
	}
}

// dropMissingTopicOffsets runs after a load: a crash between a topic's
// deletion and its tombstones leaves offsets of a topic that is gone.
func (s *shard) dropMissingTopicOffsets() {
	s.dropOffsets(func(t tp) bool { return !s.c.be.PartitionExists(t.topic, t.partition) })
}

// dropOffsets removes the offsets matching gone from memory at once (so no
// OffsetFetch sees them again) and writes their tombstones.
func (s *shard) dropOffsets(gone func(tp) bool) {
	var recs []record.Record
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[id]
		for _, t := range slices.SortedFunc(maps.Keys(g.offsets), compareTP) {
			if gone(t) {
				delete(g.offsets, t)
				recs = append(recs, record.Record{Key: offsetKey(g.id, t)})
			}
		}
	}
	if len(recs) == 0 {
		return
	}
	s.log.Info("dropping offsets of deleted topics", "offsets", len(recs))
	s.write(recs, func(err error) {
		if err != nil {
			s.log.Warn("writing tombstones for deleted topics failed", "err", err)
		}
	})
}
