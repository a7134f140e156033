package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/txn"
)

// stableOffsets applies KIP-447 to an OffsetFetch answer: with
// require_stable (v7+), a partition whose group has offsets in a
// transaction that has not completed gets UNSTABLE_OFFSET_COMMIT (and no
// offset), so a consumer taking over the partition waits for that
// transaction instead of starting from the offset before it.
func stableOffsets(e *Env, r *kmsg.OffsetFetchRequest, ch <-chan *kmsg.OffsetFetchResponse) <-chan *kmsg.OffsetFetchResponse {
	if !r.RequireStable || e.Txn == nil {
		return ch
	}
	out := make(chan *kmsg.OffsetFetchResponse, 1)
	go func() {
		resp := <-ch
		unstable := kerr.UnstableOffsetCommit.Code
		if r.Version < 8 {
			pending := e.Txn.PendingOffsets(r.Group)
			for i := range resp.Topics {
				t := &resp.Topics[i]
				for j := range t.Partitions {
					p := &t.Partitions[j]
					if p.ErrorCode == 0 && pending[txn.TopicPartition{Topic: t.Topic, Partition: p.Partition}] {
						p.ErrorCode, p.Offset, p.LeaderEpoch, p.Metadata = unstable, -1, -1, nil
					}
				}
			}
		} else {
			for gi := range resp.Groups {
				g := &resp.Groups[gi]
				pending := e.Txn.PendingOffsets(g.Group)
				for i := range g.Topics {
					t := &g.Topics[i]
					for j := range t.Partitions {
						p := &t.Partitions[j]
						if p.ErrorCode == 0 && pending[txn.TopicPartition{Topic: t.Topic, Partition: p.Partition}] {
							p.ErrorCode, p.Offset, p.LeaderEpoch, p.Metadata = unstable, -1, -1, nil
						}
					}
				}
			}
		}
		out <- resp
	}()
	return out
}
