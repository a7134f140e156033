package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-io/sluice/internal/record"
)

// Read-only views of a member's directory for offline tools (`sluice
// metadata inspect` and `repair`): the checkpoints as files, the WAL's
// batches decoded into entries, the quorum-state. None of them is used by
// the node itself, and none writes, except LoadState (see there).

// CheckpointFile is one checkpoint file of a directory.
type CheckpointFile struct {
	Name        string
	Index, Term uint64 // from the file's name
	Size        int64
	// Err says why the file cannot be used (CRC, framing, a name that
	// disagrees with its content); the fields below are set only when nil.
	Err    error
	Voters []uint64 // the configuration as of Index
	Data   []byte   // the state machine's snapshot
}

// ReadCheckpoints reads every checkpoint file in dir, newest (highest
// index) first, damaged ones included. A node starts from the first one
// without Err.
func ReadCheckpoints(dir string) ([]CheckpointFile, error) {
	names, err := listCheckpoints(dir)
	if err != nil {
		return nil, err
	}
	out := make([]CheckpointFile, 0, len(names))
	for _, name := range names {
		c := CheckpointFile{Name: name}
		c.Index, c.Term, _ = parseCheckpointName(name)
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // pruned by a running node since the listing
		}
		if err != nil {
			return nil, err
		}
		c.Size = int64(len(b))
		snap, err := decodeCheckpoint(b)
		if err == nil {
			if md := snap.GetMetadata(); md.GetIndex() != c.Index || md.GetTerm() != c.Term {
				err = fmt.Errorf("%w: holds %d-%d", errBadCheckpoint, md.GetIndex(), md.GetTerm())
			}
		}
		if err != nil {
			c.Err = err
		} else {
			c.Voters = snap.GetMetadata().GetConfState().GetVoters()
			c.Data = snap.GetData()
		}
		out = append(out, c)
	}
	return out, nil
}

// IsCheckpointName reports whether name is a checkpoint file's name.
func IsCheckpointName(name string) bool {
	_, _, ok := parseCheckpointName(name)
	return ok
}

// EntryKind is what a WAL entry is to the state machine.
type EntryKind int

const (
	// EntryEmpty is a normal entry without a proposal: the empty entry a
	// new leader appends at the start of its term.
	EntryEmpty EntryKind = iota
	// EntryProposal is a normal entry holding a proposal: Payload is what
	// the state machine applies.
	EntryProposal
	// EntryConfChange is a configuration change (ConfChange or
	// ConfChangeV2); ConfChange describes it.
	EntryConfChange
)

// WALEntry is one entry of a WAL record batch, decoded as the node
// applies it.
type WALEntry struct {
	Index, Term uint64
	Kind        EntryKind
	ProposalID  uint64 // EntryProposal
	Payload     []byte // EntryProposal: the data handed to StateMachine.Apply
	ConfChange  string // EntryConfChange: e.g. "v2 v3 r1" (raftpb.ConfChangesToString)
}

// DecodeWALBatch returns the entries of one WAL record batch (see wal.go)
// whose CRC is valid, numbered from firstIndex (the batch's base offset
// + 1, unless the caller knows better: the base offset is outside the
// CRC). The term is the batch's partitionLeaderEpoch.
func DecodeWALBatch(batch []byte, firstIndex uint64) ([]WALEntry, error) {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return nil, err
	}
	if h.PartitionLeaderEpoch < 0 {
		return nil, fmt.Errorf("%w: term %d", errCorrupt, h.PartitionLeaderEpoch)
	}
	var out []WALEntry
	err = record.Records(batch, func(r *record.Record) error {
		i := uint64(len(out))
		if int64(r.OffsetDelta) != int64(i) {
			return fmt.Errorf("%w: record delta %d, want %d", errCorrupt, r.OffsetDelta, i)
		}
		if len(r.Value) < 1 {
			return fmt.Errorf("%w: empty entry %d", errCorrupt, firstIndex+i)
		}
		e, err := decodeEntry(firstIndex+i, uint64(h.PartitionLeaderEpoch), raftpb.EntryType(r.Value[0]), r.Value[1:])
		if err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func decodeEntry(index, term uint64, t raftpb.EntryType, data []byte) (WALEntry, error) {
	e := WALEntry{Index: index, Term: term}
	switch t {
	case raftpb.EntryType_EntryNormal:
		// As Node.apply reads it: a proposal is its 8-byte id and the
		// state machine's data; anything shorter applies as empty.
		if len(data) >= 8 {
			e.Kind, e.ProposalID, e.Payload = EntryProposal, binary.BigEndian.Uint64(data), append([]byte(nil), data[8:]...)
		}
	case raftpb.EntryType_EntryConfChange:
		var cc raftpb.ConfChange
		if err := proto.Unmarshal(data, &cc); err != nil {
			return e, fmt.Errorf("%w: entry %d: %v", errCorrupt, index, err)
		}
		e.Kind, e.ConfChange = EntryConfChange, raftpb.ConfChangesToString(cc.AsV2().GetChanges())
	case raftpb.EntryType_EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := proto.Unmarshal(data, &cc); err != nil {
			return e, fmt.Errorf("%w: entry %d: %v", errCorrupt, index, err)
		}
		e.Kind, e.ConfChange = EntryConfChange, raftpb.ConfChangesToString(cc.GetChanges())
	default:
		return e, fmt.Errorf("%w: entry %d has type %d", errCorrupt, index, t)
	}
	return e, nil
}

// HardState is the quorum-state file's content.
type HardState struct {
	Term, Vote, Commit uint64
}

// ReadHardState reads dir's quorum-state; ok is false when there is none.
func ReadHardState(dir string) (hs HardState, ok bool, err error) {
	p, ok, err := readHardState(dir)
	if err != nil || !ok {
		return HardState{}, ok, err
	}
	return HardState{Term: p.GetTerm(), Vote: p.GetVote(), Commit: p.GetCommit()}, true, nil
}

// State is what a node opening a directory starts from: the newest intact
// checkpoint and the entries after it.
type State struct {
	Index, Term uint64
	Voters      []uint64
	Data        []byte
	Entries     []WALEntry
}

// LoadState opens dir as a node does at start and returns what it would
// restore and replay, without starting a node. Opening recovers the WAL
// (a torn tail is truncated, a WAL that does not reach the checkpoint is
// reset to it), so it is meant for a directory that is about to be used:
// checking one that was just written.
func LoadState(dir string, logger *slog.Logger) (*State, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s, err := openStorage(dir, logger)
	if err != nil {
		return nil, err
	}
	defer s.close()
	snap, err := s.Snapshot()
	if err != nil {
		return nil, err
	}
	md := snap.GetMetadata()
	st := &State{Index: md.GetIndex(), Term: md.GetTerm(), Voters: md.GetConfState().GetVoters(), Data: snap.GetData()}
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if last >= first {
		ents, err := s.Entries(first, last+1, 1<<62)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			we, err := decodeEntry(e.GetIndex(), e.GetTerm(), e.GetType(), e.GetData())
			if err != nil {
				return nil, err
			}
			st.Entries = append(st.Entries, we)
		}
	}
	return st, nil
}
