package coordinator

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Hooks for the transaction coordinator (package txn), which keeps a
// transaction's TxnOffsetCommit offsets until the transaction commits and
// then hands them here. Nothing else in this package knows about
// transactions.

// CommitTxnOffsets stores the offsets a transaction committed as the
// group's committed offsets, without member or generation checks (they
// were checked at TxnOffsetCommit; the transaction's commit decides). It
// returns once they are durable and visible to OffsetFetch.
func (c *Coordinator) CommitTxnOffsets(group string, topics []kmsg.TxnOffsetCommitRequestTopic) error {
	s, code := c.route(group, true)
	if code != 0 {
		return kerr.ErrorForCode(code)
	}
	fail := func(code int16) error { return kerr.ErrorForCode(code) }
	return <-call(s, fail, func(reply func(error)) { s.commitTxnOffsets(group, topics, reply) })
}

func (s *shard) commitTxnOffsets(group string, topics []kmsg.TxnOffsetCommitRequestTopic, reply func(error)) {
	if s.shares[group] != nil {
		// Checked at TxnOffsetCommit (ValidateTxnMember); a share group
		// created since has no offsets to take.
		reply(kerr.GroupIDNotFound)
		return
	}
	g := s.groups[group]
	if g == nil {
		g = newGroup(group, s.c.clock.Now())
		s.groups[group] = g
	}
	now := s.c.clock.Now().UnixMilli()
	var (
		tps  []tp
		vals []offset
	)
	for _, rt := range topics {
		for _, rp := range rt.Partitions {
			meta := ""
			if rp.Metadata != nil {
				meta = *rp.Metadata
			}
			o := offset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: meta, commitMs: now, expireMs: -1}
			tps, vals = append(tps, tp{rt.Topic, rp.Partition}), append(vals, o)
		}
	}
	s.storeOffsets(g, tps, vals, reply)
}

// ValidateTxnMember checks TxnOffsetCommit v3+'s member id, instance id
// and generation as an offset commit of the group (generation -1 and no
// member: a producer outside any group, always allowed).
func (c *Coordinator) ValidateTxnMember(group, member string, instance *string, generation int32) int16 {
	if generation < 0 && member == "" && instance == nil {
		return 0
	}
	s, code := c.route(group, false)
	if code != 0 {
		return code
	}
	if s == nil {
		return kerr.UnknownMemberID.Code
	}
	fail := func(code int16) int16 { return code }
	return <-call(s, fail, func(reply func(int16)) {
		if s.shares[group] != nil {
			reply(kerr.GroupIDNotFound.Code)
			return
		}
		g := s.groups[group]
		if g == nil {
			reply(kerr.UnknownMemberID.Code)
			return
		}
		if g.cg != nil {
			reply(g.cg.validateCommit(member, generation, 9, true))
			return
		}
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Group, r.MemberID, r.InstanceID, r.Generation = group, member, instance, generation
		reply(g.validateOffsetCommit(r))
	})
}
