// Package log is one partition's durable, segmented log.
//
// It owns the partition directory it is opened on (for example
// data/orders-0): the segment files, their indexes and the log start offset
// file. It stores Kafka v2 record batches exactly as the producer sent them
// (the broker has validated them), rewriting only the base offset and
// partition leader epoch in place, which the CRC does not cover. It assigns
// offsets, rolls segments, serves reads as file ranges for sendfile, answers
// timestamp lookups, enforces retention and recovers after a crash. It does
// not validate records, track producers or know about replication beyond
// TruncateTo, ResetTo and AppendReplica (a follower's append of its
// leader's batches with their offsets and epochs, append_replica.go).
//
// # Invariants
//
//   - Offsets are strictly monotonic: in file order, each batch's base offset
//     is above the previous batch's last offset, from the segment's base
//     offset (its file name) on, and segments follow each other without
//     overlap. In the active segment each base offset is exactly the
//     previous last offset + 1; sealed segments may have gaps once the
//     cleaner compacted them (offsets are never reassigned).
//   - StartOffset <= EndOffset (the LEO) and DurableOffset <= EndOffset.
//     (DurableOffset may lag StartOffset: DeleteRecordsBefore needs no fsync
//     of the records it drops.)
//   - A segment file never holds bytes past its last whole, valid batch once
//     Open returns; the in-memory size is the file size.
//   - Index entries never point past the log: every offset index position is
//     inside the file, at a batch whose base offset is the entry's offset.
//     Entries are written after the batches they point to.
//   - Every segment but the last (the active one) is fsynced, with its
//     indexes, before the next segment's file is created.
//
// # Locks and goroutines
//
// The package starts no goroutines: the caller drives MaybeRoll,
// EnforceRetention and Clean (compaction, clean.go) periodically, and Sync
// runs the fsync on the calling goroutine. All methods are safe for
// concurrent use.
//
// Clean reads sealed segments without locks (they never change), writes
// new files aside and takes appendMu only to swap a group of old segments
// for its cleaned one (renames, deletions, directory fsyncs); a swap that
// finds the group changed (retention, close) is abandoned.
//
// Log.appendMu serializes every mutation (Append, roll, retention,
// truncation, DeleteRecordsBefore, SetConfig, Close) and is held across the
// file writes and fsyncs they make. Log.mu guards the state readers use (the
// segment list, each segment's size/next offset/max timestamp and in-memory
// indexes, the LEO, the start offset, the config); mutations hold appendMu
// and mu while changing that state, so holding either one is enough to read
// it. Readers (Read, OffsetForTimestamp, MaxTimestamp, the fsync leader)
// take only mu, briefly, to snapshot a segment and its size, then pread
// without locks, so they never wait for a write or fsync. Log.syncMu guards
// the group-commit state; no fsync runs under it. Lock order: appendMu, then
// syncMu, then mu.
//
// Segment files are reference counted (the Log's list holds one reference,
// each ReadResult and running fsync one more); the last release closes them,
// so a deleted segment stays readable through its open descriptors.
//
// # Files
//
// All integers are big endian. Segment files are named by the segment's base
// offset, "%020d": 00000000000000000000.log, 00000000000000000000.index,
// 00000000000000000000.timeindex.
//
// A .log file is v2 record batches back to back, exactly as produced but
// with baseOffset and partitionLeaderEpoch rewritten (see package record for
// the 61-byte header):
//
//	pos 0                     pos p1                    pos p2
//	+-------------------------+-------------------------+----
//	| batch base=B, last=B+k  | batch base=B+k+1 ...    | ...
//	+-------------------------+-------------------------+----
//	 baseOffset(8) batchLength(4) epoch(4) magic=2(1) crc(4) ... records
//
// A .index file is the sparse offset index: one 8-byte entry per
// IndexIntervalBytes of log (an entry is due when at least that many bytes
// were appended since the last one; the batch at position 0 is never
// indexed, it is implied):
//
//	 0        4        8
//	+--------+--------+
//	| relOff | pos    |   relOff = batch baseOffset - segment base (uint32)
//	+--------+--------+   pos    = file position of that batch (uint32)
//
// Entries are strictly increasing in both fields. Lookup of offset o takes
// the last entry with relOff <= o - base (or position 0) and scans batch
// headers forward from its position.
//
// A .timeindex file is the sparse time index: 12-byte entries, written
// together with offset index entries when the largest timestamp grew, plus
// one final entry when the segment is sealed:
//
//	 0                 8        12
//	+-----------------+--------+
//	| maxTimestamp    | relOff |   maxTimestamp = largest batch maxTimestamp
//	+-----------------+--------+                  in the segment so far (int64)
//	                               relOff = base offset of the first batch
//	                                        carrying it, minus segment base
//
// Timestamps are strictly increasing, offsets non-decreasing. An entry
// promises that no record up to where it was written is newer than its
// timestamp, so a search for ts starts at the last entry older than ts. The
// last entry of a sealed segment is its largest timestamp (retention).
//
// Both indexes are plain files, appended with pwrite after the log write,
// and read whole into memory at Open; lookups use the in-memory copy.
//
// # Compaction files
//
// The cleaner-offset-checkpoint file holds the cleaner's progress, replaced
// atomically like log-start-offset:
//
//	sluice-cleaner-checkpoint v1\n
//	<first dirty offset>\n      offsets below were cleaned by an earlier pass
//	<delete horizon ms>\n       earliest horizon of a kept tombstone, -1 none
//
// TruncateTo and ResetTo lower the first dirty offset to the new log end
// before they change the log (the offsets from there will hold new batches
// no pass has seen), and a pass that ran across one of them does not write
// its checkpoint.
//
// A cleaning pass rewrites groups of adjacent sealed segments, each into one
// new segment named by the group's first base offset. Its files are written
// as <base>.log.cleaned, .index.cleaned, .timeindex.cleaned and fsynced;
// renamed to .swap (the .log last; "<base>.log.swap" exists is the commit
// point) and the directory fsynced; then the group's other segments are
// deleted and the .swap suffixes stripped (replacing the first segment's
// files) and the directory fsynced again. Open deletes *.cleaned files and
// index .swap files without a .log.swap (uncommitted: the old segments are
// whole), and completes a committed swap: it deletes the segments whose base
// lies inside the new segment's offsets and strips the suffixes (an index
// without a .swap file is removed and rebuilt). A cleaned batch keeps its
// base offset, its records' offset deltas and its lastOffsetDelta; a batch
// whose tombstones wait for their delete horizon has attribute bit 0x40 set
// and the horizon in baseTimestamp (KIP-534), with the record timestamp
// deltas re-based so record timestamps do not change.
//
// Other files in the directory belong to the callers and are left alone by
// the log (recovery only removes leftover *.tmp files, which callers use
// the same way for atomic replacement): package replica keeps its producer
// state snapshots there as "%020d.snapshot" (format in
// replica/producer_snapshot.go) and partition.metadata. ActiveBase lets the
// caller notice a roll, to snapshot its own state at the new base offset.
//
// The log-start-offset file holds the start offset set by
// DeleteRecordsBefore, as two text lines:
//
//	sluice-log-start-offset v1\n
//	<decimal offset>\n
//
// It is replaced atomically: write log-start-offset.tmp, fsync it, rename it
// over log-start-offset, fsync the directory. Without the file the start
// offset is the first segment's base offset; with it, the larger of the two.
//
// # Durability and crash behaviour
//
// Append returns once its single write reached the page cache. Sync is a
// group commit: it fsyncs the active segment's .log (and the directory, if a
// segment was created or deleted since the last directory fsync) and then
// moves DurableOffset. Sealed segments were fsynced at roll. Index files of
// the active segment are not fsynced by Sync: Open rebuilds them. A failed
// fsync or write fails the log (ErrFailed) until Heal (or a reopen) runs
// recovery, because the page cache may have dropped the dirty pages: only
// recovery can tell what is on disk. A failed append publishes nothing
// (size, indexes and LEO stay the last good batch's) and cuts whatever part
// of it reached the file.
//
// Heal (heal.go) is that recovery in place, once the disk takes writes
// again: the files are reloaded into fresh state exactly as Open does, and
// with dropUnsynced everything at or above the last fsynced offset is cut.
// Cut offsets are a gap: the LEO does not move back (a new segment starts
// at the old LEO), so no offset is handed out twice, and a Sync that waits
// for a cut offset returns ErrDropped. Finding less than was fsynced is
// ErrLost, and the log stays failed.
//
// Verification (verify.go) reads whole segments and checks every batch's
// header, CRC-32C and offsets without stopping at the first damage: the
// broker's scrubber verifies sealed segments (VerifySegment) and `sluice
// log verify` whole directories (VerifyDir). It changes nothing.
//
// Recovery (Open):
//
//   - Files: interrupted compaction swaps are undone or completed (see
//     "Compaction files"); leftover *.tmp files and index files without a
//     .log are removed.
//   - The last segment is always scanned from position 0, batch by batch: the
//     header must parse (magic 2, batchLength >= 49), the batch must lie
//     inside the file, its base offset must be the expected next offset (at
//     least that, in a sealed segment: compaction leaves gaps), its
//     lastOffsetDelta >= 0 and its CRC-32C must match. At the first batch
//     that fails, the file is truncated there and fsynced, and a warning
//     says what was dropped and why. A file of garbage becomes empty. Its
//     indexes are rebuilt from the scan and rewritten when they differ.
//   - Sealed segments are trusted when their indexes check out: whole
//     entries, strictly monotonic, inside the file, the last offset entry
//     pointing at a batch with that base offset, the batches after it
//     reaching exactly the end of the file, time entries inside the
//     segment's offsets and the last one holding the segment's largest
//     timestamp (the entry written at seal). Otherwise (missing, torn or garbage indexes) the
//     segment is scanned like the last one and its indexes rebuilt.
//   - What recovery kept is fsynced and DurableOffset starts at EndOffset.
//   - A persisted log start offset beyond the recovered end (DeleteRecords
//     of offsets that never reached the disk) empties the log, which then
//     starts at that offset, so no offset is handed out twice.
//   - With Config.StrictRecovery (the metadata log) every segment is
//     scanned with CRCs, and damage is truncated only when it is a torn
//     tail: in the last segment, with no valid batch after it. Anything
//     else fails Open with a *CorruptError and changes nothing (strict.go).
//
// So after power loss every batch below a DurableOffset that Sync reported
// is intact (it was fsynced, together with the directory entries leading to
// it), and no torn, corrupt or out-of-sequence batch is ever served: the
// tail that Sync had not covered is kept exactly as far as it checks out.
// After kill -9 nothing written to the page cache is lost.
package log
