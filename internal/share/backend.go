package share

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
)

// StateTopicConfig is how __share_group_state is created: Kafka's
// share.coordinator.state.topic.replication.factor and
// share.coordinator.state.topic.segment.bytes.
type StateTopicConfig struct {
	// ReplicationFactor is capped at the number of registered brokers:
	// Kafka's default (3) cannot be met by a single node, and refusing
	// to create the topic would leave share groups unusable by default.
	ReplicationFactor int16
	SegmentBytes      int32
}

// NewBackend wires the manager to the metadata store, the controller and
// the partition manager.
func NewBackend(meta *metadata.Store, ctl *controller.Controller, parts *replica.Manager, tc StateTopicConfig) Backend {
	return &brokerBackend{meta: meta, ctl: ctl, parts: parts, tc: tc}
}

type brokerBackend struct {
	meta  *metadata.Store
	ctl   *controller.Controller
	parts *replica.Manager
	tc    StateTopicConfig
}

func (b *brokerBackend) Data(topicID [16]byte, p int32) Data {
	t, ok := b.meta.Image().TopicsByID[metadata.UUID(topicID)]
	if !ok {
		return nil
	}
	if rp := b.parts.Get(t.Name, p); rp != nil {
		return rp
	}
	return nil
}

func (b *brokerBackend) StatePartitions() int32 {
	t, ok := b.meta.Image().Topic(StateTopic)
	if !ok {
		return 0
	}
	return int32(len(t.Partitions))
}

func (b *brokerBackend) CreateStateTopic(n int32) error {
	compact := "compact"
	segment := strconv.Itoa(int(b.tc.SegmentBytes))
	rf := b.tc.ReplicationFactor
	if brokers := int16(len(b.meta.Image().Brokers)); rf > brokers {
		rf = max(brokers, 1)
	}
	if rf <= 0 {
		rf = -1 // default.replication.factor
	}
	configs := map[string]*string{"cleanup.policy": &compact}
	if b.tc.SegmentBytes > 0 {
		configs["segment.bytes"] = &segment
	}
	_, cerr := b.ctl.CreateTopic(controller.CreateTopicRequest{
		Name:              StateTopic,
		NumPartitions:     n,
		ReplicationFactor: rf,
		Configs:           configs,
	})
	if cerr != nil && cerr.Code != kerr.TopicAlreadyExists.Code {
		return fmt.Errorf("create %s: %w", StateTopic, cerr)
	}
	return nil
}

func (b *brokerBackend) StateLog(i int32) StateLog {
	p := b.parts.Get(StateTopic, i)
	if p == nil {
		return nil
	}
	return replica.InternalLog{P: p}
}
