package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestShareStateAPIs: the inter-broker share-group state APIs (83-87) at
// the share coordinator, over TCP: a round trip (initialize, read, write,
// summary with the delivery-complete count, delete), Kafka's fencing
// (FENCED_STATE_EPOCH, FENCED_LEADER_EPOCH), bad input answered with
// INVALID_REQUEST / UNKNOWN_TOPIC_OR_PARTITION, and CLUSTER_ACTION required
// (CLUSTER_AUTHORIZATION_FAILED without it).
func TestShareStateAPIs(t *testing.T) {
	tb := startBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"))
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 60*time.Second)
	topic := topicName(t, "")
	tid := [16]byte(createTopic(t, adm, topic, 1, nil).ID)
	// AlterShareGroupOffsets creates __share_group_state.
	if rs, err := adm.AlterShareGroupOffsets(ctx, "probe", kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 0}}}); err != nil || rs.Error() != nil {
		t.Fatalf("AlterShareGroupOffsets: %v %v", err, rs.Error())
	}
	cl := newClient(t, tb.Addr())
	send := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Broker(1).Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	const group = "state-api"
	initialize := func(id [16]byte, p, stateEpoch int32, start int64) int16 {
		r := kmsg.NewPtrInitializeShareGroupStateRequest()
		r.GroupID = group
		rt := kmsg.NewInitializeShareGroupStateRequestTopic()
		rt.TopicID = id
		rp := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
		rp.Partition, rp.StateEpoch, rp.StartOffset = p, stateEpoch, start
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return send(r).(*kmsg.InitializeShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode
	}
	read := func(leaderEpoch int32) kmsg.ReadShareGroupStateResponseTopicPartition {
		r := kmsg.NewPtrReadShareGroupStateRequest()
		r.GroupID = group
		rt := kmsg.NewReadShareGroupStateRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
		rp.LeaderEpoch = leaderEpoch
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return send(r).(*kmsg.ReadShareGroupStateResponse).Topics[0].Partitions[0]
	}
	write := func(stateEpoch, leaderEpoch int32, start int64, batches ...[3]int64) int16 {
		r := kmsg.NewPtrWriteShareGroupStateRequest()
		r.GroupID = group
		rt := kmsg.NewWriteShareGroupStateRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
		rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset = stateEpoch, leaderEpoch, start
		for _, b := range batches {
			sb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
			sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b[0], b[1], int8(b[2]), 1
			rp.StateBatches = append(rp.StateBatches, sb)
		}
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		return send(r).(*kmsg.WriteShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode
	}
	summary := func() kmsg.ReadShareGroupStateSummaryResponseTopicPartition {
		r := kmsg.NewPtrReadShareGroupStateSummaryRequest()
		r.GroupID = group
		rt := kmsg.NewReadShareGroupStateSummaryRequestTopic()
		rt.TopicID = tid
		rt.Partitions = []kmsg.ReadShareGroupStateSummaryRequestTopicPartition{kmsg.NewReadShareGroupStateSummaryRequestTopicPartition()}
		r.Topics = append(r.Topics, rt)
		return send(r).(*kmsg.ReadShareGroupStateSummaryResponse).Topics[0].Partitions[0]
	}
	del := func() int16 {
		r := kmsg.NewPtrDeleteShareGroupStateRequest()
		r.GroupID = group
		rt := kmsg.NewDeleteShareGroupStateRequestTopic()
		rt.TopicID = tid
		rt.Partitions = []kmsg.DeleteShareGroupStateRequestTopicPartition{kmsg.NewDeleteShareGroupStateRequestTopicPartition()}
		r.Topics = append(r.Topics, rt)
		return send(r).(*kmsg.DeleteShareGroupStateResponse).Topics[0].Partitions[0].ErrorCode
	}
	code := func(what string, got, want int16) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %v, want %v", what, kerr.ErrorForCode(got), kerr.ErrorForCode(want))
		}
	}

	if rp := read(0); rp.ErrorCode != 0 || rp.StartOffset != -1 || rp.StateEpoch != 0 {
		t.Fatalf("read of no state: %+v", rp)
	}
	code("initialize", initialize(tid, 0, 1, 5), 0)
	code("initialize at the same state epoch", initialize(tid, 0, 1, 6), kerr.FencedStateEpoch.Code)
	code("initialize a zero topic id", initialize([16]byte{}, 0, 1, 0), kerr.InvalidRequest.Code)
	code("initialize an unknown topic", initialize([16]byte{1}, 0, 1, 0), kerr.UnknownTopicOrPartition.Code)
	code("initialize a partition past the topic's", initialize(tid, 1, 1, 0), kerr.UnknownTopicOrPartition.Code)
	if rp := read(2); rp.ErrorCode != 0 || rp.StartOffset != 5 || rp.StateEpoch != 1 {
		t.Fatalf("read: %+v", rp)
	}
	code("write", write(1, 2, 5, [3]int64{6, 7, 2}, [3]int64{8, 8, 4}, [3]int64{9, 9, 0}), 0)
	code("write by an older leader", write(1, 1, 5), kerr.FencedLeaderEpoch.Code)
	code("write at an older state epoch", write(0, 2, 5), kerr.FencedStateEpoch.Code)
	code("write of batches below the start offset", write(1, 2, 5, [3]int64{1, 2, 2}), kerr.InvalidRequest.Code)
	code("write of an unknown delivery state", write(1, 2, 5, [3]int64{6, 6, 9}), kerr.InvalidRequest.Code)
	if s := summary(); s.ErrorCode != 0 || s.StartOffset != 5 || s.StateEpoch != 1 || s.LeaderEpoch != 2 || s.DeliveryCompleteCount != 3 {
		t.Fatalf("summary: %+v", s)
	}
	if rp := read(2); rp.ErrorCode != 0 || len(rp.StateBatches) != 3 || rp.StateBatches[1].DeliveryState != 4 {
		t.Fatalf("read back: %+v", rp)
	}
	code("delete", del(), 0)
	if s := summary(); s.ErrorCode != 0 || s.StartOffset != -1 {
		t.Fatalf("summary after delete: %+v", s)
	}

	// Without CLUSTER_ACTION every partition is refused.
	delete(tb.props, "super.users")
	tb.Restart()
	cl = newClient(t, tb.Addr())
	code("initialize without CLUSTER_ACTION", initialize(tid, 0, 9, 0), kerr.ClusterAuthorizationFailed.Code)
	code("read without CLUSTER_ACTION", read(5).ErrorCode, kerr.ClusterAuthorizationFailed.Code)
	code("write without CLUSTER_ACTION", write(9, 9, 0), kerr.ClusterAuthorizationFailed.Code)
	code("summary without CLUSTER_ACTION", summary().ErrorCode, kerr.ClusterAuthorizationFailed.Code)
	code("delete without CLUSTER_ACTION", del(), kerr.ClusterAuthorizationFailed.Code)
}
