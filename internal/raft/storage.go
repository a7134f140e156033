package raft

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// storage is raft's Storage: a raft.MemoryStorage holding the tail of the
// log since the last snapshot (what raft reads), made durable by the WAL
// (entries), the quorum-state file (HardState) and checkpoint files
// (snapshots). This is etcd server's split: raft reads memory, the
// process persists in the Ready loop before anything is sent.
//
// Crash behaviour (each write is durable before the next starts):
//   - entries are appended (and fsynced when raft says MustSync) before
//     the HardState that may commit them, so a crash between the two
//     leaves entries with an older term/vote/commit; the entries were never
//     acknowledged to anyone (messages go out after both writes) and the
//     commit index is learnt again from the leader.
//   - a snapshot's checkpoint is written before the WAL is reset or
//     compacted behind it; at open, a WAL that does not reach the newest
//     checkpoint, or disagrees with its term at its index, is reset to it.
type storage struct {
	*raft.MemoryStorage
	dir    string
	wal    *wal
	hs     *raftpb.HardState // as persisted in quorum-state
	logger *slog.Logger
}

// ErrInconsistent marks a directory whose files do not make one raft
// state (entries without the checkpoint they follow): damage, not a crash.
var ErrInconsistent = errors.New("raft: inconsistent state")

// errNoState is returned by openStorage when dir holds no raft state yet.
var errNoState = errors.New("raft: no state")

// openStorage loads dir. A dir with no checkpoint and an empty WAL is
// errNoState: the caller bootstraps it (Bootstrap) and opens again.
func openStorage(dir string, logger *slog.Logger) (*storage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	hs, _, err := readHardState(dir)
	if err != nil {
		return nil, err
	}
	snap, err := latestCheckpoint(dir, func(name string, err error) {
		logger.Error("skipping damaged raft checkpoint", "dir", dir, "file", name, "err", err)
	})
	if err != nil {
		return nil, err
	}
	w, err := openWAL(dir, logger)
	if err != nil {
		return nil, fmt.Errorf("raft: open wal: %w", err)
	}
	s := &storage{MemoryStorage: raft.NewMemoryStorage(), dir: dir, wal: w, hs: hs, logger: logger}
	if err := s.load(snap); err != nil {
		w.close()
		return nil, err
	}
	return s, nil
}

func (s *storage) load(snap *raftpb.Snapshot) error {
	if snap == nil {
		if s.wal.lastIndex() == 0 && s.wal.firstIndex() == 1 {
			return errNoState
		}
		return fmt.Errorf("%w: %s holds entries %d..%d but no intact checkpoint", ErrInconsistent, s.dir, s.wal.firstIndex(), s.wal.lastIndex())
	}
	si := snap.GetMetadata().GetIndex()
	ents, err := s.wal.readFrom(si)
	if err != nil {
		return fmt.Errorf("raft: replay %s: %w", s.dir, err)
	}
	switch {
	case s.wal.firstIndex() > si+1:
		return fmt.Errorf("%w: %s starts at entry %d, after the newest intact checkpoint %d", ErrInconsistent, s.dir, s.wal.firstIndex(), si)
	case s.wal.lastIndex() < si || (len(ents) > 0 && ents[0].GetIndex() == si && ents[0].GetTerm() != snap.GetMetadata().GetTerm()):
		// A snapshot installed from the leader whose WAL reset did not
		// complete, or a WAL that ends before the checkpoint.
		s.logger.Info("resetting raft wal to its checkpoint", "dir", s.dir, "index", si)
		if err := s.wal.reset(si); err != nil {
			return err
		}
		ents = nil
	}
	if len(ents) > 0 && ents[0].GetIndex() == si {
		ents = ents[1:]
	}
	if err := s.MemoryStorage.ApplySnapshot(snap); err != nil {
		return err
	}
	if err := s.MemoryStorage.Append(ents); err != nil {
		return err
	}
	hs := proto.Clone(s.hs).(*raftpb.HardState)
	last, _ := s.MemoryStorage.LastIndex()
	if hs.GetCommit() > last {
		s.logger.Warn("raft commit index beyond the wal; lowering it", "dir", s.dir, "commit", hs.GetCommit(), "last", last)
		hs.Commit = new(last)
	}
	if hs.GetCommit() < si {
		hs.Commit = new(si)
	}
	if hs.GetTerm() < snap.GetMetadata().GetTerm() {
		hs.Term = new(snap.GetMetadata().GetTerm())
	}
	return s.MemoryStorage.SetHardState(hs)
}

