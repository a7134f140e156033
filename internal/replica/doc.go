// Package replica owns the partitions this broker hosts: each Partition wraps
// one log with the high watermark, the leader epoch, the waiters of
// long-polling fetches and the producer state (idempotent and transactional
// producers: sequence checks, open transactions, the last stable offset and
// the aborted-transaction index; producer.go, with its snapshot files
// documented in producer_snapshot.go); the Manager opens, reconfigures and
// deletes partitions as the metadata image changes. It knows nothing of TCP
// beyond the request function its follower fetchers are given.
//
// INVARIANT: HW <= durable offset <= LEO while flush.messages is 1 (the
// default): a consumer never sees a record the broker could still lose, and
// an ack is only sent for offsets below the HW. With flush.messages > 1 the
// HW follows the LEO and fsync happens in the background.
//
// Replication (hw.go, follower.go, fetcher.go): a partition's role comes
// from the image. On the leader the HW is computed in one place
// (hwCapLocked -> ISR.HighWatermark): min(own durable offset, the last
// replica-fetch offset of every member of the maximal ISR, KIP-497, and of
// every caught-up eligible follower); followers fsync what they copied
// before they fetch again, so that offset is durable on them.
// INVARIANT: HW <= the durable offset of every ISR member. A follower's
// log is its leader's byte for byte (AppendReplica keeps offsets and
// epochs); its HW is min(leader's HW, own LEO). The Manager puts each
// followed partition on the fetch goroutine of its leader (fetcher.go).
//
// Restarts (hwcheckpoint.go): every partition's HW is saved to
// replication-offset-checkpoint in the log directory every
// replica.high.watermark.checkpoint.interval.ms and at clean shutdown. A
// partition with more than one replica reopens at min(checkpointed HW,
// LEO) (0 without an entry) and its leader moves it as the ISR fetches; a
// partition whose only replica is this broker reopens at its LEO, as
// before. A fetcher truncation lowers the file's entry at once.
//
// Coordinators (internal_log.go, InternalLog): they replay their internal
// partitions to the LEO and their writes are answered once the HW covers
// them (acks=all with min.insync.replicas when the partition has other
// replicas; the local fsync with one).
//
// INVARIANT: LSO <= HW: the last stable offset is min(HW, first offset of
// the oldest transaction that is open or whose marker is not yet below the
// HW), so read_committed never sees past what read_uncommitted may see.
//
// INVARIANT: producer state is applied in log order: every append (client
// batches, the broker's own writes, transaction markers) holds
// Partition.appendMu across the producer-state check, the log append and
// the state update, so the state is always what replaying the log up to the
// LEO gives, and two pipelined batches of one producer cannot both pass the
// sequence check.
//
// Leader changes (truncate.go, diverge.go, isr.go; the replication data
// path calls them): a follower whose log diverged from a new leader's
// truncates to the divergence point (Partition.TruncateTo) and one whose
// log lies wholly below the leader's start is reset (Partition.ResetTo);
// both leave the log, the leader epoch cache, the producer state (reloaded
// from snapshots and the log as at open) and the HW exactly as opening the
// shortened log would. The divergence point comes from Kafka's KIP-595
// rule on both sides: the leader answers a fetch's LastFetchedEpoch with
// DivergingEpoch from its epoch cache (Partition.DivergingEpoch), and the
// follower turns that answer into an offset from its own cache
// (Partition.TruncationOffset); the fetcher uses exactly these, and only
// while the partition is still followed in the leader epoch its fetch was
// built for (followingLocked, under appendMu as followImage): an answer
// that arrives after the image made this broker the leader never appends
// to or truncates the new leader's log. The leader's ISR decisions are the ISR type: a pure, clock-free record of
// each follower's fetch offset and last caught-up time that says who may
// join, who fell behind for longer than replica.lag.time.max.ms, and how
// far the HW may go over the maximal ISR (KIP-497) while an
// AlterPartition is in flight. isr_wiring.go drives it: the leader starts
// one per leader epoch (setRole), every replica fetch records into it and
// may propose an expansion, a ticker every replica.lag.time.max.ms / 2
// proposes shrinks, and the proposal goes to the controller through the
// broker's ISRControl.Alter on its own goroutine (no partition lock is
// held across it); answers and images commit it.
//
// Storage health: a failed partition log takes its log directory offline
// (LogDir, logdir.go: appends and reads return ErrOffline) until the
// broker's maintenance loop probes the directory successfully and heals
// each failed log in place, rebuilding its producer state and HW as at
// open. The Scrubber (scrub.go) verifies sealed segments in the background
// and remembers the damage it finds on the partition, so reads stop short
// of it or fail with ErrCorrupt.
//
// Lock order: Manager.mu before fetchers.mu before fetcher.mu before
// Partition.appendMu before Partition.psMu and Partition.mu (psMu and mu
// are never held together, and only briefly). Only appendMu (and
// fetcher.mu, while a fetch response is applied) is held across log I/O
// (the append, a producer snapshot when the log rolls, a heal, a
// follower's fsync, a truncation or reset). ISR's own mutex is a leaf:
// nothing else is locked while it is held (its eligibility check is an
// atomic image load); Partition.mu may be held when it is taken.
// isrControl.mu is taken with no partition lock held.
package replica
