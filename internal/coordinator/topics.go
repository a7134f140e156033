package coordinator

import (
	"github.com/sluice-io/sluice/internal/metadata"
)

// uuid is a Kafka topic ID.
type uuid = [16]byte

// TopicInfo is one topic as the consumer group protocol sees it.
type TopicInfo struct {
	Name       string
	ID         uuid
	Partitions int32
}

// Topics is a read-only view of the cluster's topics at one metadata
// version (the KIP-848 coordinator resolves subscriptions against it).
type Topics interface {
	// Version changes whenever the topics may have changed.
	Version() int64
	ByName(name string) (TopicInfo, bool)
	ByID(id uuid) (TopicInfo, bool)
	// Names lists every topic, sorted.
	Names() []string
}

// imageTopics adapts a metadata image.
type imageTopics struct{ im *metadata.Image }

func (t imageTopics) Version() int64 { return t.im.Offset }

func (t imageTopics) ByName(name string) (TopicInfo, bool) {
	ti, ok := t.im.Topic(name)
	if !ok {
		return TopicInfo{}, false
	}
	return TopicInfo{Name: ti.Name, ID: uuid(ti.ID), Partitions: int32(len(ti.Partitions))}, true
}

func (t imageTopics) ByID(id uuid) (TopicInfo, bool) {
	ti, ok := t.im.TopicByID(metadata.UUID(id))
	if !ok {
		return TopicInfo{}, false
	}
	return TopicInfo{Name: ti.Name, ID: uuid(ti.ID), Partitions: int32(len(ti.Partitions))}, true
}

func (t imageTopics) Names() []string { return t.im.TopicNames() }

func (b *brokerBackend) Topics() Topics { return imageTopics{b.meta.Image()} }
