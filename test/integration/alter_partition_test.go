package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestAlterPartitionAPI: AlterPartition (56) over TCP to a single node,
// sent as the partition's leader would (the broker's own id and epoch):
// an unchanged ISR is answered with the partition's state; Kafka's checks
// answer a stale broker epoch, a stale or future leader or partition
// epoch, an ISR naming a non-replica, a bad recovery state and an unknown
// topic; with an authorizer, CLUSTER_ACTION is required.
func TestAlterPartitionAPI(t *testing.T) {
	tb := startBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"))
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 60*time.Second)
	topic := topicName(t, "")
	tid := [16]byte(createTopic(t, adm, topic, 1, nil).ID)
	cl := newClient(t, tb.Addr())
	clients := map[int16]*kgo.Client{}
	// clientAt sends AlterPartition at version v: kgo picks the highest
	// version both sides support, up to its MaxVersions.
	clientAt := func(v int16) *kgo.Client {
		if c := clients[v]; c != nil {
			return c
		}
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(int16(kmsg.AlterPartition), v)
		clients[v] = newClient(t, tb.Addr(), kgo.MaxVersions(vs))
		return clients[v]
	}

	meta := kmsg.NewPtrMetadataRequest()
	mr, err := meta.RequestWith(ctx, cl)
	if err != nil || len(mr.Brokers) != 1 {
		t.Fatalf("metadata: %v %+v", err, mr)
	}
	self := mr.Brokers[0].NodeID
	epoch := tb.b.BrokerEpoch()
	if epoch < 0 {
		t.Fatalf("broker epoch %d", epoch)
	}

	type req struct {
		version              int16
		brokerEpoch          int64
		topicID              [16]byte
		topic                string
		leaderEpoch, partEpo int32
		isr                  []int32
		recovery             int8
	}
	send := func(r req) *kmsg.AlterPartitionResponse {
		t.Helper()
		k := kmsg.NewPtrAlterPartitionRequest()
		k.Version, k.BrokerID, k.BrokerEpoch = r.version, self, r.brokerEpoch
		rt := kmsg.NewAlterPartitionRequestTopic()
		rt.TopicID, rt.Topic = r.topicID, r.topic
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.LeaderEpoch, rp.PartitionEpoch, rp.LeaderRecoveryState = r.leaderEpoch, r.partEpo, r.recovery
		for _, id := range r.isr {
			rp.NewISR = append(rp.NewISR, id)
			m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			m.BrokerID, m.BrokerEpoch = id, epoch
			rp.NewEpochISR = append(rp.NewEpochISR, m)
		}
		rt.Partitions = append(rt.Partitions, rp)
		k.Topics = append(k.Topics, rt)
		resp, err := clientAt(r.version).Broker(int(self)).Request(ctx, k)
		if err != nil {
			t.Fatalf("AlterPartition: %v", err)
		}
		return resp.(*kmsg.AlterPartitionResponse)
	}
	partCode := func(what string, resp *kmsg.AlterPartitionResponse, want int16) kmsg.AlterPartitionResponseTopicPartition {
		t.Helper()
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("%s: %+v", what, resp)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != want {
			t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(p.ErrorCode), kerr.ErrorForCode(want))
		}
		return p
	}

	ok := req{version: 3, brokerEpoch: epoch, topicID: tid, isr: []int32{self}}
	p := partCode("unchanged ISR", send(ok), 0)
	if p.LeaderID != self || len(p.ISR) != 1 || p.ISR[0] != self || p.LeaderEpoch != 0 || p.PartitionEpoch != 0 || p.LeaderRecoveryState != 0 {
		t.Fatalf("unchanged ISR answered %+v", p)
	}
	v1 := ok
	v1.version, v1.topicID, v1.topic = 1, [16]byte{}, topic
	partCode("v1 by name", send(v1), 0)

	if r := send(req{version: 3, brokerEpoch: epoch + 1, topicID: tid, isr: []int32{self}}); r.ErrorCode != kerr.StaleBrokerEpoch.Code || len(r.Topics) != 0 {
		t.Fatalf("stale broker epoch: %+v", r)
	}
	bad := func(what string, f func(*req), want *kerr.Error) {
		t.Helper()
		r := ok
		f(&r)
		partCode(what, send(r), want.Code)
	}
	bad("leader epoch behind", func(r *req) { r.leaderEpoch = -1 }, kerr.FencedLeaderEpoch)
	bad("leader epoch ahead", func(r *req) { r.leaderEpoch = 3 }, kerr.NotController)
	bad("partition epoch ahead", func(r *req) { r.partEpo = 3 }, kerr.NotController)
	bad("ISR naming a non-replica", func(r *req) { r.isr = []int32{self, self + 7} }, kerr.InvalidRequest)
	bad("ISR without the leader", func(r *req) { r.isr = nil }, kerr.InvalidRequest)
	bad("RECOVERED back to RECOVERING", func(r *req) { r.recovery = 1 }, kerr.InvalidRequest)
	bad("unknown topic id", func(r *req) { r.topicID = [16]byte{1: 1} }, kerr.UnknownTopicID)

	// Without CLUSTER_ACTION the request is refused.
	delete(tb.props, "super.users")
	tb.Restart()
	clients = map[int16]*kgo.Client{}
	ok.brokerEpoch = tb.b.BrokerEpoch()
	if r := send(ok); r.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("without CLUSTER_ACTION: %+v", r)
	}
}
