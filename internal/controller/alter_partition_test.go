package controller

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
)

// alterEnv: brokers 1 and 2 live, 3 in controlled shutdown, 4 registered
// but fenced, 5 never registered; topic t has one partition with
// replicas 1..5, led by 1.
type alterEnv struct {
	*env
	epochs map[int32]int64
	id     metadata.UUID
}

func newAlterEnv(t *testing.T) *alterEnv {
	e, _ := lifecycleEnv(t)
	a := &alterEnv{env: e, epochs: map[int32]int64{}}
	for _, id := range []int32{1, 2, 3} {
		a.epochs[id] = e.registerLive(id)
	}
	ep4, err := e.c.RegisterBrokerLifecycle(registration(4, 4))
	if err != nil {
		t.Fatal(err)
	}
	a.epochs[4] = ep4
	if err := e.store.Append(metadata.BrokerRegistrationChangeRecord{BrokerID: 3, BrokerEpoch: a.epochs[3],
		Fenced: metadata.FencingNone, InControlledShutdown: metadata.ShutdownIn}); err != nil {
		t.Fatal(err)
	}
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1, 2}}}); ce != nil {
		t.Fatal(ce)
	}
	top, _ := e.store.Image().Topic("t")
	a.id = top.ID
	return a
}

// reset puts t-0 in a known state: leader 1, ISR isr, leader epoch 5,
// partition epoch 10.
func (a *alterEnv) reset(isr []int32, recovery metadata.LeaderRecoveryState) {
	a.t.Helper()
	if err := a.store.Append(metadata.PartitionRecord{TopicID: a.id, Partition: 0, Replicas: []int32{1, 2, 3, 4, 5},
		ISR: isr, Leader: 1, LeaderEpoch: 5, PartitionEpoch: 10, LeaderRecoveryState: recovery}); err != nil {
		a.t.Fatal(err)
	}
}

type alterCase struct {
	name       string
	version    int16
	broker     int32
	epoch      int64 // 0: the broker's own
	topic      string
	topicID    metadata.UUID
	partition  int32
	leaderEpo  int32
	partEpo    int32
	isr        []int32
	isrEpochs  []int64 // v3; nil: -1 for every member
	recovery   int8
	start      []int32 // ISR before
	startRecov metadata.LeaderRecoveryState
	top        *kerr.Error // top-level error
	code       *kerr.Error // partition error
}

