package coordinator

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// Offsets and the classic APIs on consumer groups.

// validateCommit is Kafka's ConsumerGroup.validateOffsetCommit: without a
// member (epoch < 0) a commit is allowed only while the group has no
// members; a member commits with OffsetCommit v9+ (transactional commits
// excepted) and an epoch not ahead of its own. Commits of an older epoch
// are checked per partition (staleCommitCheck), as KIP-1251 does, instead
// of Kafka 4.0's "epoch must equal the member's".
func (cg *consumerGroup) validateCommit(memberID string, epoch int32, version int16, txn bool) int16 {
	if epoch < 0 && len(cg.members) == 0 {
		return 0
	}
	m := cg.members[memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if !txn && version < 9 {
		return kerr.UnsupportedVersion.Code
	}
	if epoch > m.epoch || epoch < 0 {
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// staleCommitCheck returns, for a member's commit to a consumer group,
// whether a partition's commit is stale: the partition was given to the
// member at an epoch later than the commit's.
func (g *group) staleCommitCheck(s *shard, r *kmsg.OffsetCommitRequest) func(topic string, p int32) bool {
	none := func(string, int32) bool { return false }
	if g.cg == nil || r.Generation < 0 {
		return none
	}
	m := g.cg.members[r.MemberID]
	if m == nil || r.Generation >= m.epoch {
		return none
	}
	topics := s.c.be.Topics()
	return func(topic string, p int32) bool {
		ti, ok := topics.ByName(topic)
		if !ok {
			return false
		}
		at, ok := m.assignedAt[tpid{ti.ID, p}]
		return ok && r.Generation < at
	}
}

// validateFetch is Kafka's ConsumerGroup.validateOffsetFetch: a fetch
// without member id and with a negative epoch (admin clients) is always
// allowed; otherwise the member must exist and give its current epoch.
func (cg *consumerGroup) validateFetch(memberID *string, epoch int32) int16 {
	if memberID == nil && epoch < 0 {
		return 0
	}
	if memberID == nil {
		return kerr.UnknownMemberID.Code
	}
	m := cg.members[*memberID]
	if m == nil {
		return kerr.UnknownMemberID.Code
	}
	if epoch != m.epoch {
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// classicJoinConsumerGroup decides a classic JoinGroup for a consumer
// group. An empty consumer group becomes a classic group (its offsets
// stay); otherwise Sluice refuses classic members in a consumer group (no
// online migration): INCONSISTENT_GROUP_PROTOCOL when the member is not
// even a consumer, GROUP_ID_NOT_FOUND otherwise.
func (s *shard) classicJoinConsumerGroup(g *group, r *kmsg.JoinGroupRequest) int16 {
	if len(g.cg.members) > 0 {
		if r.ProtocolType != "consumer" {
			return kerr.InconsistentGroupProtocol.Code
		}
		return kerr.GroupIDNotFound.Code
	}
	s.log.Info("empty consumer group becomes a classic group", "group", g.id)
	g.cg = nil
	s.write([]record.Record{{Key: consumerGroupKey(g.id)}}, func(err error) {
		if err != nil {
			s.log.Warn("writing consumer group tombstone failed", "group", g.id, "err", err)
		}
	})
	return 0
}

// describeConsumerAsClassic is DescribeGroups on a consumer group, as
// Kafka answers it: protocol type "consumer", the assignor as protocol,
// and each member's subscription and assignment in the classic consumer
// protocol's encoding.
func (s *shard) describeConsumerAsClassic(g *group, out *kmsg.DescribeGroupsResponseGroup) {
	cg := g.cg
	out.State = cg.state()
	out.ProtocolType = "consumer"
	out.Protocol = cg.assignorName
	topics := s.c.be.Topics()
	for _, m := range cg.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		meta := kmsg.NewConsumerMemberMetadata()
		meta.Version = 3
		meta.Topics = cg.memberTopics(m, topics)
		meta.Rack = m.rackID
		dm.ProtocolMetadata = meta.AppendTo(nil)
		asg := kmsg.NewConsumerMemberAssignment()
		asg.Version = 3
		for _, id := range sortedIDs(m.assigned) {
			ti, ok := topics.ByID(id)
			if !ok {
				continue
			}
			t := kmsg.NewConsumerMemberAssignmentTopic()
			t.Topic, t.Partitions = ti.Name, m.assigned[id]
			asg.Topics = append(asg.Topics, t)
		}
		dm.MemberAssignment = asg.AppendTo(nil)
		out.Members = append(out.Members, dm)
	}
}

// describeConsumerGroup is one group of ConsumerGroupDescribe.
func (s *shard) describeConsumerGroup(id string, withOps bool) kmsg.ConsumerGroupDescribeResponseGroup {
	out := kmsg.NewConsumerGroupDescribeResponseGroup()
	out.Group = id
	out.AuthorizedOperations = -2147483648
	if withOps {
		out.AuthorizedOperations = groupOperations
	}
	g := s.groups[id]
	switch {
	case g == nil:
		out.ErrorCode = kerr.GroupIDNotFound.Code
		out.ErrorMessage = kmsg.StringPtr("group " + id + " not found")
		return out
	case g.cg == nil:
		out.ErrorCode = kerr.GroupIDNotFound.Code
		out.ErrorMessage = kmsg.StringPtr("group " + id + " is not a consumer group")
		return out
	}
	cg := g.cg
	out.State = cg.state()
	out.Epoch = cg.groupEpoch
	out.AssignmentEpoch = cg.assignmentEpoch
	out.AssignorName = cg.assignorName
	if out.AssignorName == "" {
		out.AssignorName = s.c.cfg.ConsumerAssignors[0]
	}
	topics := s.c.be.Topics()
	for _, m := range cg.sortedMembers() {
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID, dm.InstanceID, dm.RackID = m.id, m.instanceID, m.rackID
		dm.MemberEpoch = m.epoch
		dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
		dm.SubscribedTopics = append([]string{}, m.subscribed...)
		if m.regex != "" {
			dm.SubscribedTopicRegex = kmsg.StringPtr(m.regex)
		}
		dm.Assignment = describeAssignment(m.assigned, topics)
		dm.TargetAssignment = describeAssignment(cg.target[m.id], topics)
		dm.MemberType = 1 // consumer protocol (KIP-1099)
		out.Members = append(out.Members, dm)
	}
	return out
}

func describeAssignment(a parts, topics Topics) kmsg.Assignment {
	out := kmsg.NewAssignment()
	out.TopicPartitions = []kmsg.AssignmentTopicPartition{}
	for _, id := range sortedIDs(a) {
		t := kmsg.NewAssignmentTopicPartition()
		t.TopicID = id
		if ti, ok := topics.ByID(id); ok {
			t.Topic = ti.Name
		}
		t.Partitions = append([]int32{}, a[id]...)
		out.TopicPartitions = append(out.TopicPartitions, t)
	}
	return out
}
