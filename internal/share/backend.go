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
// share.coordinator.state.topic.replication.factor,
// share.coordinator.state.topic.min.isr and
// share.coordinator.state.topic.segment.bytes.
type StateTopicConfig struct {
	// ReplicationFactor is capped at the number of registered brokers:
	// Kafka's default (3) cannot be met by a single node, and refusing
	// to create the topic would leave share groups unusable by default.
	ReplicationFactor int16
	// MinISR is the topic's min.insync.replicas (0: the broker's),
	// capped at the replication factor it is created with, so a capped
	// topic still takes writes.
	MinISR       int32
	SegmentBytes int32
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
	return TopicPartitions(b.meta, StateTopic)
}

// TopicPartitions is the partition count of topic, or 0 when it does not
// exist. The group coordinator uses it for __consumer_offsets too.
func TopicPartitions(meta *metadata.Store, topic string) int32 {
	t, ok := meta.Image().Topic(topic)
	if !ok {
		return 0
	}
	return int32(len(t.Partitions))
}

// CreateCompactedTopic creates topic (cleanup.policy compact, plus
// configs) with n partitions and replication factor rf. It succeeds when
// the topic already exists. The group coordinator creates
// __consumer_offsets with it too.
func CreateCompactedTopic(ctl *controller.Controller, topic string, n int32, rf int16, configs map[string]*string) error {
	compact := "compact"
	all := map[string]*string{"cleanup.policy": &compact}
	for k, v := range configs {
		all[k] = v
	}
	_, cerr := ctl.CreateTopic(controller.CreateTopicRequest{
		Name:              topic,
		NumPartitions:     n,
		ReplicationFactor: rf,
		Configs:           all,
	})
	if cerr != nil && cerr.Code != kerr.TopicAlreadyExists.Code {
		return fmt.Errorf("create %s: %w", topic, cerr)
	}
	return nil
}

func (b *brokerBackend) CreateStateTopic(n int32) error {
	rf := b.tc.ReplicationFactor
	if brokers := int16(len(b.meta.Image().Brokers)); rf > brokers {
		rf = max(brokers, 1)
	}
	if rf <= 0 {
		rf = -1 // default.replication.factor
	}
	return CreateCompactedTopic(b.ctl, StateTopic, n, rf, stateTopicConfigs(b.tc, rf))
}

// stateTopicConfigs are the topic configs __share_group_state is created
// with at replication factor rf (-1: the broker default).
func stateTopicConfigs(tc StateTopicConfig, rf int16) map[string]*string {
	configs := map[string]*string{}
	if tc.SegmentBytes > 0 {
		segment := strconv.Itoa(int(tc.SegmentBytes))
		configs["segment.bytes"] = &segment
	}
	if isr := tc.MinISR; isr > 0 {
		if rf > 0 {
			isr = min(isr, int32(rf))
		}
		v := strconv.Itoa(int(isr))
		configs["min.insync.replicas"] = &v
	}
	return configs
}

func (b *brokerBackend) StateLog(i int32) StateLog {
	l, ok := b.parts.InternalLog(StateTopic, i)
	if !ok {
		return nil
	}
	return l
}
