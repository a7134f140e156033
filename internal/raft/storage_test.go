package raft

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// TestStorage drives the raft storage through crash points with scripts in
// testdata/storage (datadriven; -rewrite regenerates the expected output).
//
// Commands:
//
//	bootstrap voters=1,2,3 data=x      first state of a new quorum
//	open                                open the dir and print what raft would see
//	crash                               drop the open storage without closing anything more
//	save [sync] [term= vote= commit=]   one Ready: entries below as "index/term data", then hard state
//	snapshot index= keep=               take a snapshot at index (data = "snap@index")
//	install index= term=                install a snapshot from a leader
//	tear-checkpoint index= term=        damage a checkpoint file's last byte
//	partial-checkpoint index= term=     leave a half-written checkpoint .tmp (a crash mid-write)
func TestStorage(t *testing.T) {
	datadriven.Walk(t, "testdata/storage", func(t *testing.T, path string) {
		dir := t.TempDir()
		logger := slog.New(slog.DiscardHandler)
		var s *storage
		t.Cleanup(func() {
			if s != nil {
				s.close()
			}
		})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "bootstrap":
				var voters, data string
				d.ScanArgs(t, "voters", &voters)
				d.ScanArgs(t, "data", &data)
				var ids []uint64
				for _, v := range strings.Split(voters, ",") {
					id, _ := strconv.ParseUint(v, 10, 64)
					ids = append(ids, id)
				}
				wrote, err := Bootstrap(dir, ids, []byte(data), logger)
				if err != nil {
					return "error: " + err.Error()
				}
				return fmt.Sprintf("bootstrapped=%v", wrote)
			case "open":
				if s != nil {
					s.close()
				}
				var err error
				s, err = openStorage(dir, logger)
				if err != nil {
					s = nil
					return "error: " + strings.ReplaceAll(err.Error(), dir, "<dir>")
				}
				return describeStorage(s)
			case "crash":
				// The files stay as the last write left them; only the
				// in-memory state is thrown away.
				s.close()
				s = nil
				return "ok"
			case "save":
				rd := &raft.Ready{MustSync: d.HasArg("sync")}
				for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
					if line == "" {
						continue
					}
					var idx, term uint64
					var data string
					fields := strings.Fields(line)
					fmt.Sscanf(fields[0], "%d/%d", &idx, &term)
					if len(fields) > 1 {
						data = fields[1]
					}
					rd.Entries = append(rd.Entries, &raftpb.Entry{Index: new(idx), Term: new(term), Type: new(raftpb.EntryType_EntryNormal), Data: []byte(data)})
				}
				if d.HasArg("term") {
					var term, vote, commit uint64
					d.ScanArgs(t, "term", &term)
					d.ScanArgs(t, "vote", &vote)
					d.ScanArgs(t, "commit", &commit)
					rd.HardState = &raftpb.HardState{Term: new(term), Vote: new(vote), Commit: new(commit)}
				}
				if err := s.save(rd); err != nil {
					return "error: " + err.Error()
				}
				return describeStorage(s)
			case "snapshot":
				var index, keep uint64
				d.ScanArgs(t, "index", &index)
				d.ScanArgs(t, "keep", &keep)
				snap, _ := s.Snapshot()
				if err := s.snapshot(index, snap.GetMetadata().GetConfState(), []byte(fmt.Sprintf("snap@%d", index)), keep); err != nil {
					return "error: " + err.Error()
				}
				return describeStorage(s)
			case "install":
				var index, term uint64
				d.ScanArgs(t, "index", &index)
				d.ScanArgs(t, "term", &term)
				snap := &raftpb.Snapshot{Data: []byte(fmt.Sprintf("leader@%d", index)), Metadata: &raftpb.SnapshotMetadata{
					Index: new(index), Term: new(term), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}
				if err := s.save(&raft.Ready{Snapshot: snap}); err != nil {
					return "error: " + err.Error()
				}
				return describeStorage(s)
			case "install-checkpoint-only":
				// A crash during a snapshot install: the checkpoint is
				// durable, the WAL was not reset yet.
				var index, term uint64
				d.ScanArgs(t, "index", &index)
				d.ScanArgs(t, "term", &term)
				snap := &raftpb.Snapshot{Data: []byte(fmt.Sprintf("leader@%d", index)), Metadata: &raftpb.SnapshotMetadata{
					Index: new(index), Term: new(term), ConfState: &raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}
				if err := writeCheckpoint(dir, snap); err != nil {
					return "error: " + err.Error()
				}
				return "ok"
			case "tear-checkpoint", "partial-checkpoint":
				var index, term uint64
				d.ScanArgs(t, "index", &index)
				d.ScanArgs(t, "term", &term)
				name := filepath.Join(dir, checkpointName(index, term))
				b, err := os.ReadFile(name)
				if err != nil {
					return "error: " + err.Error()
				}
				if d.Cmd == "tear-checkpoint" {
					b[len(b)-1] ^= 0xff
					err = os.WriteFile(name, b, 0o644)
				} else {
					err = os.WriteFile(name+".tmp", b[:len(b)/2], 0o644)
				}
				if err != nil {
					return "error: " + err.Error()
				}
				return "ok"
			case "files":
				ents, _ := os.ReadDir(dir)
				var out []string
				for _, e := range ents {
					if strings.HasSuffix(e.Name(), checkpointSuffix) || strings.HasSuffix(e.Name(), ".tmp") {
						out = append(out, e.Name())
					}
				}
				return strings.Join(out, "\n")
			}
			return "unknown command " + d.Cmd
		})
	})
}

// describeStorage prints what raft sees: the snapshot, the hard state and
// the entries after the snapshot.
func describeStorage(s *storage) string {
	var b strings.Builder
	snap, _ := s.Snapshot()
	md := snap.GetMetadata()
	hs, cs, _ := s.InitialState()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	fmt.Fprintf(&b, "snapshot: index=%d term=%d voters=%v data=%s\n", md.GetIndex(), md.GetTerm(), cs.GetVoters(), snap.GetData())
	fmt.Fprintf(&b, "hardstate: term=%d vote=%d commit=%d\n", hs.GetTerm(), hs.GetVote(), hs.GetCommit())
	fmt.Fprintf(&b, "wal: first=%d last=%d\n", s.wal.firstIndex(), s.wal.lastIndex())
	b.WriteString("entries:")
	if last >= first {
		ents, _ := s.Entries(first, last+1, 1<<30)
		for _, e := range ents {
			fmt.Fprintf(&b, " %d/%d", e.GetIndex(), e.GetTerm())
			if len(e.GetData()) > 0 {
				fmt.Fprintf(&b, ":%s", e.GetData())
			}
		}
	}
	return b.String()
}
