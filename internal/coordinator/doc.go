// Package coordinator is Sluice's group coordinator for Kafka's classic
// consumer-group protocol: membership (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup), committed offsets (OffsetCommit, OffsetFetch, OffsetDelete)
// and group administration (DescribeGroups, ListGroups, DeleteGroups),
// transactional offset commits (TxnOffsetCommit); and
// for the KIP-848 consumer group protocol (ConsumerGroupHeartbeat,
// ConsumerGroupDescribe), served when group.coordinator.rebalance.protocols
// includes "consumer"; and for KIP-932 share groups (ShareGroupHeartbeat,
// ShareGroupDescribe, the share group offset APIs), served unless
// group.share.enable is false.
//
// # Consumer groups (KIP-848)
//
// A group is of type classic or consumer (group.cg != nil); both live on the
// same shard loops and share committed offsets. A heartbeat (heartbeat848.go)
// (1) creates or updates the member, bumping the group epoch when a member
// joins or leaves, a subscription (names or an RE2 regex matched against
// whole topic names, internal topics included as in Kafka) changes, or the
// subscribed topics' metadata (IDs, partition counts) changes; (2) computes
// a new target assignment with the preferred server assignor (uniform:
// sticky and balanced; range) when the group epoch is ahead of the
// assignment epoch; (3) reconciles the member towards its target
// (reconcile.go): partitions leaving it are first pending revocation at its
// old epoch, and only once a heartbeat no longer reports them does it move
// to the target epoch and do other members get them. Session timeouts
// (group.consumer.session.timeout.ms) and rebalance timeouts (a member not
// revoking in time) remove members. Epoch 0 joins (an existing member id
// rejoins in place), -1 leaves, -2 is a static member leaving for now (it
// keeps its partitions until it rejoins or its session expires; a new
// member with its instance id takes them over, and its target, without a
// new group epoch unless its subscription differs). A classic JoinGroup for a
// non-empty consumer group is refused (GROUP_ID_NOT_FOUND, or
// INCONSISTENT_GROUP_PROTOCOL for a non-consumer protocol type): there is
// no online migration; an empty group of either type changes type on the
// other protocol's first join. Offset commits of consumer groups check the
// member and its epoch (OffsetCommit v9+; a commit with an older epoch is
// stale only for partitions assigned after it, as KIP-1251). The group is
// persisted as one Sluice record per group (persist848.go) and replayed
// with its members, who keep their epochs and assignments.
//
// # Share groups (KIP-932)
//
// A share group (share_*.go) lives on the same shard loops but in its own
// map (shard.shares), never in shard.groups: an id names at most one
// group of one type. ShareGroupHeartbeat for a classic or consumer group
// id, and ConsumerGroupHeartbeat, OffsetCommit, SyncGroup, Heartbeat and
// LeaveGroup for a share group id, answer GROUP_ID_NOT_FOUND; JoinGroup
// answers INCONSISTENT_GROUP_PROTOCOL; DescribeGroups reports it Dead;
// OffsetFetch finds no offsets — all as Kafka. A heartbeat (1) creates or
// updates the member (client-generated member id, epoch 0 joins, -1
// leaves), bumping the group epoch when a member joins or leaves, a
// subscription (topic names) changes or the subscribed topics' metadata
// changes; (2) computes the target assignment with the simple assignor
// when the group epoch is ahead of the assignment epoch — topic by topic,
// partitions dealt round robin over the subscribed members, or, with
// fewer partitions than members, members dealt over partitions so that
// partitions are shared; (3) the member takes its target and the
// assignment epoch in the same heartbeat: there is no revocation, since
// several members may hold a partition. Session timeout and heartbeat
// interval are the share.session.timeout.ms and
// share.heartbeat.interval.ms group configs over the group.share.*
// broker defaults; group.share.max.size bounds the members (there is no
// bound on the number of share groups: Kafka 4.2 has none). A member that
// leaves or is fenced is reported to the share-partition side
// (share.MemberListener, which must not block the loop), which ends its
// share session and releases its records. A share group
// has no committed offsets: its progress is share-partition state, owned
// by internal/share, which the coordinator reaches through share.State
// (SetShareState) for DescribeShareGroupOffsets, AlterShareGroupOffsets
// and DeleteShareGroupOffsets (alter and delete need an empty group;
// alter creates a missing group, as Kafka does) and for DeleteGroups. In
// the other direction the coordinator is internal/share's share.Groups:
// GroupType asks the shard loop, ShareSettings reads the group configs
// from the metadata image. A share group is persisted as one Sluice record
// per group (key version 101, share_persist.go) and replayed with its
// members and epochs; their session timers start after the load.
//
// # Transactional offsets
//
// TxnOffsetCommit (txn_offsets.go) is answered here, on the group's
// coordinator, as in Kafka. After member checks (only when given, v3+;
// a producer outside any group may commit for an unknown group) the
// offsets are appended to the group's partition as one transactional
// batch of the request's producer id and epoch, so the partition's
// producer state holds the transaction open and its LSO stops there; the
// first such batch of a transaction is verified with the transaction
// coordinator first (KIP-890: Verify for v0-4, where AddOffsetsToTxn added
// the partition; AddImplicit for v5+, which adds it), local or on another
// broker, under a guard that fails the append if a marker of the producer
// landed meanwhile. The offsets are then pending for that producer
// (shard.txnOffsets): invisible to OffsetFetch, and UNSTABLE_OFFSET_COMMIT
// for require_stable (KIP-447). The transaction coordinator writes its
// marker to the partition like to any other; once the marker is durable
// CompleteTxn (called by the local marker job, or by the WriteTxnMarkers
// handler) completes them on the loop: commit makes each the committed
// offset unless the group holds a later record of that partition (log
// offsets compared, Kafka's rule), abort drops them. A load does the same
// from the log (txn_replay.go): transactional records wait for their
// producer's marker, and stay pending without one. The log cleaner keeps
// what that needs: it cleans only below the LSO, drops aborted
// transactions' records and keeps markers.
//
// Group configs (ConfigResource GROUP) are not the coordinator's: they
// are ConfigRecords in the metadata log (internal/controller,
// internal/config/group.go), read on each use, and may exist for a group
// that does not.
//
// # What it owns
//
// Every group and every committed offset. Their durable form is Kafka's own
// records in the compacted internal topic __consumer_offsets (offset commit
// key v1 / value v3, or v1 when an expire timestamp is given; group metadata
// key v2 / value v3; a nil value is a tombstone), so tools that read that
// topic understand it. A group lives in partition
// abs(javaStringHashCode(groupID)) % partitions (Kafka's Utils.abs, which
// maps Integer.MIN_VALUE to 0), as in Kafka. The topic is created on first
// need (FindCoordinator, or a group write) through the controller, with
// offsets.topic.num.partitions partitions of offsets.topic.replication.factor
// replicas, and not at all while fewer brokers are registered
// (COORDINATOR_NOT_AVAILABLE meanwhile); when it already exists its real
// partition count is used.
//
// # Leadership
//
// A group's coordinator is the leader of its __consumer_offsets partition
// (leadership.go): FindCoordinator names that broker on every broker, and
// a group request at any other broker gets NOT_COORDINATOR, after which
// clients find the coordinator again. The broker's metadata subscriber
// hands every image to OnImage, after the partitions applied it: a shard
// starts, and replays its partition, when the image names this broker the
// partition's leader; it stops when the image names another broker or
// none (-1, a fenced leader). A stopped shard answers its queued and
// parked requests and its unfinished writes with NOT_COORDINATOR and its
// groups are dropped from memory; if this broker leads the partition again
// a new shard replays it, after the old one finished its writes. A
// partition led elsewhere has an idle shard with no loop. A shard replays
// its partition to the log end (LEO), not the HW: a new leader's HW lags
// a fetch round, and the records below its LEO are what the partition will
// commit (replica.InternalLog). A write (offset commit, group state) is
// answered once the partition's HW covers it: with other replicas, once
// every ISR member holds it and the ISR has min.insync.replicas members,
// waiting at most offsets.commit.timeout.ms (then COORDINATOR_NOT_AVAILABLE;
// NOT_COORDINATOR when leadership moved meanwhile); with one replica, once
// it is fsynced here, as before. ListGroups lists
// the groups of the partitions this broker leads, as in Kafka (admin
// clients ask every broker). Until replication exists (cluster step 3)
// only the leader's replica of a partition holds its records.
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
// A shard replays its partition from the log start before it serves;
// requests for its groups meanwhile get COORDINATOR_LOAD_IN_PROGRESS
// (Heartbeat answers NONE and SyncGroup REBALANCE_IN_PROGRESS, as Kafka
// does). When this broker has just created the topic, its first request
// waits for the (empty) replays instead. Loaded groups with members come back Stable with their generation,
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
//     removal, or when the shard stops (NOT_COORDINATOR when leadership
//     moved, COORDINATOR_NOT_AVAILABLE when the broker shuts down).
//   - At most one running shard holds a partition's groups, and only while
//     the metadata this broker last followed names it the leader; a shard
//     never writes after its successor began replaying.
//   - In-memory offsets equal what replaying the log up to the last durable
//     write gives, because effects are applied in log order (a committed
//     offset is the committed record of its partition latest in the log).
//   - A transactional offset is pending from its append until its
//     producer's next marker in the partition (or its write failed), and
//     visible to OffsetFetch only after a commit marker is durable.
//   - Consumer groups: a partition is owned (assigned or pending
//     revocation) by at most one member at any time; a member epoch only
//     grows; assignment epoch <= group epoch; a heartbeat is answered only
//     once the group state it reports is durable.
//   - Share groups: an id is in shard.shares or shard.groups, never both;
//     assignment epoch <= group epoch; a member's epoch is the assignment
//     epoch it last took and its assignment is that epoch's target for it;
//     a heartbeat is answered only once the group state it reports is
//     durable.
package coordinator
