package coordinator

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConsumerProtocolEnabled reports whether group.coordinator.rebalance.protocols
// includes "consumer" (ConsumerGroupHeartbeat and ConsumerGroupDescribe
// are served and advertised only then).
func (c *Coordinator) ConsumerProtocolEnabled() bool { return c.cfg.ConsumerProtocol }

// ConsumerGroupHeartbeat handles ConsumerGroupHeartbeat v0-1 (KIP-848).
// Checks that need no group state (Kafka's request validation) are
// answered here; the rest runs on the shard loop (heartbeat848.go).
func (c *Coordinator) ConsumerGroupHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest, cl Client) <-chan *kmsg.ConsumerGroupHeartbeatResponse {
	if code, msg := c.validateHeartbeat(r); code != 0 {
		return ready(cghbError(code, msg))
	}
	s, code := c.route(r.Group, true)
	if code != 0 {
		return ready(cghbError(code, ""))
	}
	fail := func(code int16) *kmsg.ConsumerGroupHeartbeatResponse { return cghbError(code, "") }
	return call(s, fail, func(reply func(*kmsg.ConsumerGroupHeartbeatResponse)) {
		if s.shares[r.Group] != nil {
			reply(cghbError(kerr.GroupIDNotFound.Code, "Group "+r.Group+" is not a consumer group."))
			return
		}
		s.consumerHeartbeat(r, cl, reply)
	})
}

// validateHeartbeat is Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid.
func (c *Coordinator) validateHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest) (int16, string) {
	invalid := kerr.InvalidRequest.Code
	switch {
	case r.Group == "":
		return invalid, "GroupId can't be empty."
	case r.Version >= 1 && r.MemberID == "":
		return invalid, "MemberId can't be empty."
	case r.InstanceID != nil && *r.InstanceID == "":
		return invalid, "InstanceId can't be empty."
	case r.RackID != nil && *r.RackID == "":
		return invalid, "RackId can't be empty."
	}
	switch {
	case r.MemberEpoch == 0:
		switch {
		case r.RebalanceTimeoutMillis == -1:
			return invalid, "RebalanceTimeoutMs must be provided in first request."
		case r.Topics == nil || len(r.Topics) > 0:
			return invalid, "TopicPartitions must be empty when (re-)joining."
		case r.SubscribedTopicNames == nil && r.SubscribedTopicRegex == nil:
			// An empty list or an empty regex is a subscription to
			// nothing, and librdkafka joins with names and an empty
			// regex: only both null is refused, as in Kafka.
			return invalid, "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining."
		}
	case r.MemberEpoch > 0:
		if r.MemberID == "" {
			return invalid, "MemberId can't be empty."
		}
	case r.MemberEpoch == leaveEpoch:
		if r.MemberID == "" {
			return invalid, "MemberId can't be empty."
		}
	case r.MemberEpoch == leaveStaticEpoch:
		if r.MemberID == "" {
			return invalid, "MemberId can't be empty."
		}
		if r.InstanceID == nil {
			return invalid, "InstanceId can't be null."
		}
	default:
		return invalid, "MemberEpoch is invalid."
	}
	if r.SubscribedTopicRegex != nil && *r.SubscribedTopicRegex != "" {
		// "" clears a regex subscription (the member's regex "" is none).
		if _, err := compileTopicRegex(*r.SubscribedTopicRegex); err != nil {
			return kerr.InvalidRegularExpression.Code, "SubscribedTopicRegex " + *r.SubscribedTopicRegex + " is not a valid regular expression: " + err.Error()
		}
	}
	if r.ServerAssignor != nil && !slices.Contains(c.cfg.ConsumerAssignors, assignorName(*r.ServerAssignor)) {
		return kerr.UnsupportedAssignor.Code, "ServerAssignor " + *r.ServerAssignor + " is not supported. Supported assignors: " + joinNames(c.cfg.ConsumerAssignors) + "."
	}
	return 0, ""
}

func joinNames(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}

// ConsumerGroupDescribe handles ConsumerGroupDescribe v0-1.
func (c *Coordinator) ConsumerGroupDescribe(r *kmsg.ConsumerGroupDescribeRequest) <-chan *kmsg.ConsumerGroupDescribeResponse {
	fail := func(id string, code int16) kmsg.ConsumerGroupDescribeResponseGroup {
		g := kmsg.NewConsumerGroupDescribeResponseGroup()
		g.Group, g.ErrorCode, g.AuthorizedOperations = id, code, -2147483648
		return g
	}
	groups := describeEach(c, r.Groups, fail, func(s *shard, id string) kmsg.ConsumerGroupDescribeResponseGroup {
		return s.describeConsumerGroup(id, r.IncludeAuthorizedOperations)
	})
	out := make(chan *kmsg.ConsumerGroupDescribeResponse, 1)
	go func() {
		resp := kmsg.NewPtrConsumerGroupDescribeResponse()
		resp.Groups = <-groups
		out <- resp
	}()
	return out
}
