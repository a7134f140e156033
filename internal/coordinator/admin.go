package coordinator

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// groupOperations is what DescribeGroups reports as authorized when asked:
// READ, DELETE and DESCRIBE (bits 3, 6, 8), everything a group supports,
// since Sluice has no authorizer yet.
const groupOperations = 1<<3 | 1<<6 | 1<<8

// describeGroup is one group of DescribeGroups. A group that does not
// exist is reported Dead with no error, as Kafka does before v6.
func (s *shard) describeGroup(id string, withOps bool) kmsg.DescribeGroupsResponseGroup {
	out := kmsg.NewDescribeGroupsResponseGroup()
	out.Group = id
	if withOps {
		out.AuthorizedOperations = groupOperations
	}
	g := s.groups[id]
	if g == nil {
		out.State = stateDead.String()
		return out
	}
	if g.cg != nil {
		s.describeConsumerAsClassic(g, &out)
		return out
	}
	out.State = g.state.String()
	out.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		out.Protocol = g.protocolName
	}
	for _, m := range g.orderedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		dm.ProtocolMetadata, dm.MemberAssignment = []byte{}, []byte{}
		if stable {
			if md := m.metadata(g.protocolName); md != nil {
				dm.ProtocolMetadata = md
			}
			if m.assignment != nil {
				dm.MemberAssignment = m.assignment
			}
		}
		out.Members = append(out.Members, dm)
	}
	return out
}

// listGroups lists this shard's groups matching the filters (empty filter:
// everything; case-insensitive, as Kafka).
func (s *shard) listGroups(states, types []string) []kmsg.ListGroupsResponseGroup {
	var out []kmsg.ListGroupsResponseGroup
	for _, id := range slices.Sorted(maps.Keys(s.groups)) {
		g := s.groups[id]
		state, protocolType := g.state.String(), g.protocolType
		if g.cg != nil {
			state, protocolType = g.cg.state(), "consumer"
		}
		if len(states) > 0 && !equalFoldAny(state, states) {
			continue
		}
		if len(types) > 0 && !equalFoldAny(g.typeName(), types) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = id, protocolType, state, g.typeName()
		out = append(out, lg)
	}
	return out
}

// deleteGroup removes an empty group and all its offsets (tombstones),
// answering once they are durable.
func (s *shard) deleteGroup(id string, reply func(int16)) {
	if sg := s.shares[id]; sg != nil {
		s.deleteShareGroup(sg, reply)
		return
	}
	g := s.groups[id]
	switch {
	case g == nil:
		reply(kerr.GroupIDNotFound.Code)
		return
	case !g.isEmpty():
		reply(kerr.NonEmptyGroup.Code)
		return
	}
	s.removeGroup(g, func(err error) { reply(writeErrorCode(err)) })
}

// removeGroup makes g Dead at once (new requests see no group) and writes
// its tombstones: every committed or pending offset, then the group.
func (s *shard) removeGroup(g *group, done func(error)) {
	recs := s.groupTombstones(g)
	g.stopAll(kerr.CoordinatorNotAvailable.Code)
	g.transition(s, stateDead)
	delete(s.groups, g.id)
	s.log.Info("group deleted", "group", g.id, "offsets", len(recs)-1)
	s.write(recs, func(err error) {
		if err == nil {
			clear(g.offsets)
		}
		done(err)
	})
}

func (s *shard) groupTombstones(g *group) []record.Record {
	tps := map[tp]bool{}
	for t := range g.offsets {
		tps[t] = true
	}
	for t := range g.pendingCommits {
		tps[t] = true
	}
	recs := make([]record.Record, 0, len(tps)+1)
	for _, t := range slices.SortedFunc(maps.Keys(tps), compareTP) {
		recs = append(recs, record.Record{Key: offsetKey(g.id, t)})
	}
	if g.cg != nil {
		recs = append(recs, record.Record{Key: consumerGroupKey(g.id)})
	}
	return append(recs, record.Record{Key: groupKey(g.id)})
}

func compareTP(a, b tp) int {
	if a.topic != b.topic {
		if a.topic < b.topic {
			return -1
		}
		return 1
	}
	return int(a.partition) - int(b.partition)
}
