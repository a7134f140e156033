package share

import "time"

// This file is the seam between the two halves of share groups (KIP-932):
//
//   - the group coordinator (internal/coordinator) owns share-group
//     membership (ShareGroupHeartbeat, ShareGroupDescribe), group configs,
//     ListGroups/DeleteGroups, and answers the share-group admin APIs
//     (DescribeShareGroupOffsets, AlterShareGroupOffsets,
//     DeleteShareGroupOffsets) by asking State;
//   - this package owns share-partition state (start offset, in-flight
//     records, delivery counts, acquisition locks), share sessions and
//     ShareFetch/ShareAcknowledge, and asks Groups about the group.
//
// The coordinator imports this package for these types; this package never
// imports the coordinator. The broker wires the two together.

// Group types as Kafka's ListGroups reports them.
const (
	GroupTypeNone     = ""
	GroupTypeClassic  = "classic"
	GroupTypeConsumer = "consumer"
	GroupTypeShare    = "share"
)

// Settings is a share group's effective configuration: its dynamic group
// configs (ConfigResource type GROUP) over the broker defaults.
type Settings struct {
	// AutoOffsetReset is share.auto.offset.reset: "latest" (the default),
	// "earliest" or "by_duration:<ISO-8601 duration>".
	AutoOffsetReset string
	// RecordLockDuration is share.record.lock.duration.ms (group config,
	// default group.share.record.lock.duration.ms = 30000).
	RecordLockDuration time.Duration
	// ReadCommitted is share.isolation.level == "read_committed".
	ReadCommitted bool
	// DeliveryAttemptLimit is Kafka's group.share.delivery.count.limit
	// (default 5, within group.share.min/max.delivery.count.limit): a
	// record delivered this many times without being accepted is
	// archived.
	DeliveryAttemptLimit int32
}

// Groups is what share fetching needs from the group coordinator.
type Groups interface {
	// GroupType reports what kind of group id names: GroupTypeNone when
	// there is no such group, else one of the GroupType constants.
	GroupType(id string) string
	// ShareSettings returns the share group's effective settings (the
	// broker defaults when the group or its configs do not exist).
	ShareSettings(group string) Settings
}

// PartitionOffset is one share-partition's start offset as
// DescribeShareGroupOffsets reports it.
type PartitionOffset struct {
	// StartOffset is the share-partition start offset (SPSO); -1 when
	// the share-partition was never initialized.
	StartOffset int64
	// LeaderEpoch is the partition leader epoch the state was written
	// under (-1 when unknown).
	LeaderEpoch int32
	// Lag is the number of records from StartOffset to the high watermark
	// not yet acknowledged or archived (DescribeShareGroupOffsets v1);
	// -1 when unknown.
	Lag int64
}

// State is the share-partition side as the group coordinator uses it
// (the Manager implements it through the share coordinators, wherever the
// state lives: doc.go). Every method is safe to call from any goroutine;
// errors are Kafka error codes (0 for none).
type State interface {
	// Offsets returns the state of group's share-partition topicID/p for
	// each p in partitions, in the same order.
	Offsets(group string, topicID [16]byte, partitions []int32) []PartitionOffset
	// Initialized lists every topic ID and partition of group that has
	// share-partition state (DescribeShareGroupOffsets with null topics).
	Initialized(group string) map[[16]byte][]int32
	// SetStartOffset (AlterShareGroupOffsets; the coordinator has already
	// checked the group has no members) makes offset the start of
	// topicID/p for group, dropping in-flight state, durably.
	SetStartOffset(group string, topicID [16]byte, p int32, offset int64) int16
	// DeleteTopic (DeleteShareGroupOffsets) removes group's state for
	// every partition of topicID, durably.
	DeleteTopic(group string, topicID [16]byte) int16
	// DeleteGroup (DeleteGroups) removes all of group's state, durably.
	DeleteGroup(group string) int16
}

// MemberListener is optionally implemented by a State that keeps
// per-member state (the share Manager does; it knows only the sessions
// and share-partitions of its own broker, so in a cluster this works only
// where the group coordinator is also the data leader): the coordinator calls
// MemberLeft when a share group member leaves (ShareGroupHeartbeat epoch
// -1) or is fenced (session timeout), after removing it from the group.
//
// MemberLeft is called on the coordinator's shard loop, so it must not
// block: it only drops the member's share session at once (a ShareFetch
// parked in its long poll then acquires nothing more for it) and releases
// the records the member still holds on its own goroutine, durably.
//
// Kafka 4.2 releases a member's records when its share session ends (epoch
// -1 or the connection closing: ShareSessionCache notifies the
// SharePartitionManager's ShareGroupListener); its group coordinator does
// not tell the share-partition side about a leave or a fence, so there the
// records of a fenced member whose connection stays open wait for their
// acquisition locks to expire. Sluice releases them at once, as franz-go's
// kfake does: the member is no longer in the group, and its records are
// redelivered to the members that are.
type MemberListener interface {
	MemberLeft(group, member string)
}
