// Package coordinator is Sluice's group coordinator for Kafka's classic
// consumer-group protocol: membership (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup), committed offsets (OffsetCommit, OffsetFetch, OffsetDelete)
// and group administration (DescribeGroups, ListGroups, DeleteGroups).
//
// # What it owns
//
// Every group and every committed offset. Their durable form is Kafka's own
// records in the compacted internal topic __consumer_offsets (offset commit
// key v1 / value v3, or v1 when an expire timestamp is given; group metadata
// key v2 / value v3; a nil value is a tombstone), so tools that read that
// topic understand it. A group lives in partition
// (javaStringHashCode(groupID) & 0x7fffffff) % partitions, as in Kafka. The
// topic is created on first need with offsets.topic.num.partitions
// partitions; when it already exists its real partition count is used.
//
// # Goroutines
//
// One shard per __consumer_offsets partition, each with one loop goroutine
// that owns the shard's groups and offsets: every request, every timer
// (session, rebalance, initial delay, pending sync, offset expiry) and every
// "records are durable" notification runs as a closure on that loop, one at
// a time, as in Kafka's CoordinatorRuntime. Nothing else touches group
// state, so there are no locks around it. Timers go through the Clock
// interface so tests control time.
//
// Request handlers (the connection's read loop) only pick the shard and
// queue a closure; the closure answers through a buffered channel that the
// handler's Reply waits on. JoinGroup and SyncGroup park their answer in the
// member until the rebalance moves on.
//
// # Writes and durability
//
// A shard appends its records as one batch to its partition and waits for
// the fsync (Partition.Commit) on a helper goroutine, which reports back to
// the loop. Effects are applied on the loop in log order once durable:
// committed offsets become visible to OffsetFetch only then, and a group
// becomes Stable (and SyncGroup answers) only once its assignment is on
// disk. Membership itself (who is in the group, state transitions) changes
// at once, as Kafka does.
//
// # Loading
//
// A shard whose partition has data replays it from the log start before it
// serves; requests for its groups meanwhile get COORDINATOR_LOAD_IN_PROGRESS
// (Heartbeat answers NONE and SyncGroup REBALANCE_IN_PROGRESS, as Kafka
// does). Loaded groups with members come back Stable with their generation,
// leader, protocol and assignments; their members must heartbeat within
// their session timeout.
//
// # Invariants
//
//   - One member owns a given generation's assignment; the generation
//     increases by exactly one per completed join phase (initNextGeneration),
//     whether the group then has members (CompletingRebalance) or not (Empty).
//   - A group is in exactly one of Empty, PreparingRebalance,
//     CompletingRebalance, Stable, Dead; transitions follow Kafka's table
//     (see transition). A Dead group is no longer in its shard's map.
//   - leader is "" exactly when the group has no members, else a member id.
//   - staticMembers maps each group.instance.id to the one member holding it.
//   - Every parked JoinGroup/SyncGroup is answered exactly once: by the
//     rebalance, by a newer request of the same member, by the member's
//     removal, or with COORDINATOR_NOT_AVAILABLE when the shard stops.
//   - In-memory offsets equal what replaying the log up to the last durable
//     write gives, because effects are applied in log order.
package coordinator
