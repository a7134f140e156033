package api

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
)

// Authorization of the group APIs, following KafkaApis: READ on the group
// for membership and offsets (plus READ on each topic committed, DESCRIBE
// on each topic fetched), DESCRIBE to describe or find it, DELETE to
// delete it; ListGroups lists every group with DESCRIBE on the cluster,
// else the groups it may DESCRIBE.

var groupDenied = kerr.GroupAuthorizationFailed.Code

// findCoordinatorDenied is the FindCoordinator check of one key.
func (z authz) findCoordinatorDenied(keyType int8, key string) int16 {
	switch {
	case z.a == nil:
	case keyType == coordinatorGroup && !z.group(auth.OpDescribe, key):
		return groupDenied
	case keyType == coordinatorTransaction && !z.txnID(auth.OpDescribe, key):
		return kerr.TransactionalIDAuthorizationFailed.Code
	}
	return 0
}

// offsetCommitSplit returns the request to hand the coordinator (topics
// without READ removed; nil if nothing is left) and a function adding the
// failures to its answer. With READ denied on the group every partition
// fails with GROUP_AUTHORIZATION_FAILED.
func (z authz) offsetCommitSplit(r *kmsg.OffsetCommitRequest) (*kmsg.OffsetCommitRequest, func(*kmsg.OffsetCommitResponse)) {
	if z.a == nil {
		return r, func(*kmsg.OffsetCommitResponse) {}
	}
	groupOK := z.group(auth.OpRead, r.Group)
	var keep, failed []kmsg.OffsetCommitRequestTopic
	var codes []int16
	for _, t := range r.Topics {
		switch {
		case !groupOK:
			failed, codes = append(failed, t), append(codes, groupDenied)
		case !z.topic(auth.OpRead, t.Topic):
			failed, codes = append(failed, t), append(codes, kerr.TopicAuthorizationFailed.Code)
		default:
			keep = append(keep, t)
		}
	}
	fix := func(resp *kmsg.OffsetCommitResponse) {
		for i, t := range failed {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, codes[i]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	if !groupOK || (len(keep) == 0 && len(r.Topics) > 0) {
		return nil, fix
	}
	c := *r
	c.Topics = keep
	return &c, fix
}

// offsetFetchFix applies OffsetFetch's checks to the coordinator's answer:
// a group without READ fails whole (GROUP_AUTHORIZATION_FAILED), requested
// topics without DESCRIBE fail with TOPIC_AUTHORIZATION_FAILED, and when
// all topics were asked for those topics are left out.
func (z authz) offsetFetchFix(r *kmsg.OffsetFetchRequest) func(*kmsg.OffsetFetchResponse) {
	if z.a == nil {
		return func(*kmsg.OffsetFetchResponse) {}
	}
	fixTopics := func(group string, topics []kmsg.OffsetFetchResponseTopic) ([]kmsg.OffsetFetchResponseTopic, int16) {
		if !z.group(auth.OpRead, group) {
			for i := range topics {
				for j := range topics[i].Partitions {
					p := &topics[i].Partitions[j]
					p.ErrorCode, p.Offset, p.Metadata = groupDenied, -1, nil
				}
			}
			return topics, groupDenied
		}
		out := topics[:0]
		for _, t := range topics {
			if !z.topic(auth.OpDescribe, t.Topic) {
				if r.Topics == nil && r.Version < 8 || r.Version >= 8 && requestedAll(r, group) {
					continue
				}
				for j := range t.Partitions {
					p := &t.Partitions[j]
					p.ErrorCode, p.Offset, p.Metadata = kerr.TopicAuthorizationFailed.Code, -1, nil
				}
			}
			out = append(out, t)
		}
		return out, 0
	}
	return func(resp *kmsg.OffsetFetchResponse) {
		if r.Version < 8 {
			var code int16
			resp.Topics, code = fixTopics(r.Group, resp.Topics)
			if code != 0 {
				resp.ErrorCode = code
			}
			return
		}
		for i := range resp.Groups {
			g := &resp.Groups[i]
			topics := make([]kmsg.OffsetFetchResponseTopic, 0, len(g.Topics))
			for _, t := range g.Topics {
				rt := kmsg.NewOffsetFetchResponseTopic()
				rt.Topic = t.Topic
				for _, p := range t.Partitions {
					rp := kmsg.NewOffsetFetchResponseTopicPartition()
					rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
					rt.Partitions = append(rt.Partitions, rp)
				}
				topics = append(topics, rt)
			}
			topics, code := fixTopics(g.Group, topics)
			if code != 0 {
				g.ErrorCode, g.Topics = code, nil
				continue
			}
			g.Topics = g.Topics[:0]
			for _, t := range topics {
				gt := kmsg.NewOffsetFetchResponseGroupTopic()
				gt.Topic = t.Topic
				for _, p := range t.Partitions {
					gp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
					gt.Partitions = append(gt.Partitions, gp)
				}
				g.Topics = append(g.Topics, gt)
			}
		}
	}
}

// requestedAll reports whether a v8+ OffsetFetch asked for all topics of group.
func requestedAll(r *kmsg.OffsetFetchRequest, group string) bool {
	for _, g := range r.Groups {
		if g.Group == group {
			return g.Topics == nil
		}
	}
	return false
}

// describeGroupsFix marks groups without DESCRIBE GROUP_AUTHORIZATION_FAILED
// (their state is not disclosed) and fills authorized operations (v3+).
func (z authz) describeGroupsFix(r *kmsg.DescribeGroupsRequest) func(*kmsg.DescribeGroupsResponse) {
	return func(resp *kmsg.DescribeGroupsResponse) {
		if z.a == nil {
			return
		}
		for i := range resp.Groups {
			g := &resp.Groups[i]
			if !z.group(auth.OpDescribe, g.Group) {
				d := kmsg.NewDescribeGroupsResponseGroup()
				d.Group, d.ErrorCode = g.Group, groupDenied
				*g = d
				continue
			}
			if r.IncludeAuthorizedOperations {
				g.AuthorizedOperations = z.ops(auth.ResourceGroup, g.Group)
			}
		}
	}
}

// listGroupsFix keeps the groups the principal may DESCRIBE, unless it may
// DESCRIBE the cluster.
func (z authz) listGroupsFix(resp *kmsg.ListGroupsResponse) {
	if z.a == nil || z.cluster(auth.OpDescribe) {
		return
	}
	resp.Groups = slices.DeleteFunc(resp.Groups, func(g kmsg.ListGroupsResponseGroup) bool {
		return !z.group(auth.OpDescribe, g.Group)
	})
}

// deleteGroupsSplit removes groups without DELETE from the request and
// returns the fix adding them back as GROUP_AUTHORIZATION_FAILED.
func (z authz) deleteGroupsSplit(r *kmsg.DeleteGroupsRequest) (*kmsg.DeleteGroupsRequest, func(*kmsg.DeleteGroupsResponse)) {
	if z.a == nil {
		return r, func(*kmsg.DeleteGroupsResponse) {}
	}
	keep, denied := splitBy(r.Groups, func(g string) bool { return z.group(auth.OpDelete, g) })
	c := *r
	c.Groups = keep
	return &c, func(resp *kmsg.DeleteGroupsResponse) {
		for _, g := range denied {
			rg := kmsg.NewDeleteGroupsResponseGroup()
			rg.Group, rg.ErrorCode = g, groupDenied
			resp.Groups = append(resp.Groups, rg)
		}
	}
}

// offsetDeleteSplit: READ on the group (else the whole request fails),
// READ on each topic (else its partitions fail).
func (z authz) offsetDeleteSplit(r *kmsg.OffsetDeleteRequest) (*kmsg.OffsetDeleteRequest, int16, func(*kmsg.OffsetDeleteResponse)) {
	if z.a == nil {
		return r, 0, func(*kmsg.OffsetDeleteResponse) {}
	}
	if !z.group(auth.OpRead, r.Group) {
		return nil, groupDenied, nil
	}
	keep, denied := splitBy(r.Topics, func(t kmsg.OffsetDeleteRequestTopic) bool {
		return z.topic(auth.OpRead, t.Topic)
	})
	c := *r
	c.Topics = keep
	return &c, 0, func(resp *kmsg.OffsetDeleteResponse) {
		for _, t := range denied {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.TopicAuthorizationFailed.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
}

// splitBy returns the items allowed says yes to and the others, each in
// request order: the request to hand on and the items to refuse.
func splitBy[T any](items []T, allowed func(T) bool) (keep, denied []T) {
	for _, it := range items {
		if allowed(it) {
			keep = append(keep, it)
		} else {
			denied = append(denied, it)
		}
	}
	return keep, denied
}