func (a *alterEnv) request(c alterCase) *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version, req.BrokerID, req.BrokerEpoch = c.version, c.broker, c.epoch
	if c.epoch == 0 {
		req.BrokerEpoch = a.epochs[c.broker]
	}
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic, rt.TopicID = c.topic, c.topicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch, rp.LeaderRecoveryState = c.partition, c.leaderEpo, c.partEpo, c.recovery
	for i, id := range c.isr {
		rp.NewISR = append(rp.NewISR, id)
		m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		m.BrokerID, m.BrokerEpoch = id, -1
		if c.isrEpochs != nil {
			m.BrokerEpoch = c.isrEpochs[i]
		}
		rp.NewEpochISR = append(rp.NewEpochISR, m)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestAlterPartitionValidation runs Kafka's checks one by one: each case
// starts from the same partition state and names what it changes.
func TestAlterPartitionValidation(t *testing.T) {
	a := newAlterEnv(t)
	ok := alterCase{version: 3, broker: 1, topicID: a.id, leaderEpo: 5, partEpo: 10, isr: []int32{1}, start: []int32{1, 2}}
	with := func(name string, f func(*alterCase)) alterCase {
		c := ok
		c.name = name
		f(&c)
		return c
	}
	cases := []alterCase{
		with("shrink", func(c *alterCase) {}),
		with("expand v0 by name", func(c *alterCase) {
			c.version, c.topic, c.topicID, c.isr, c.start = 0, "t", metadata.UUID{}, []int32{1, 2}, []int32{1}
		}),
		with("expand v3 with epochs", func(c *alterCase) {
			c.isr, c.isrEpochs, c.start = []int32{2, 1}, []int64{a.epochs[2], a.epochs[1]}, []int32{1}
		}),
		with("stale broker epoch", func(c *alterCase) { c.epoch, c.top = a.epochs[1]-1, kerr.StaleBrokerEpoch }),
		with("unknown broker", func(c *alterCase) { c.broker, c.epoch, c.top = 9, 1, kerr.StaleBrokerEpoch }),
		with("unknown topic id", func(c *alterCase) { c.topicID, c.code = metadata.UUID{1: 1}, kerr.UnknownTopicID }),
		with("unknown topic name v1", func(c *alterCase) { c.version, c.topic, c.code = 1, "nope", kerr.UnknownTopicOrPartition }),
		with("unknown partition", func(c *alterCase) { c.partition, c.code = 7, kerr.UnknownTopicOrPartition }),
		with("leader epoch ahead", func(c *alterCase) { c.leaderEpo, c.code = 6, kerr.NotController }),
		with("partition epoch ahead", func(c *alterCase) { c.partEpo, c.code = 11, kerr.NotController }),
		with("leader epoch behind", func(c *alterCase) { c.leaderEpo, c.code = 4, kerr.FencedLeaderEpoch }),
		with("not the leader", func(c *alterCase) { c.broker, c.isr, c.code = 2, []int32{1, 2}, kerr.InvalidRequest }),
		with("partition epoch behind", func(c *alterCase) { c.partEpo, c.code = 9, kerr.InvalidUpdateVersion }),
		with("isr without the leader", func(c *alterCase) { c.isr, c.code = []int32{2}, kerr.InvalidRequest }),
		with("empty isr", func(c *alterCase) { c.isr, c.code = []int32{}, kerr.InvalidRequest }),
		with("isr twice the same", func(c *alterCase) { c.isr, c.code = []int32{1, 1}, kerr.InvalidRequest }),
		with("isr member not a replica", func(c *alterCase) { c.isr, c.code = []int32{1, 6}, kerr.InvalidRequest }),
		with("fenced member", func(c *alterCase) { c.isr, c.code = []int32{1, 4}, kerr.IneligibleReplica }),
		with("fenced member v1", func(c *alterCase) {
			c.version, c.topic, c.topicID, c.isr, c.code = 1, "t", metadata.UUID{}, []int32{1, 4}, kerr.OperationNotAttempted
		}),
		with("member in controlled shutdown", func(c *alterCase) { c.isr, c.code = []int32{1, 3}, kerr.IneligibleReplica }),
		with("unregistered member", func(c *alterCase) { c.isr, c.code = []int32{1, 5}, kerr.IneligibleReplica }),
		with("member restarted (other epoch)", func(c *alterCase) {
			c.isr, c.isrEpochs, c.code = []int32{1, 2}, []int64{-1, a.epochs[2] + 100}, kerr.IneligibleReplica
		}),
		with("recovering with two members", func(c *alterCase) {
			c.isr, c.recovery, c.start, c.startRecov, c.code = []int32{1, 2}, 1, []int32{1}, metadata.Recovering, kerr.InvalidRequest
		}),
		with("recovered back to recovering", func(c *alterCase) { c.recovery, c.code = 1, kerr.InvalidRequest }),
		with("unknown recovery state", func(c *alterCase) { c.recovery, c.code = 5, kerr.InvalidRequest }),
		with("recovering leader recovers and expands", func(c *alterCase) {
			c.isr, c.start, c.startRecov = []int32{1, 2}, []int32{1}, metadata.Recovering
		}),
	}
	for _, c := range cases {
		a.reset(c.start, c.startRecov)
		before := a.store.Image().Offset
		resp := a.c.AlterPartition(a.request(c))
		wantTop := int16(0)
		if c.top != nil {
			wantTop = c.top.Code
		}
		if resp.ErrorCode != wantTop {
			t.Errorf("%s: top-level error %d, want %d", c.name, resp.ErrorCode, wantTop)
			continue
		}
		if c.top != nil {
			if len(resp.Topics) != 0 || a.store.Image().Offset != before {
				t.Errorf("%s: top-level error with partitions answered or records written", c.name)
			}
			continue
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Errorf("%s: response %+v", c.name, resp)
			continue
		}
		rp := resp.Topics[0].Partitions[0]
		wantCode := int16(0)
		if c.code != nil {
			wantCode = c.code.Code
		}
		if rp.ErrorCode != wantCode {
			t.Errorf("%s: error %d (%v), want %d", c.name, rp.ErrorCode, kerr.ErrorForCode(rp.ErrorCode), wantCode)
			continue
		}
		p := a.partition("t", 0)
		if c.code != nil {
			if a.store.Image().Offset != before {
				t.Errorf("%s: refused change wrote records", c.name)
			}
			continue
		}
		want := slices.Clone(c.isr)
		if !slices.Equal(p.ISR, want) || p.Leader != 1 || p.LeaderEpoch != 5 || p.PartitionEpoch != 11 || p.LeaderRecoveryState != metadata.Recovered {
			t.Errorf("%s: partition after: %+v", c.name, p)
		}
		if !slices.Equal(rp.ISR, p.ISR) || rp.LeaderID != 1 || rp.LeaderEpoch != p.LeaderEpoch ||
			rp.PartitionEpoch != p.PartitionEpoch || rp.LeaderRecoveryState != 0 {
			t.Errorf("%s: answer %+v does not match the image %+v", c.name, rp, p)
		}
	}
}

// TestAlterPartitionNoChange: an AlterPartition that changes nothing
// writes nothing and answers the current state, so a retried request
// (its answer lost) is not refused for the partition epoch it bumped.
func TestAlterPartitionNoChange(t *testing.T) {
	a := newAlterEnv(t)
	a.reset([]int32{1, 2}, metadata.Recovered)
	before := a.store.Image().Offset
	c := alterCase{version: 3, broker: 1, topicID: a.id, leaderEpo: 5, partEpo: 10, isr: []int32{1, 2}}
	resp := a.c.AlterPartition(a.request(c))
	rp := resp.Topics[0].Partitions[0]
	if resp.ErrorCode != 0 || rp.ErrorCode != 0 || rp.PartitionEpoch != 10 || !slices.Equal(rp.ISR, []int32{1, 2}) {
		t.Fatalf("no-op: %+v", resp)
	}
	if a.store.Image().Offset != before {
		t.Fatal("no-op wrote a record")
	}
	// A second change in one request sees the first: the same partition
	// twice, the second with the first's new partition epoch.
	req := a.request(alterCase{version: 3, broker: 1, topicID: a.id, leaderEpo: 5, partEpo: 10, isr: []int32{1}})
	second := req.Topics[0].Partitions[0]
	second.PartitionEpoch, second.NewEpochISR = 11, append(second.NewEpochISR, kmsg.AlterPartitionRequestTopicPartitionNewEpochISR{BrokerID: 2, BrokerEpoch: -1})
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, second)
	resp = a.c.AlterPartition(req)
	if p := resp.Topics[0].Partitions; p[0].ErrorCode != 0 || p[1].ErrorCode != 0 || p[1].PartitionEpoch != 12 {
		t.Fatalf("two changes: %+v", p)
	}
	if p := a.partition("t", 0); !slices.Equal(p.ISR, []int32{1, 2}) || p.PartitionEpoch != 12 || p.LeaderEpoch != 5 {
		t.Fatalf("after two changes: %+v", p)
	}
}
