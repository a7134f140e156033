package config

import (
	"strconv"
	"strings"
)

// Broker properties of share groups (KIP-932) under Kafka 4.2's names:
// ShareGroupConfig (group.share.*) and ShareCoordinatorConfig
// (share.coordinator.*). The membership ones (heartbeat, session timeout,
// max.size, assignors) are in brokerdefs.go with the other group
// properties; these are what share-partitions, share sessions and
// __share_group_state use.
//
// group.share.max.groups is deliberately not here: Kafka only ever used it
// to size the share session cache (max.groups x max.size, never a limit on
// the number of groups), replaced it with group.share.max.share.sessions
// and no longer defines it in 4.2; as an unknown key it is kept in Raw and
// ignored, as Kafka warns and ignores it.
const (
	ShareRecordLockDurationKey          = "group.share.record.lock.duration.ms"
	ShareMinRecordLockDurationKey       = "group.share.min.record.lock.duration.ms"
	ShareMaxRecordLockDurationKey       = "group.share.max.record.lock.duration.ms"
	ShareDeliveryCountLimitKey          = "group.share.delivery.count.limit"
	ShareMinDeliveryCountLimitKey       = "group.share.min.delivery.count.limit"
	ShareMaxDeliveryCountLimitKey       = "group.share.max.delivery.count.limit"
	SharePartitionMaxRecordLocksKey     = "group.share.partition.max.record.locks"
	ShareMaxSessionsKey                 = "group.share.max.share.sessions"
	ShareMaxSizeKey                     = "group.share.max.size"
	ShareStateTopicPartitionsKey        = "share.coordinator.state.topic.num.partitions"
	ShareStateTopicReplicationFactorKey = "share.coordinator.state.topic.replication.factor"
	ShareStateTopicMinISRKey            = "share.coordinator.state.topic.min.isr"
	ShareStateTopicSegmentBytesKey      = "share.coordinator.state.topic.segment.bytes"
)

// ShareProps are the share-partition broker properties, typed.
type ShareProps struct {
	DeliveryCountLimit     int32 // group.share.delivery.count.limit
	PartitionMaxRecordLock int32 // group.share.partition.max.record.locks
	MaxShareSessions       int32 // group.share.max.share.sessions
	StateTopicPartitions   int32 // share.coordinator.state.topic.num.partitions
	StateTopicReplication  int16 // share.coordinator.state.topic.replication.factor
	StateTopicMinISR       int32 // share.coordinator.state.topic.min.isr
	StateTopicSegmentBytes int32 // share.coordinator.state.topic.segment.bytes
}

// Share returns the share-partition properties. Build validated every
// value, so each parses; a nil Broker gives Kafka's defaults.
func (b *Broker) Share() ShareProps {
	return ShareProps{
		DeliveryCountLimit:     int32(b.shareInt(ShareDeliveryCountLimitKey)),
		PartitionMaxRecordLock: int32(b.shareInt(SharePartitionMaxRecordLocksKey)),
		MaxShareSessions:       int32(b.shareInt(ShareMaxSessionsKey)),
		StateTopicPartitions:   int32(b.shareInt(ShareStateTopicPartitionsKey)),
		StateTopicReplication:  b.ShareStateTopicReplicationFactor(),
		StateTopicMinISR:       b.ShareStateTopicMinISR(),
		StateTopicSegmentBytes: int32(b.shareInt(ShareStateTopicSegmentBytesKey)),
	}
}

// shareInt is an integer share property's effective value (its default
// when b is nil).
func (b *Broker) shareInt(name string) int64 {
	v := brokerDefsByName[name].def
	if b != nil {
		v = b.EffectiveValue(name)
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
}

// validateShareGroups checks the share properties together, as Kafka's
// ShareGroupConfig.validate does at startup: each default within its
// min/max property, and room for a full group's sessions.
func (b *Broker) validateShareGroups() error {
	for _, r := range []struct{ key, minKey, maxKey string }{
		{ShareDeliveryCountLimitKey, ShareMinDeliveryCountLimitKey, ShareMaxDeliveryCountLimitKey},
		{ShareRecordLockDurationKey, ShareMinRecordLockDurationKey, ShareMaxRecordLockDurationKey},
	} {
		v := b.shareInt(r.key)
		if v < b.shareInt(r.minKey) {
			return invalid(r.key, strconv.FormatInt(v, 10), "must be greater than or equal to "+r.minKey)
		}
		if v > b.shareInt(r.maxKey) {
			return invalid(r.maxKey, strconv.FormatInt(b.shareInt(r.maxKey), 10), "must be greater than or equal to "+r.key)
		}
	}
	if n := b.shareInt(ShareMaxSessionsKey); n < b.shareInt(ShareMaxSizeKey) {
		return invalid(ShareMaxSessionsKey, strconv.FormatInt(n, 10), "must be greater than or equal to "+ShareMaxSizeKey)
	}
	return nil
}
