// Package share holds the share-partition half of KIP-932 share groups:
// share-partition state, share sessions, and what ShareFetch (78) and
// ShareAcknowledge (79) do with them. Membership and assignment live in the
// group coordinator; seam.go is the interface between the two.
//
// # Share-partitions
//
// A share-partition is one (group, topic ID, partition). It is created on
// the first ShareFetch of the partition by a member of the group (or by
// AlterShareGroupOffsets), and its start offset (SPSO) is then set from
// share.auto.offset.reset: latest is the high watermark, earliest the log
// start offset, by_duration:<ISO-8601> the first offset whose timestamp is
// at most that long ago (ListOffsets by time; the HW when none is). The
// initial SPSO is made durable before any record is delivered.
//
// Offsets from the SPSO up to end (the next offset never acquired) are in
// flight, each with a state and a delivery count:
//
//	Available    may be acquired (again)
//	Acquired     locked by one member until its deadline
//	             (share.record.lock.duration.ms after acquisition or renewal)
//	Acknowledged accepted
//	Archived     rejected, a gap, delivered delivery.count.limit times,
//	             a control record, or an aborted transaction's record
//	             (read_committed); never delivered again
//
// Acquisition first re-acquires Available in-flight records in offset
// order, then takes new batches from end up to the HW (the LSO when
// share.isolation.level=read_committed), whole batches at a time unless the
// fetch asked for ShareAcquireMode record_limit. New records are only taken
// while fewer than group.share.partition.max.record.locks offsets are in
// flight. The batches read are sent as they are stored (sendfile, like
// Fetch); offsets outside the acquired ranges are not the member's, and
// the client keeps only the acquired ones.
//
// Acknowledgements: accept makes a record Acknowledged, reject and gap
// Archived, release Available (Archived at the delivery limit), renew
// (v2) moves the lock deadline. Only the member holding a record's lock may
// acknowledge it (else INVALID_RECORD_STATE, and nothing of the partition's
// acknowledgement changes). An expired lock is a release. Whenever the
// in-flight prefix is finished the SPSO moves past it.
//
// INVARIANTS
//   - SPSO <= every in-flight offset < end; the record at the SPSO, if
//     any, is Available or Acquired.
//   - an Acquired record has exactly one owner and a lock deadline;
//     another member's request never acquires or acknowledges it.
//   - an Available record was delivered fewer times than the limit.
//   - every acknowledgement that changed state is durable in
//     __share_group_state before it is answered.
//
// # Persistence: __share_group_state
//
// State is stored in Kafka's internal compacted topic __share_group_state
// (share.coordinator.state.topic.num.partitions partitions, 50 by default,
// created on first need). A share-partition lives in partition
// abs(javaHash("group:topicId:partition")) % n, as Kafka's share
// coordinator places it. Each write is one batch of one record:
//
//	key   ShareSnapshotKey: int16 0 (record type ShareSnapshot), GroupId
//	      (int16-length string), TopicId (16 bytes), Partition int32
//	value ShareSnapshotValue v0 (flexible): int16 0, SnapshotEpoch int32
//	      (always 0), StateEpoch int32, LeaderEpoch int32, StartOffset
//	      int64, CreateTimestamp int64, WriteTimestamp int64, StateBatches
//	      compact array of {FirstOffset int64, LastOffset int64,
//	      DeliveryState int8 (0 Available, 2 Acknowledged, 4 Archived),
//	      DeliveryCount int16, tags}, tags
//	null value: tombstone (DeleteShareGroupOffsets, DeleteGroups)
//
// Every record is a full snapshot (Kafka also writes ShareUpdate deltas,
// key type 1, between snapshots; Sluice writes none and skips them on
// replay), so the last
// record of a key is the state and compaction keeps exactly that. State
// batches cover the in-flight offsets that are not fresh; an Acquired
// record is stored as Available with its delivery count, as a lock does
// not survive a restart. Snapshots are written when the first fetch
// initializes a share-partition, when acknowledgements or a session's
// release change states, and by AlterShareGroupOffsets; lock expiry and
// acquisition are not written (a restart redelivers those records).
//
// # The share coordinator and the persister (cluster)
//
// As in Kafka, the share-partition side (this Manager, on the data
// partition's leader, where ShareFetch/ShareAcknowledge arrive) does not
// own its state's partition. The share coordinator (coordinator.go) runs
// on the broker leading each __share_group_state partition: it follows
// the metadata image like the group and transaction coordinators (a
// partition is replayed when this broker becomes its leader, answering
// COORDINATOR_LOAD_IN_PROGRESS meanwhile, and dropped when another broker
// or none leads it: NOT_COORDINATOR), keeps the last snapshot of each key
// and answers the share-group state APIs (83 InitializeShareGroupState, 84
// ReadShareGroupState, 85 WriteShareGroupState, 86 DeleteShareGroupState,
// 87 ReadShareGroupStateSummary; inter-broker, CLUSTER_ACTION), each
// change committed in its partition before it is answered: replayed to
// the log end (LEO) at load, since a new leader's HW lags a fetch round,
// and each write answered once the HW covers it (with other replicas:
// every ISR member holds it, min.insync.replicas, within
// offsets.commit.timeout.ms; with one replica: the local fsync), as
// replica.InternalLog does it.
//
// The persister (persister.go, Kafka's DefaultStatePersister) is how the
// Manager reaches it: a local call when this broker leads the key's state
// partition, else the RPC to its leader over the inter-broker client
// (Remote), retried with backoff for up to 10 s while the answer is
// NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
// the partition has no leader or the broker cannot be reached. A
// share-partition's state is read when it is first fetched on this broker
// (nothing is replayed at start); a write that fails is answered as an
// error (never as durable) and drops the share-partition from this
// broker, so it is read back from the share coordinator on next use. A
// Manager without a Remote (a single node, unit tests) has a share
// coordinator leading every state partition, each loaded on first use.
//
// Epochs, as Kafka uses them: every write carries the state epoch read
// (or last written) and the data partition's leader epoch. The share
// coordinator remembers the highest leader epoch that read or wrote a key
// (in memory, and from the snapshot when it loads) and answers an older
// one FENCED_LEADER_EPOCH; a write with an older state epoch than stored
// is FENCED_STATE_EPOCH. AlterShareGroupOffsets initializes the state at
// the next state epoch, so a broker still holding the old state is fenced
// at its next write (and drops it); it may hand out records from the old
// state until then, as Kafka's may. A fenced writer answers the client
// NOT_LEADER_OR_FOLLOWER. Sluice's writes carry the whole state (Kafka's
// carry the changed batches, which its coordinator merges); the share
// coordinator stores what a write carries.
//
// Leadership of data partitions: when the metadata no longer names this
// broker the leader of a data partition (or names it at a new leader
// epoch), its share-partitions are dropped here (acquisition locks end;
// the next leader reads the last snapshot, in which Acquired records are
// Available), and read again from the share coordinator if leadership
// comes back.
//
// The group coordinator's share admin APIs (DescribeShareGroupOffsets,
// AlterShareGroupOffsets, DeleteShareGroupOffsets, DeleteGroups of a
// share group) go through State, which is this Manager: a share-partition
// loaded here answers from memory, any other from its share coordinator
// (ReadShareGroupStateSummary; Initialize/DeleteShareGroupState for the
// changes). Lag is the high watermark (the local partition's, else
// ListOffsets to its leader; -1 when that fails) minus the start offset
// minus the in-flight records acknowledged or archived. Listing a group's
// share-partitions (DescribeShareGroupOffsets with null topics) and
// deleting a group's state ask the local share coordinator and, in a
// cluster, every other broker leading a state partition, about every
// partition of every non-internal topic (one request per broker): Kafka
// keeps the group's initialized topics in the group coordinator instead.
// State of a state partition without a leader is left out. When a topic is
// deleted, each broker's share coordinator deletes the state it holds for
// it.
//
// Groups: the share-partition side asks Groups only for ShareSettings
// (group configs are in the metadata image on every broker) and GroupType;
// a group coordinated on another broker is GroupTypeNone here, which does
// not refuse a fetch (Kafka's share fetch path checks only the group's
// READ authorization). MemberListener works only where the group
// coordinator and the share-partition are one broker; elsewhere a member
// that leaves or is fenced keeps its records until its share session ends
// (ShareFetch/ShareAcknowledge epoch -1, or its connection closes) or the
// acquisition locks expire, which is Kafka's behaviour.
// # Share sessions
//
// A share session (group, member id) is the set of partitions a member
// fetches from this broker and the epoch its next request must carry.
// ShareFetch epoch 0 opens one (replacing the member's previous session,
// whose records are released), later epochs must match
// (INVALID_SHARE_SESSION_EPOCH; SHARE_SESSION_NOT_FOUND without a session)
// and add the request's partitions and remove its forgotten ones; epoch -1
// (ShareFetch or ShareAcknowledge) acknowledges and then closes the
// session, releasing every record the member still holds. A session also
// ends when the connection that opened it closes, and when the member
// leaves the group or is fenced (MemberListener, called by the
// coordinator; Kafka 4.2 itself waits for the session to end or the locks
// to expire): its records in every share-partition of the group are then
// released. A ShareFetch parked in a session that ended acquires nothing
// more (SHARE_SESSION_NOT_FOUND): Acquire checks the session under the
// share-partition's lock, after which the release sees what it took.
// group.share.max.share.sessions bounds their number
// (SHARE_SESSION_LIMIT_REACHED).
package share
