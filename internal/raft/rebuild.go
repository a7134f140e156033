package raft

import (
	"errors"
	"fmt"
	"log/slog"

	"go.etcd.io/raft/v3/raftpb"
)

// BootstrapAt is Bootstrap with the first checkpoint at index and term
// instead of 1, 1: for a one-voter log rebuilt offline (`sluice metadata
// repair`), whose indexes and terms must keep growing past the old log's
// (a broker epoch is the metadata offset of its registration, and a term
// is the quorum epoch clients see). Every member of a new quorum must
// instead start from Bootstrap's agreed entry 1. dir must hold no raft
// state; the WAL's next entry is index+1.
func BootstrapAt(dir string, index, term uint64, voters []uint64, data []byte, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	if index == 0 || term == 0 {
		return fmt.Errorf("raft: bootstrap at index %d, term %d: both must be positive", index, term)
	}
	s, err := openStorage(dir, logger)
	if err == nil {
		s.close()
		return fmt.Errorf("raft: %s already holds raft state", dir)
	}
	if !errors.Is(err, errNoState) {
		return err
	}
	snap := &raftpb.Snapshot{
		Data: data,
		Metadata: &raftpb.SnapshotMetadata{
			ConfState: &raftpb.ConfState{Voters: voters},
			Index:     new(index),
			Term:      new(term),
		},
	}
	if err := writeCheckpoint(dir, snap); err != nil {
		return err
	}
	w, err := openWAL(dir, logger)
	if err != nil {
		return err
	}
	defer w.close()
	return w.reset(index)
}
