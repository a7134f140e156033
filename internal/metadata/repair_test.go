package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/raft"
)

// damagedDataDir builds a data directory whose metadata log created topics
// a, b and c (one batch each, a with a config change in a later batch),
// allocated producer ids, and has partition directories a-0 and a-1 pinned
// to a's id. It returns the directory and the position of a's batch.
func damagedDataDir(t *testing.T) (logDirs string, posA int64) {
	t.Helper()
	logDirs = t.TempDir()
	s, err := Open(Dir(logDirs), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, recs := range [][]Record{
		{RegisterBrokerRecord{BrokerID: 3, IncarnationID: uuid(9), Host: "h", Port: 1}},
		{ProducerIdsRecord{BrokerID: 3, BrokerEpoch: -1, NextProducerID: 1000}},
		{TopicRecord{Name: "a", ID: uuid(1)},
			PartitionRecord{TopicID: uuid(1), Partition: 0, Replicas: []int32{3}, ISR: []int32{3}, Leader: 3},
			PartitionRecord{TopicID: uuid(1), Partition: 1, Replicas: []int32{3}, ISR: []int32{3}, Leader: 3}},
		{TopicRecord{Name: "b", ID: uuid(2)},
			PartitionRecord{TopicID: uuid(2), Partition: 0, Replicas: []int32{3}, ISR: []int32{3}, Leader: 3}},
		{ConfigRecord{ResourceType: ResourceTopic, ResourceName: "a", Name: "retention.ms", Value: sp("5")}},
		{TopicRecord{Name: "c", ID: uuid(3)},
			PartitionRecord{TopicID: uuid(3), Partition: 0, Replicas: []int32{3}, ISR: []int32{3}, Leader: 3}},
	} {
		if err := s.Append(recs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for p := range 2 {
		d := filepath.Join(logDirs, PartitionDirName("a", int32(p)))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := WritePartitionTopicID(d, uuid(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(logDirs, "meta.properties"), []byte("version=1\nnode.id=3\ncluster.id=x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(logDirs)
	if err != nil || rep.NeedsRepair() {
		t.Fatalf("intact log: %v, needs repair %v", err, rep != nil && rep.NeedsRepair())
	}
	if b := batchCreating(rep, "a"); b != nil {
		posA = b.Position
	}
	if posA == 0 {
		t.Fatal("no batch creating topic a")
	}
	return logDirs, posA
}

// batchCreating returns the WAL batch holding the entry that creates topic.
func batchCreating(rep *Report, topic string) *LogBatch {
	for i, b := range rep.Batches {
		for _, e := range b.Entries {
			if len(e.Records) > 0 {
				if tr, ok := e.Records[0].(TopicRecord); ok && tr.Name == topic {
					return &rep.Batches[i]
				}
			}
		}
	}
	return nil
}

// skippedEntries returns the entries of rep left out of its image.
func skippedEntries(rep *Report) []LogEntry {
	var out []LogEntry
	for _, b := range rep.Batches {
		for _, e := range b.Entries {
			if e.Skipped != nil && !e.Covered {
				out = append(out, e)
			}
		}
	}
	return out
}

// flip XORs n bytes of the metadata log's data file at pos.
func flip(t *testing.T, logDirs string, pos int64, n int) {
	t.Helper()
	path := dataFile(t, Dir(logDirs))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(n) {
		data[pos+i] ^= 0xa5
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesMidLogDamage: a damaged batch with intact batches after
// it stops Open with the file, the position and the repair command.
func TestOpenRefusesMidLogDamage(t *testing.T) {
	logDirs, posA := damagedDataDir(t)
	flip(t, logDirs, posA+70, 16)
	_, err := Open(Dir(logDirs), nil)
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Open: %v, want ErrDamaged", err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{dataFile(t, Dir(logDirs)), "position " + strconv.FormatInt(posA, 10),
		"sluice metadata repair --log-dirs " + logDirs, "sluice metadata inspect"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestInspectAndRepair(t *testing.T) {
	logDirs, posA := damagedDataDir(t)
	flip(t, logDirs, posA+70, 16)
	before, err := os.ReadFile(dataFile(t, Dir(logDirs)))
	if err != nil {
		t.Fatal(err)
	}

	rep, err := Inspect(logDirs)
	if err != nil {
		t.Fatal(err)
	}
	var damaged []LogBatch
	for _, b := range rep.Batches {
		if b.Damage != nil {
			damaged = append(damaged, b)
		}
		if b.Skipped != nil {
			t.Errorf("batch at %d skipped: %v", b.Position, b.Skipped)
		}
	}
	if len(damaged) != 1 || damaged[0].Position != posA || damaged[0].TornTail {
		t.Fatalf("damaged stretches %+v, want one at %d", damaged, posA)
	}
	if rep.Format != FormatRaft || rep.Base == nil || rep.Base.Index != 1 || len(rep.Voters) != 1 || rep.Voters[0] != 1 {
		t.Fatalf("format %v, base %+v, voters %v: want raft, checkpoint 1, node 1", rep.Format, rep.Base, rep.Voters)
	}
	if skipped := skippedEntries(rep); len(skipped) != 1 || skipped[0].Records[0].(ConfigRecord).ResourceName != "a" {
		t.Fatalf("skipped entries %+v, want a's config change", skipped)
	}
	if len(rep.Adopt) != 1 || rep.Adopt[0].Topic != "a" || rep.Adopt[0].ID != uuid(1) || rep.Adopt[0].Partitions != 2 {
		t.Fatalf("adoptions %+v", rep.Adopt)
	}
	if rep.NextProducerID <= 1000 {
		t.Fatalf("next producer id %d not moved past the damaged bytes", rep.NextProducerID)
	}

	// A dry run and a repair beside an open store change nothing.
	if res, err := Repair(logDirs, RepairOptions{NodeID: -1, DryRun: true}); err != nil || res.Rewritten {
		t.Fatalf("dry run: %v, rewritten %v", err, res != nil && res.Rewritten)
	}
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	res, err := Repair(logDirs, RepairOptions{NodeID: -1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Rewritten || res.Aside != Dir(logDirs)+".corrupt-20250304T050607Z" {
		t.Fatalf("repair: %+v", res)
	}
	if kept, err := os.ReadFile(dataFile(t, res.Aside)); err != nil || !bytes.Equal(kept, before) {
		t.Fatalf("old log not kept as it was: %v", err)
	}
	s, err := Open(Dir(logDirs), nil)
	if err != nil {
		t.Fatal(err)
	}
	img := s.Image()
	a, ok := img.Topic("a")
	if !ok || a.ID != uuid(1) || len(a.Partitions) != 2 || len(a.Configs) != 0 || a.Partitions[1].Leader != 3 {
		t.Fatalf("topic a after repair: %+v", a)
	}
	for _, name := range []string{"b", "c"} {
		if _, ok := img.Topic(name); !ok {
			t.Errorf("topic %s lost", name)
		}
	}
	if img.NextProducerID != rep.NextProducerID || !sameContent(img, res.Repaired) || int64(len(img.Records())) != res.Records {
		t.Errorf("next producer id %d (want %d); image after repair:\n%swant\n%s", img.NextProducerID, rep.NextProducerID,
			img.Describe(), res.Repaired.Describe())
	}
	// The new log is a one-voter quorum's: one checkpoint with the old
	// checkpoint's voter, where the old log's indexes and terms ended (so
	// offsets and terms never go back).
	if rep.LastIndex < 8 || rep.LastTerm < 2 {
		t.Fatalf("old log ends at index %d, term %d", rep.LastIndex, rep.LastTerm)
	}
	if after, err := Inspect(logDirs); err != nil || after.Base == nil || after.Base.Index != rep.LastIndex ||
		after.Base.Term != rep.LastTerm || len(after.Checkpoints) != 1 || len(after.Voters) != 1 || after.Voters[0] != 1 {
		t.Fatalf("repaired log: %v %+v", err, after)
	}
	if img.Offset < int64(rep.LastIndex) || img.Term <= rep.LastTerm {
		t.Fatalf("the store reopened at offset %d, term %d: not after the old log's index %d, term %d", img.Offset, img.Term, rep.LastIndex, rep.LastTerm)
	}

	// The store holds the lock: a repair now is refused.
	if _, err := Repair(logDirs, RepairOptions{NodeID: -1}); !errors.Is(err, ErrLocked) {
		t.Fatalf("repair beside an open store: %v", err)
	}
	s.Close()
	if res, err := Repair(logDirs, RepairOptions{NodeID: -1}); err != nil || res.Rewritten {
		t.Fatalf("second repair: %v, rewritten %v", err, res != nil && res.Rewritten)
	}
}

// TestOpenTornTailOfDamagedLastBatch: damage inside the last batch is
// what a crash can leave; Open truncates it and starts.
func TestOpenTornTailOfDamagedLastBatch(t *testing.T) {
	logDirs, _ := damagedDataDir(t)
	path := dataFile(t, Dir(logDirs))
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	flip(t, logDirs, st.Size()-10, 4)
	s, err := Open(Dir(logDirs), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Image().Topic("c"); ok {
		t.Fatal("topic c of the torn batch survived")
	}
	if _, ok := s.Image().Topic("b"); !ok {
		t.Fatal("topic b lost")
	}
}

// TestRepairInterrupted: a crash between Repair's two renames leaves no
// log in place; Open refuses to start on an empty log and the next Repair
// finishes the move.
func TestRepairInterrupted(t *testing.T) {
	logDirs, posA := damagedDataDir(t)
	flip(t, logDirs, posA+70, 16)
	res, err := Repair(logDirs, RepairOptions{NodeID: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Undo the last rename, as if the crash came before it.
	pending := Dir(logDirs) + repairSuffix + "x"
	if err := os.Rename(Dir(logDirs), pending); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Dir(logDirs), nil); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Open with a repair pending: %v", err)
	}
	if _, err := os.Stat(Dir(logDirs)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Open created an empty metadata log")
	}
	fin, err := Repair(logDirs, RepairOptions{NodeID: -1})
	if err != nil || fin.Finished != pending {
		t.Fatalf("finishing repair: %+v, %v", fin, err)
	}
	s, err := Open(Dir(logDirs), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !sameContent(s.Image(), res.Repaired) {
		t.Fatalf("finished log holds\n%swant\n%s", s.Image().Describe(), res.Repaired.Describe())
	}
}

// TestStrayClassification: what Inspect adopts and what it leaves.
func TestStrayClassification(t *testing.T) {
	logDirs := t.TempDir()
	s, err := Open(Dir(logDirs), nil)
	if err != nil {
		t.Fatal(err)
	}
	p0 := PartitionRecord{TopicID: uuid(1), Partition: 0, Replicas: []int32{1}, ISR: []int32{1}, Leader: 1}
	for _, recs := range [][]Record{
		{TopicRecord{Name: "known", ID: uuid(1)}, p0},
		{TopicRecord{Name: "gone", ID: uuid(2)}},
		{RemoveTopicRecord{TopicID: uuid(2)}},
	} {
		if err := s.Append(recs...); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	dirs := map[string]UUID{
		"known-0":      uuid(1), // the image's own
		"known-2":      uuid(1), // grown: partitions 1 (missing) and 2
		"gone-0":       uuid(2), // a deleted topic's leftover
		"other-0":      uuid(5), // a forgotten topic
		"other-1":      uuid(5),
		"mixed-0":      uuid(6), // directories disagree
		"mixed-1":      uuid(7),
		"noid-0":       {},
		"__internal-0": uuid(9), // an internal topic: compacted
		"known-1.0123456789abcdef0123456789abcdef-stray": uuid(8), // not a partition directory
	}
	for name, id := range dirs {
		d := filepath.Join(logDirs, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if !id.IsZero() {
			if err := WritePartitionTopicID(d, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := Inspect(logDirs)
	if err != nil {
		t.Fatal(err)
	}
	adopted := map[string]bool{}
	for _, st := range rep.Strays {
		adopted[st.Name] = st.Adopted
	}
	want := map[string]bool{"known-2": true, "gone-0": false, "other-0": true, "other-1": true,
		"mixed-0": false, "mixed-1": false, "noid-0": false, "__internal-0": true}
	if len(adopted) != len(want) {
		t.Errorf("strays %v, want %v", adopted, want)
	}
	for name, w := range want {
		if a, ok := adopted[name]; !ok || a != w {
			t.Errorf("%s: adopted %v (listed %v), want %v", name, a, ok, w)
		}
	}
	if len(rep.Adopt) != 3 || rep.Adopt[0].Topic != "__internal" || rep.Adopt[0].Configs["cleanup.policy"] != "compact" ||
		rep.Adopt[1].Topic != "known" || rep.Adopt[1].Existing != 1 || rep.Adopt[1].Partitions != 3 || len(rep.Adopt[1].Missing) != 1 ||
		rep.Adopt[2].Topic != "other" || rep.Adopt[2].Partitions != 2 || rep.Adopt[2].Configs != nil {
		t.Fatalf("adoptions %+v", rep.Adopt)
	}

	// The repair applies them: grown, created, compacted.
	if _, err := Repair(logDirs, RepairOptions{NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	s, err = Open(Dir(logDirs), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := s.Image()
	if k, _ := img.Topic("known"); len(k.Partitions) != 3 {
		t.Errorf("known has %d partitions, want 3", len(k.Partitions))
	}
	if o, ok := img.Topic("other"); !ok || o.ID != uuid(5) || len(o.Configs) != 0 {
		t.Errorf("other: %+v", o)
	}
	if in, ok := img.Topic("__internal"); !ok || in.Configs["cleanup.policy"] != "compact" {
		t.Errorf("__internal: %+v", in)
	}
}

// TestRepairMisnumberedBatch: a flipped byte in a base offset (which the
// CRC does not cover) stops Open; Inspect finds the batch intact but out
// of sequence, and Repair keeps every batch, renumbered.
func TestRepairMisnumberedBatch(t *testing.T) {
	logDirs, posA := damagedDataDir(t)
	flip(t, logDirs, posA+6, 1) // a low byte of the base offset
	if _, err := Open(Dir(logDirs), nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Open: %v, want ErrDamaged", err)
	}
	rep, err := Inspect(logDirs)
	if err != nil {
		t.Fatal(err)
	}
	misnumbered := 0
	for _, b := range rep.Batches {
		if b.Damage != nil || b.Skipped != nil {
			t.Fatalf("batch at %d: damage %v, skipped %v", b.Position, b.Damage, b.Skipped)
		}
		if b.Misnumbered {
			misnumbered++
		}
	}
	if misnumbered != 1 || !rep.NeedsRepair() || len(rep.Adopt) != 0 {
		t.Fatalf("%d misnumbered batches, needs repair %v, adoptions %v", misnumbered, rep.NeedsRepair(), rep.Adopt)
	}
	if _, err := Repair(logDirs, RepairOptions{NodeID: -1}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Dir(logDirs), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a, ok := s.Image().Topic("a"); !ok || a.Configs["retention.ms"] != "5" || len(s.Image().TopicsByName) != 3 {
		t.Fatalf("after repair: topics %v, a %+v", s.Image().TopicNames(), a)
	}
}

// TestDamagedCheckpointFallsBack: with the newest checkpoint damaged, a
// store opens from the older one and the entries after it (the WAL keeps
// them), so nothing is lost and Inspect asks for no repair; with an entry
// after the older checkpoint damaged too, Repair starts from the older
// checkpoint.
func TestDamagedCheckpointFallsBack(t *testing.T) {
	logDirs, dir, want := snapshottedLog(t)
	cps, err := raft.ReadCheckpoints(dir)
	if err != nil || len(cps) != 2 {
		t.Fatalf("checkpoints %+v, %v", cps, err)
	}
	path := filepath.Join(dir, cps[0].Name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	rep, err := Inspect(logDirs)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checkpoints[0].Err == nil || rep.Base != &rep.Checkpoints[1] || rep.NeedsRepair() || !sameContent(rep.Image, want) {
		t.Fatalf("inspect: newest checkpoint error %v, base %+v, needs repair %v, image\n%s", rep.Checkpoints[0].Err, rep.Base,
			rep.NeedsRepair(), rep.Image.Describe())
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !sameContent(s.Image(), want) {
		t.Fatalf("opened from the older checkpoint:\n%swant\n%s", s.Image().Describe(), want.Describe())
	}
	s.Close()

	// Damage the entry creating t3, the last one the older checkpoint
	// does not hold: repair starts from that checkpoint and loses only t3.
	rep, err = Inspect(logDirs)
	if err != nil {
		t.Fatal(err)
	}
	victim := batchCreating(rep, "t3")
	if victim == nil || rep.Base.Index >= victim.Entries[0].Index {
		t.Fatalf("entry creating t3 %+v, base %+v", victim, rep.Base)
	}
	flip(t, logDirs, victim.Position+victim.Size/2, 4)
	res, err := Repair(logDirs, RepairOptions{NodeID: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Rewritten || res.Base.Name != cps[1].Name {
		t.Fatalf("repair: rewritten %v from %+v, want from %s", res.Rewritten, res.Base, cps[1].Name)
	}
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if names := s.Image().TopicNames(); !slices.Equal(names, []string{"t0", "t1", "t2"}) {
		t.Fatalf("topics after repair %v, want t0-t2", names)
	}
}

// TestRepairRefusesQuorumMember: the log of a member of a three-voter
// quorum is not rewritten; the refusal says how to get it back from the
// quorum.
func TestRepairRefusesQuorumMember(t *testing.T) {
	logDirs := t.TempDir()
	dir := Dir(logDirs)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := EncodeRecords([]Record{TopicRecord{Name: "a", ID: uuid(1)}})
	if _, err := raft.Bootstrap(dir, []uint64{RaftID(1), RaftID(2), RaftID(3)}, data, nil); err != nil {
		t.Fatal(err)
	}
	// Damage (a torn tail) and a stray directory: a repair is needed.
	seg := filepath.Join(dir, "00000000000000000001.log")
	if err := os.WriteFile(seg, []byte("garbage that is not a batch, as a crash can leave it"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(logDirs, "b-0")
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WritePartitionTopicID(d, uuid(2)); err != nil {
		t.Fatal(err)
	}
	rep, err := Inspect(logDirs)
	if err != nil || !rep.NeedsRepair() || !slices.Equal(rep.Voters, []int32{1, 2, 3}) {
		t.Fatalf("inspect: %v, voters %v", err, rep.Voters)
	}
	_, err = Repair(logDirs, RepairOptions{NodeID: 1})
	if !errors.Is(err, ErrQuorumMember) {
		t.Fatalf("repair of a quorum member: %v", err)
	}
	for _, want := range []string{"move " + dir + " aside", "majority"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	if cps, _ := raft.ReadCheckpoints(dir); len(cps) != 1 || cps[0].Index != 1 {
		t.Fatalf("the refused repair changed the log: %+v", cps)
	}

	// With the log intact, the strays alone: not adopted into the
	// quorum's metadata, and the refusal does not send the member to
	// rebuild its log.
	if err := os.WriteFile(seg, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Repair(logDirs, RepairOptions{NodeID: 1})
	if !errors.Is(err, ErrQuorumMember) || strings.Contains(err.Error(), "move "+dir) || !strings.Contains(err.Error(), "strays") {
		t.Fatalf("repair of a quorum member's strays: %v", err)
	}
}

// TestRepairLegacyLog: a damaged log of the single-node format (before
// the quorum) stops the start, since it cannot be migrated; Repair
// rewrites it in that format from its intact batches and the next start
// migrates it.
func TestRepairLegacyLog(t *testing.T) {
	logDirs := t.TempDir()
	dir := Dir(logDirs)
	l, err := openBatchLog(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.Append([][]byte{Encode(TopicRecord{Name: fmt.Sprintf("t%d", i), ID: uuid(byte(i + 1))})}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	rep, err := Inspect(logDirs)
	if err != nil || rep.Format != FormatLegacy || rep.NeedsRepair() || len(rep.Batches) != 3 {
		t.Fatalf("intact single-node log: %v, %+v", err, rep)
	}
	flip(t, logDirs, rep.Batches[1].Position+rep.Batches[1].Size/2, 4)
	if _, err := Open(dir, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Open: %v, want ErrDamaged", err)
	}
	res, err := Repair(logDirs, RepairOptions{NodeID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Rewritten || res.Format != FormatLegacy {
		t.Fatalf("repair: %+v", res)
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if names := s.Image().TopicNames(); !slices.Equal(names, []string{"t0", "t2"}) || s.Image().NextProducerID <= 0 {
		t.Fatalf("after repair and migration: topics %v, next producer id %d", names, s.Image().NextProducerID)
	}
	if !raft.HasState(dir) || !hasSegments(dir+LegacySuffix) {
		t.Fatal("the repaired log was not migrated")
	}
}

// TestRepairDamageBehindCheckpoint: damage in WAL entries the newest
// checkpoint already holds still stops the start (strict recovery reads
// the whole WAL), and repair loses nothing: no change skipped, no
// producer id move.
func TestRepairDamageBehindCheckpoint(t *testing.T) {
	logDirs, dir, want := snapshottedLog(t)
	rep, err := Inspect(logDirs)
	if err != nil {
		t.Fatal(err)
	}
	victim := batchCreating(rep, "t1")
	if victim == nil || rep.Base == nil || victim.Entries[0].Index > rep.Base.Index {
		t.Fatalf("entry creating t1 %+v, base %+v", victim, rep.Base)
	}
	flip(t, logDirs, victim.Position+victim.Size/2, 4)
	if _, err := Open(dir, nil); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Open: %v, want ErrDamaged", err)
	}
	rep, err = Inspect(logDirs)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.NeedsRepair() || rep.NextProducerID != 0 || rep.Missing != 0 || len(skippedEntries(rep)) != 0 || !sameContent(rep.Image, want) {
		t.Fatalf("inspect: needs repair %v, next producer id %d, missing %d, skipped %v, image\n%s",
			rep.NeedsRepair(), rep.NextProducerID, rep.Missing, skippedEntries(rep), rep.Image.Describe())
	}
	if _, err := Repair(logDirs, RepairOptions{NodeID: -1}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !sameContent(s.Image(), want) {
		t.Fatalf("after repair:\n%swant\n%s", s.Image().Describe(), want.Describe())
	}
}

// snapshottedLog writes four topics through a one-voter store that takes a
// snapshot after every change (so two checkpoints are kept), closes it, and
// returns the data directory, the metadata log directory and the image.
func snapshottedLog(t *testing.T) (logDirs, dir string, want *Image) {
	t.Helper()
	logDirs = t.TempDir()
	dir = Dir(logDirs)
	s, err := OpenQuorum(Config{Dir: dir, NodeID: 1, SnapshotBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := s.Append(TopicRecord{Name: fmt.Sprintf("t%d", i), ID: uuid(byte(i + 1))}); err != nil {
			t.Fatal(err)
		}
	}
	want = s.Image()
	s.Close()
	return logDirs, dir, want
}
