package coordinator

import (
	"fmt"
	"strconv"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/share"
)

// OffsetsTopic is Kafka's internal topic holding groups and offsets.
const OffsetsTopic = controller.ConsumerOffsetsTopic

// offsetsTopicSegmentBytes is Kafka's offsets.topic.segment.bytes default.
const offsetsTopicSegmentBytes = 104857600

// Log is what a shard needs from its __consumer_offsets partition.
type Log interface {
	// Append writes one record batch and returns the offset after it.
	Append(batch []byte, records int64) (next int64, err error)
	// Commit waits until every offset below upTo is durable.
	Commit(upTo int64) error
	// Replay calls fn with each batch from the log start to the high
	// watermark, in order.
	Replay(fn func(batch []byte) error) error
}

// Backend is what the coordinator needs from the rest of the broker. The
// broker uses NewBackend; unit tests use an in-memory one.
type Backend interface {
	// OffsetsPartitions is the partition count of __consumer_offsets, or 0
	// when the topic does not exist.
	OffsetsPartitions() int32
	// OffsetsLeaders is the leader of each __consumer_offsets partition
	// (nil when the topic does not exist) and the metadata version it is
	// from, which only grows.
	OffsetsLeaders() (version int64, leaders []PartitionLeader)
	// CreateOffsetsTopic creates __consumer_offsets (compacted) with n
	// partitions of rf replicas. It succeeds when the topic already
	// exists, and fails while fewer than rf brokers can take replicas.
	CreateOffsetsTopic(n int32, rf int16) error
	// OffsetsLog returns partition i of __consumer_offsets, or nil.
	OffsetsLog(i int32) Log
	// PartitionExists reports whether topic has partition p (commit
	// validation).
	PartitionExists(topic string, p int32) bool
	// Topics is the current view of the cluster's topics (KIP-848
	// subscriptions and assignments).
	Topics() Topics
	// GroupConfigs is the group's dynamic configs (ConfigResource GROUP),
	// nil when it has none. The map must not be modified.
	GroupConfigs(group string) map[string]string
}

// NewBackend wires the coordinator to the metadata store, the controller
// and the partition manager.
func NewBackend(meta *metadata.Store, ctl *controller.Controller, parts *replica.Manager) Backend {
	return &brokerBackend{meta: meta, ctl: ctl, parts: parts}
}

type brokerBackend struct {
	meta  *metadata.Store
	ctl   *controller.Controller
	parts *replica.Manager
}

func (b *brokerBackend) OffsetsPartitions() int32 {
	return share.TopicPartitions(b.meta, OffsetsTopic)
}

func (b *brokerBackend) OffsetsLeaders() (int64, []PartitionLeader) {
	img := b.meta.Image()
	return img.Offset, OffsetsLeadersIn(img)
}

// CreateOffsetsTopic refuses early, without a round trip to the
// controller, while too few brokers are registered: clients retry
// FindCoordinator until the cluster has them (Kafka never creates the
// topic with fewer replicas than offsets.topic.replication.factor).
func (b *brokerBackend) CreateOffsetsTopic(n int32, rf int16) error {
	if have := usableBrokers(b.meta.Image()); have < int(rf) {
		return fmt.Errorf("%s needs %d brokers (offsets.topic.replication.factor); %d registered and unfenced",
			OffsetsTopic, rf, have)
	}
	segment := strconv.Itoa(offsetsTopicSegmentBytes)
	return share.CreateCompactedTopic(b.ctl, OffsetsTopic, n, rf, map[string]*string{"segment.bytes": &segment})
}

// usableBrokers counts the brokers new replicas may go to.
func usableBrokers(img *metadata.Image) int {
	n := 0
	for _, br := range img.Brokers {
		if !br.Fenced {
			n++
		}
	}
	return n
}

func (b *brokerBackend) OffsetsLog(i int32) Log {
	l, ok := b.parts.InternalLog(OffsetsTopic, i)
	if !ok {
		return nil
	}
	return l
}

func (b *brokerBackend) GroupConfigs(group string) map[string]string {
	return b.meta.Image().GroupConfigs[group]
}

func (b *brokerBackend) PartitionExists(topic string, p int32) bool {
	t, ok := b.meta.Image().Topic(topic)
	return ok && p >= 0 && int(p) < len(t.Partitions)
}
