package raft

import (
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-io/sluice/internal/record"
)

// TestInspectHelpers: what the offline tools read back from a directory
// is what the node wrote: entries by index, term and kind from the WAL's
// batches (one per term), checkpoints newest first with the damaged one
// marked, and the state a node would load.
func TestInspectHelpers(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	if _, err := Bootstrap(dir, []uint64{1}, []byte("boot"), logger); err != nil {
		t.Fatal(err)
	}
	cc, err := proto.Marshal(&raftpb.ConfChange{Type: new(raftpb.ConfChangeType_ConfChangeAddNode), NodeId: new(uint64(2))})
	if err != nil {
		t.Fatal(err)
	}
	prop := binary.BigEndian.AppendUint64(nil, 77)
	prop = append(prop, "change"...)
	ents := []*raftpb.Entry{
		{Index: new(uint64(2)), Term: new(uint64(2)), Type: new(raftpb.EntryType_EntryNormal)},
		{Index: new(uint64(3)), Term: new(uint64(2)), Type: new(raftpb.EntryType_EntryNormal), Data: prop},
		{Index: new(uint64(4)), Term: new(uint64(3)), Type: new(raftpb.EntryType_EntryConfChange), Data: cc},
	}
	s, err := openStorage(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.wal.save(ents); err != nil {
		t.Fatal(err)
	}
	if err := s.wal.sync(); err != nil {
		t.Fatal(err)
	}
	if err := writeCheckpoint(dir, &raftpb.Snapshot{Data: []byte("at3"), Metadata: &raftpb.SnapshotMetadata{
		Index: new(uint64(3)), Term: new(uint64(2)), ConfState: &raftpb.ConfState{Voters: []uint64{1}}}}); err != nil {
		t.Fatal(err)
	}
	s.close()

	segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	var got []WALEntry
	terms := 0
	err = record.Split(data, func(h record.Header, batch []byte) error {
		terms++
		es, err := DecodeWALBatch(batch, uint64(h.BaseOffset)+1)
		got = append(got, es...)
		return err
	})
	if err != nil || terms != 2 || len(got) != 3 {
		t.Fatalf("%d batches, entries %+v, %v", terms, got, err)
	}
	if e := got[0]; e.Index != 2 || e.Term != 2 || e.Kind != EntryEmpty {
		t.Errorf("entry 2: %+v", e)
	}
	if e := got[1]; e.Index != 3 || e.Kind != EntryProposal || e.ProposalID != 77 || string(e.Payload) != "change" {
		t.Errorf("entry 3: %+v", e)
	}
	if e := got[2]; e.Index != 4 || e.Term != 3 || e.Kind != EntryConfChange || e.ConfChange != "v2" {
		t.Errorf("entry 4: %+v", e)
	}

	// The newest checkpoint damaged: listed first with its error; a node
	// loads the older one and the entries after it.
	newest := filepath.Join(dir, checkpointName(3, 2))
	b, _ := os.ReadFile(newest)
	b[len(b)-1] ^= 1
	if err := os.WriteFile(newest, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cps, err := ReadCheckpoints(dir)
	if err != nil || len(cps) != 2 || cps[0].Index != 3 || cps[0].Err == nil || cps[1].Err != nil ||
		string(cps[1].Data) != "boot" || !slices.Equal(cps[1].Voters, []uint64{1}) {
		t.Fatalf("checkpoints %+v, %v", cps, err)
	}
	st, err := LoadState(dir, logger)
	if err != nil || st.Index != 1 || string(st.Data) != "boot" || len(st.Entries) != 3 || st.Entries[2].Kind != EntryConfChange {
		t.Fatalf("state %+v, %v", st, err)
	}
}

// TestBootstrapAt: a rebuilt log starts at the given index and term, its
// next entry after them; a directory with state is refused.
func TestBootstrapAt(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.DiscardHandler)
	if err := BootstrapAt(dir, 40, 7, []uint64{3}, []byte("img"), logger); err != nil {
		t.Fatal(err)
	}
	if err := BootstrapAt(dir, 41, 7, []uint64{3}, []byte("other"), logger); err == nil {
		t.Fatal("BootstrapAt over existing state succeeded")
	}
	s, err := openStorage(dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if got := describeStorage(s); got != "snapshot: index=40 term=7 voters=[3] data=img\nhardstate: term=7 vote=0 commit=40\nwal: first=41 last=40\nentries:" {
		t.Fatalf("storage:\n%s", got)
	}
	if err := s.wal.save([]*raftpb.Entry{{Index: new(uint64(41)), Term: new(uint64(8)), Type: new(raftpb.EntryType_EntryNormal)}}); err != nil {
		t.Fatal(err)
	}
}