// Bootstrap gives dir its first state if it has none: a checkpoint at
// index 1, term 1, with voters as the configuration and data as the
// state machine's content. Every voter of a new quorum bootstraps the same
// way, so they agree on entry 1 without an election. It reports whether it
// wrote anything.
func Bootstrap(dir string, voters []uint64, data []byte, logger *slog.Logger) (bool, error) {
	if logger == nil {
		logger = slog.Default()
	}
	s, err := openStorage(dir, logger)
	if err == nil {
		return false, s.close()
	}
	if !errors.Is(err, errNoState) {
		return false, err
	}
	snap := &raftpb.Snapshot{
		Data: data,
		Metadata: &raftpb.SnapshotMetadata{
			ConfState: &raftpb.ConfState{Voters: voters},
			Index:     new(uint64(1)),
			Term:      new(uint64(1)),
		},
	}
	if err := writeCheckpoint(dir, snap); err != nil {
		return false, err
	}
	w, err := openWAL(dir, logger)
	if err != nil {
		return false, err
	}
	defer w.close()
	return true, w.reset(1)
}

// save persists one Ready's snapshot, entries and hard state, in that
// order, and mirrors them into memory for raft.
func (s *storage) save(rd *raft.Ready) error {
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := s.installSnapshot(rd.Snapshot); err != nil {
			return err
		}
	}
	if err := s.wal.save(rd.Entries); err != nil {
		return err
	}

	if err := s.MemoryStorage.Append(rd.Entries); err != nil {
		return err
	}
	if rd.MustSync && len(rd.Entries) > 0 {
		if err := s.wal.sync(); err != nil {
			return fmt.Errorf("raft wal: sync: %w", err)
		}
	}
	if rd.HardState != nil && !raft.IsEmptyHardState(rd.HardState) {
		// Term and vote must be durable before a message that depends on
		// them leaves; the commit index alone is re-learnt after a restart,
		// so a commit-only change is not worth an fsync.
		if rd.HardState.GetTerm() != s.hs.GetTerm() || rd.HardState.GetVote() != s.hs.GetVote() {
			if err := writeHardState(s.dir, rd.HardState); err != nil {
				return fmt.Errorf("raft: write quorum-state: %w", err)
			}
			s.hs = proto.Clone(rd.HardState).(*raftpb.HardState)
		}
		if err := s.MemoryStorage.SetHardState(rd.HardState); err != nil {
			return err
		}
	}
	return nil
}

// installSnapshot persists a snapshot received from the leader: the
// checkpoint first, then the WAL restarts after it.
func (s *storage) installSnapshot(snap *raftpb.Snapshot) error {
	if err := writeCheckpoint(s.dir, snap); err != nil {
		return fmt.Errorf("raft: write checkpoint: %w", err)
	}
	if err := s.wal.reset(snap.GetMetadata().GetIndex()); err != nil {
		return fmt.Errorf("raft wal: reset: %w", err)
	}
	if err := s.MemoryStorage.ApplySnapshot(snap); err != nil {
		return err
	}
	return pruneCheckpoints(s.dir, 2)
}

// snapshot records data as the state at index (applied), writes its
// checkpoint, then drops entries up to index-keep (but never past the
// previous checkpoint) from memory and the WAL.
func (s *storage) snapshot(index uint64, cs *raftpb.ConfState, data []byte, keep uint64) error {
	// The WAL keeps reaching back to the previous checkpoint, so that if
	// the new one is damaged at rest the older one plus the WAL still
	// rebuild the state.
	prev, _ := s.MemoryStorage.Snapshot()
	snap, err := s.MemoryStorage.CreateSnapshot(index, cs, data)
	if err != nil {
		return err
	}
	if err := writeCheckpoint(s.dir, snap); err != nil {
		return fmt.Errorf("raft: write checkpoint: %w", err)
	}
	if index > keep {
		compact := min(index-keep, prev.GetMetadata().GetIndex())
		if first, _ := s.MemoryStorage.FirstIndex(); compact >= first {
			if err := s.MemoryStorage.Compact(compact); err != nil {
				return err
			}
		}
		if compact >= s.wal.firstIndex() {
			if err := s.wal.compact(compact); err != nil {
				return fmt.Errorf("raft wal: compact: %w", err)
			}
		}
	}
	return pruneCheckpoints(s.dir, 2)
}

func (s *storage) close() error { return s.wal.close() }
