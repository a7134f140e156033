// Package txn is Sluice's transaction coordinator: it hands out producer
// ids (InitProducerId), keeps each transactional id's state in the internal
// topic __transaction_state, and drives transactions to their end
// (AddPartitionsToTxn, AddOffsetsToTxn, EndTxn), writing commit/abort
// markers to every partition of a transaction, the groups'
// __consumer_offsets partitions included. It aborts transactions that
// outlive their timeout. TxnOffsetCommit is the group coordinator's
// (coordinator/txn_offsets.go), as in Kafka. Per-partition producer state
// (sequence checks, last stable offset, aborted transactions) is package
// replica's.
//
// # Producer ids
//
// Ids are allocated in blocks of 1000, as KRaft does: the active
// controller appends a ProducerIdsRecord moving the cluster's next
// producer id past the block (controller.AllocateProducerIDs), and only
// once that record is durable in the metadata log is the first id of the
// block handed out. On the metadata quorum's leader that is a call into
// the controller; any other broker sends AllocateProducerIds (67) to the
// leader over the inter-broker client (pid_remote.go). A restarted broker
// asks for a new block, so an id is never handed out twice, even after a
// crash (at most a block's worth of ids is skipped). An older Sluice kept
// the block end in <log.dirs>/producer-ids; such a file is honoured once
// (the first block starts above it) and removed.
//
// # Leadership
//
// A transactional id lives in partition
// abs(javaStringHashCode(id)) % 50 of __transaction_state (Kafka's
// transaction.state.log.num.partitions default; the topic's real count is
// used when it exists), and its coordinator is that partition's leader
// (Locate, for FindCoordinator). The coordinator follows the metadata
// image (OnImage, applied by its own goroutine): a shard loads (replays
// its partition to the log end, not the HW: replica.InternalLog) when this
// broker becomes the partition's leader, and
// unloads when another broker, or none, leads it; a new leader epoch
// reloads it. Requests for a shard led elsewhere get NOT_COORDINATOR;
// while it replays, COORDINATOR_LOAD_IN_PROGRESS (after waiting up to
// Config.LoadWait). The leader epoch at load is the coordinator epoch the
// shard's markers carry, so a partition refuses markers of a coordinator
// that lost the transaction to a newer one
// (TRANSACTION_COORDINATOR_FENCED).
//
// A shard's writes (its transaction state, and the markers it writes
// locally or a partition leader writes for it through WriteTxnMarkers) are
// answered once the partition's HW covers them (replica.CommitReplicated):
// acks=all with min.insync.replicas (transaction.state.log.min.isr for its
// own topic) when the partition has other replicas, the local fsync with
// one, waiting at most Config.RequestTimeout.
//
// # Transaction state
//
// Records are Kafka's: key TxnMetadataKey v0
// (transactional id), value TxnMetadataValue v0 (producer id and epoch,
// timeout, state, partitions, timestamps); a null value is a tombstone.
//
// A transaction's group offsets are not here: as in Kafka, the group's
// coordinator writes them to the group's __consumer_offsets partition as
// transactional records of the producer, and they commit or abort with
// the marker this coordinator writes to that partition (AddOffsetsToTxn,
// or TxnOffsetCommit v5+ through AddImplicit, makes it a partition of the
// transaction: partition PartitionFor(group) of __consumer_offsets).
//
// Legacy: an older Sluice kept them here, in records of its own (key
// TxnMetadataKey version 100: transactional id, NUL, group; value a
// TxnOffsetCommitRequest v3 body), tombstoned at Complete. None is written
// any more; they are still read at load, so a transaction an upgrade
// finds open or prepared with such a record commits those offsets once
// (Groups.CommitLegacyTxnOffsets, before Complete, which tombstones it;
// legacy.go). This needs the group's coordinator on this broker, as the
// old version did; it is retried until it is.
//
// # Serial per partition
//
// Each __transaction_state partition is a shard with one mutex. A request
// holds it from validation to its answer, across its writes to the
// shard's own partition and their fsyncs, so a shard's transactions
// change one at a time and every change is durable before it is visible.
// The mutex is never held across a network call or a wait for another
// request: a producer id block is taken, and a completing transaction
// awaited, with the mutex released (the operation then runs again,
// Coordinator.do). Shards are independent.
//
// # Ending a transaction
//
// EndTxn writes PrepareCommit (or PrepareAbort) and waits for it to be
// durable: from then on the outcome is decided, and EndTxn is answered
// (Kafka's behaviour). A marker job (markers.go) then writes a marker to
// each partition of the transaction at its current leader: this broker's
// partitions through the same append path as data (so the partition's
// producer state sees it), the others' with WriteTxnMarkers (27) through
// the inter-broker client. Partitions whose leader is unknown, moved or
// unavailable are retried with backoff, re-resolving the leader from the
// image each time; a deleted partition needs no marker. A marker durable
// in a __consumer_offsets partition is reported to the group coordinator
// (Groups.CompleteTxn; on another broker its WriteTxnMarkers handler does
// it), which completes the transaction's offsets there. Once every marker
// is durable the job writes CompleteCommit (CompleteAbort). Until then the
// transaction answers CONCURRENT_TRANSACTIONS to AddPartitionsToTxn,
// AddOffsetsToTxn, EndTxn and InitProducerId (and the group coordinator's
// verification of a TxnOffsetCommit fails). When every marker goes to
// this broker's own partitions (a single node), those requests and EndTxn
// itself first wait for the job (up to Config.LocalWait), so a single node
// behaves as if completion were synchronous. A broker that stops between
// Prepare and Complete, or loses the partition's leadership, leaves the
// Prepare record for the next load, which completes the transaction again
// (markers are idempotent for the partition: a marker for a producer with
// no open transaction only updates its epoch).
//
// # Verification and stable offsets
//
// Before a transactional batch opens a transaction in a partition, the
// Produce handler asks Verify whether the producer's current epoch has an
// ongoing transaction containing that partition (KIP-890 part 1), so a
// late batch of an ended transaction cannot open one that nobody would
// end. When another broker coordinates the transaction, the partition
// leader asks it with AddPartitionsToTxn v4+ in its broker form
// (verify_only; remote.go); Produce v12+'s implicit add goes the same way
// without verify_only. The group coordinator asks the same (Verify, or
// AddImplicit for v5+) before TxnOffsetCommit's first transactional batch
// in a __consumer_offsets partition. Clients on transaction version 2
// (tv2.go) skip that dance: Produce v12+ adds the partition itself
// (AddImplicit), TxnOffsetCommit v5+ adds the group's partition through
// the group coordinator, and EndTxn v5+ bumps the epoch so late batches
// are fenced. The state record is TxnMetadataValue v1 for them, with the
// client's transaction version and the previous producer id as tags.
// OffsetFetch's require_stable (KIP-447) is the group coordinator's.
// Between the check and the append the partition keeps a guard
// (replica.TxnGuard): a marker landing meanwhile ended the transaction
// checked, on version 1; on version 2 the epoch bump of every end refuses
// the batch instead, so a marker sent twice (a WriteTxnMarkers retried
// after a timeout) does not fail the next transaction's batches.
//
// # Timeouts and fencing
//
// A transaction open longer than its timeout (checked every second) is
// aborted with the epoch bumped, so its producer is fenced; the producer
// re-initializing with its old epoch gets the bumped one (KIP-360), which
// works until a restart (the previous epoch is kept in memory only, as
// TxnMetadataValue v0 has no field for it). Fencing aborts keep the
// producer id the data was written with; at the last epoch the next
// initialization moves to a new id.
//
// # Not yet
//
// transactional.id.expiration.ms is not implemented (idle transactional
// ids never expire); transaction.version is finalized at 2 unless
// UpdateFeatures lowers it, which changes only what ApiVersions tells
// clients: the version 1 flow (clients capped below Produce v12 / EndTxn
// v5) and the version 2 flow both stay accepted.
//
// # Invariants
//
//   - A transactional id's epoch only grows; a request with an older epoch
//     is fenced (PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for old
//     versions) and never changes state.
//   - Markers of a transaction are written only after its Prepare record is
//     durable; Complete only after every marker is durable.
//   - In-memory state equals the replay of the shard's log; only a shard
//     whose partition this broker leads (per the followed image) holds
//     state, and a load or marker job of an earlier generation (the shard
//     unloaded or reloaded since) changes nothing.
//   - No shard mutex is held across a network call, nor across a call
//     into the group coordinator (CompleteTxn runs from the marker job,
//     which holds none).
//   - Every partition of a transaction, __consumer_offsets partitions
//     included, gets its marker before Complete; no offsets are written
//     to __transaction_state.
package txn
