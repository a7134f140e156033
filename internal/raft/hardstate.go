package raft

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// quorumStateFile holds raft's HardState (term, vote, commit), KRaft's
// file name. It is replaced atomically (fsutil.WriteFileAtomic), so a
// crash leaves the old or the new state, never a torn one.
const quorumStateFile = "quorum-state"

type quorumState struct {
	Term        uint64 `json:"term"`
	Vote        uint64 `json:"vote"`
	Commit      uint64 `json:"commit"`
	DataVersion int    `json:"data_version"`
}

func readHardState(dir string) (*raftpb.HardState, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, quorumStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &raftpb.HardState{}, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var q quorumState
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, false, fmt.Errorf("raft: %s: %w", filepath.Join(dir, quorumStateFile), err)
	}
	if q.DataVersion != 1 {
		return nil, false, fmt.Errorf("raft: %s: data_version %d, want 1", filepath.Join(dir, quorumStateFile), q.DataVersion)
	}
	return &raftpb.HardState{Term: new(q.Term), Vote: new(q.Vote), Commit: new(q.Commit)}, true, nil
}

func writeHardState(dir string, hs *raftpb.HardState) error {
	b, err := json.Marshal(quorumState{Term: hs.GetTerm(), Vote: hs.GetVote(), Commit: hs.GetCommit(), DataVersion: 1})
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(dir, quorumStateFile, append(b, '\n'))
}
