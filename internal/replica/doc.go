// Package replica owns the partitions this broker hosts: each Partition wraps
// one log with the high watermark, the leader epoch and the waiters of
// long-polling fetches; the Manager opens, reconfigures and deletes
// partitions as the metadata image changes. It knows nothing of TCP.
//
// INVARIANT: HW <= durable offset <= LEO while flush.messages is 1 (the
// default): a consumer never sees a record the broker could still lose, and
// an ack is only sent for offsets below the HW. With flush.messages > 1 the
// HW follows the LEO and fsync happens in the background.
//
// Lock order: Manager.mu before Partition.mu; neither is held across log I/O
// except Partition.appendMu, which only serializes appends to one log.
package replica
