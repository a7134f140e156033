package metadata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/raft"
	"github.com/sluice-io/sluice/internal/record"
)

// Format is the layout of a metadata log directory.
type Format int

const (
	// FormatNone: no metadata log yet (no checkpoint, no segment).
	FormatNone Format = iota
	// FormatRaft: the WAL of a metadata quorum member, with checkpoints
	// and quorum-state (internal/raft).
	FormatRaft
	// FormatLegacy: the single-node log written before the quorum existed
	// (one record batch per change, one offset per metadata record), which
	// a broker migrates at its next start.
	FormatLegacy
)

func (f Format) String() string {
	switch f {
	case FormatRaft:
		return "raft"
	case FormatLegacy:
		return "single-node (before the metadata quorum)"
	}
	return "none"
}

// formatOf tells the layout of the metadata log directory dir as a
// broker's open does (migrateLegacy): raft state once a checkpoint file
// exists, intact or not; else segments are the single-node format.
func formatOf(dir string) Format {
	switch {
	case raft.HasState(dir):
		return FormatRaft
	case hasSegments(dir):
		return FormatLegacy
	}
	return FormatNone
}

// Report is what Inspect found in a data directory: the metadata log's
// checkpoints, batches and damage, the image the intact parts build, the
// partition directories that image does not know, and what Repair would
// do.
type Report struct {
	LogDirs string
	Dir     string // the metadata log directory
	Format  Format
	// FormatRaft: the checkpoint files, newest first (damaged ones
	// included), and Base, the one the image starts from: the newest
	// intact one (nil when none is).
	Checkpoints []raft.CheckpointFile
	Base        *raft.CheckpointFile
	// Voters are the node ids of Base's configuration. Repair rewrites
	// the log of a one-voter quorum only: a member of a larger quorum
	// gets its log back from the others (docs/RELIABILITY.md).
	Voters []int32
	// HardState is the quorum-state file (HasHardState false: none).
	HardState    raft.HardState
	HasHardState bool
	// ConfChanged: an intact entry after Base changes the configuration.
	ConfChanged bool
	// LastIndex and LastTerm are the highest entry index and term the
	// directory shows (intact entries, checkpoints, quorum-state): a log
	// Repair rebuilds continues after them, so metadata offsets (broker
	// epochs are registration offsets) and terms never go back.
	LastIndex, LastTerm uint64
	// Batches lists the log in order: intact batches (with Skipped set on
	// what is left out of Image) and damaged stretches.
	Batches []LogBatch
	// Missing counts the entries after Base that no intact batch holds
	// (FormatRaft): damaged, or never found.
	Missing int64
	// Image is what Base and every intact entry after it that applies
	// build, in order (FormatLegacy: every intact batch that applies).
	Image *Image
	// Strays are the partition directories Image does not know.
	Strays []StrayDir
	// Adopt lists the topics Repair adds or grows for strays.
	Adopt []Adoption
	// NextProducerID is where Repair moves the next producer id (0: it
	// stays Image's): damaged bytes may have held ProducerIdsRecords, and
	// a producer id handed out twice would break idempotence.
	NextProducerID int64
}

// StrayDir is a partition directory the image does not know.
type StrayDir struct {
	Name      string // under log.dirs
	Topic     string
	Partition int32
	TopicID   UUID // from partition.metadata; zero when it has none
	Adopted   bool // Repair adopts it back
	Why       string
}

// Adoption is a topic Repair creates (Existing == 0) or grows from the
// partition directories on disk, with this node as the only replica.
type Adoption struct {
	Topic      string
	ID         UUID
	Existing   int32   // partitions Image already has
	Partitions int32   // partitions after adoption: the highest found on disk + 1
	Missing    []int32 // partitions to add that have no directory: they start empty
	// Configs are the dynamic configs a created topic gets: none, but
	// cleanup.policy=compact for an internal topic ("__" prefix: the group,
	// transaction and share coordinators' topics are all compacted, and
	// the default delete policy would expire their state).
	Configs map[string]string
}

// Damaged reports whether the log lost anything: damaged bytes (a torn
// tail included), missing entries, intact batches or entries left out of
// the image, or (FormatRaft) no intact checkpoint. A damaged checkpoint
// with an intact older one is not damage: a broker starts from the older
// one and the entries after it, which the WAL keeps.
func (r *Report) Damaged() bool {
	if r.Format == FormatRaft && r.Base == nil || r.Missing > 0 {
		return true
	}
	for _, b := range r.Batches {
		if b.Damage != nil || b.Skipped != nil {
			return true
		}
		for _, e := range b.Entries {
			if e.Skipped != nil && !e.Covered {
				return true
			}
		}
	}
	return false
}

// NeedsRepair reports whether Repair would rewrite the log.
func (r *Report) NeedsRepair() bool {
	if r.Damaged() || len(r.Adopt) > 0 || r.NextProducerID > 0 {
		return true
	}
	return slices.ContainsFunc(r.Batches, func(b LogBatch) bool { return b.Misnumbered })
}

// Inspect reads the metadata log of the data directory logDirs and its
// partition directories and reports what it finds. It changes nothing and
// takes no lock, so it may run beside a broker (whose latest append it
// may then see half written, as a torn tail).
func Inspect(logDirs string) (*Report, error) {
	dir := Dir(logDirs)
	if _, err := os.Stat(dir); err != nil {
		if err := checkInterruptedRepair(dir); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no metadata log in %s: %w", logDirs, err)
	}
	return plan(logDirs)
}

// producerIDBlock is the smallest block assumed lost per damaged
// ProducerIdsRecord; a larger block seen in the log is used instead.
const producerIDBlock = 1000

// minProducerIdsBytes is the fewest bytes a ProducerIdsRecord can take in
// a log of format: FormatRaft, one more entry in a batch (7 bytes of
// record framing, the entry type, the 8-byte proposal id, the group's
// count and length, the record); FormatLegacy, a batch of its own.
func minProducerIdsBytes(format Format) int64 {
	rec := int64(len(Encode(ProducerIdsRecord{BrokerID: 1, BrokerEpoch: -1, NextProducerID: 1})))
	if format == FormatRaft {
		return 7 + 1 + 8 + 2 + rec
	}
	return record.HeaderSize + 7 + rec
}

// plan scans the metadata log and the partition directories of logDirs.
func plan(logDirs string) (*Report, error) {
	dir := Dir(logDirs)
	r := &Report{LogDirs: logDirs, Dir: dir, Format: formatOf(dir), Image: Empty()}
	removed := map[UUID]bool{} // by RemoveTopicRecords, applied or not
	var err error
	switch r.Format {
	case FormatRaft:
		err = r.planRaft(removed)
	case FormatLegacy:
		err = r.planLegacy(removed)
	}
	if err != nil {
		return nil, err
	}
	if err := r.findStrays(removed); err != nil {
		return nil, err
	}
	return r, nil
}

// pidWatch follows the ProducerIdsRecords of the intact part of a log, to
// move the next producer id past whatever the damaged part handed out.
type pidWatch struct{ max, block int64 }

func (w *pidWatch) see(recs []Record, img *Image, removed map[UUID]bool) {
	for _, rec := range recs {
		switch rec := rec.(type) {
		case RemoveTopicRecord:
			removed[rec.TopicID] = true
		case ProducerIdsRecord:
			w.block = max(w.block, rec.NextProducerID-max(w.max, img.NextProducerID))
			w.max = max(w.max, rec.NextProducerID)
		}
	}
}

// nextProducerID is where Repair moves the next producer id when lost
// changes may have held ProducerIdsRecords (0: it stays img's).
func (w *pidWatch) nextProducerID(img *Image, lost int64) int64 {
	if lost > 0 {
		return max(w.max, img.NextProducerID) + lost*max(w.block, producerIDBlock)
	}
	if w.max > img.NextProducerID {
		return w.max
	}
	return 0
}

// planRaft builds the image of a raft member's directory: the newest
// intact checkpoint, then every intact entry after it that applies, in
// index order.
func (r *Report) planRaft(removed map[UUID]bool) error {
	var err error
	if r.Checkpoints, err = raft.ReadCheckpoints(r.Dir); err != nil {
		return err
	}
	if r.HardState, r.HasHardState, err = raft.ReadHardState(r.Dir); err != nil {
		return err
	}
	img := Empty()
	next := uint64(1) // the first index the image does not hold
	r.LastIndex, r.LastTerm = r.HardState.Commit, r.HardState.Term
	for i := range r.Checkpoints {
		c := &r.Checkpoints[i]
		r.LastIndex, r.LastTerm = max(r.LastIndex, c.Index), max(r.LastTerm, c.Term)
		if c.Err != nil {
			continue
		}
		if img, err = ImageFromRecords(c.Data); err != nil {
			// Intact by its CRC, yet not an image: as damaged.
			c.Err, img = fmt.Errorf("its records do not build an image: %w", err), Empty()
			continue
		}
		r.Base, next = c, c.Index+1
		for _, v := range c.Voters {
			r.Voters = append(r.Voters, NodeID(v))
		}
		break
	}
	if r.Batches, err = scanLog(r.Dir, FormatRaft); err != nil {
		return err
	}
	var pids pidWatch
	var hole *LogBatch // the damaged stretch since the last intact entry
	seen := uint64(0)  // the last intact entry's index
	for i := range r.Batches {
		b := &r.Batches[i]
		if b.Damage != nil {
			if hole == nil {
				hole = b
			}
			continue
		}
		for j := range b.Entries {
			e := &b.Entries[j]
			if hole != nil && seen > 0 && e.Index > seen+1 {
				hole.FirstLost, hole.LastLost = seen+1, e.Index-1
			}
			hole, seen = nil, e.Index
			r.LastIndex, r.LastTerm = max(r.LastIndex, e.Index), max(r.LastTerm, e.Term)
			pids.see(e.Records, img, removed)
			if r.Base != nil && e.Index <= r.Base.Index {
				e.Covered = true
				continue
			}
			switch {
			case e.Index < next:
				e.Skipped = fmt.Errorf("entry %d again, after entry %d", e.Index, next-1)
				continue
			case e.Index > next && r.Base != nil:
				r.Missing += int64(e.Index - next)
			}
			next = e.Index + 1
			switch {
			case e.Skipped != nil:
			case e.Kind == raft.EntryConfChange:
				r.ConfChanged = true
			case e.Kind == raft.EntryProposal:
				n, err := img.Apply(e.Records)
				if err != nil {
					e.Skipped = err
					continue
				}
				img = n
			}
		}
	}
	if r.Base != nil && r.HardState.Commit >= next {
		// Committed entries the WAL no longer holds at all (a file cut
		// short): a broker would start without them.
		r.Missing += int64(r.HardState.Commit - next + 1)
	}
	r.Image = img
	var damagedBytes int64
	for _, b := range r.Batches {
		// Damage known to hold only entries the checkpoint has lost
		// nothing (a broker still refuses to start on it).
		if b.Damage != nil && !(r.Base != nil && b.LastLost > 0 && b.LastLost <= r.Base.Index) {
			damagedBytes += b.Size
		}
	}
	lost := r.Missing
	if damagedBytes > 0 {
		lost = max(lost, damagedBytes/minProducerIdsBytes(FormatRaft)+1)
	}
	r.NextProducerID = pids.nextProducerID(img, lost)
	return nil
}

// planLegacy builds the image of a single-node log: every intact batch
// that applies, in log order.
func (r *Report) planLegacy(removed map[UUID]bool) error {
	var err error
	if r.Batches, err = scanLog(r.Dir, FormatLegacy); err != nil {
		return err
	}
	img := Empty()
	var pids pidWatch
	var damagedBytes int64
	for i := range r.Batches {
		b := &r.Batches[i]
		if b.Damage != nil {
			damagedBytes += b.Size
			continue
		}
		pids.see(b.Records, img, removed)
		if b.Skipped != nil {
			continue
		}
		next, err := img.Apply(b.Records)
		if err != nil {
			b.Skipped = err
			continue
		}
		img = next
	}
	r.Image = img
	lost := int64(0)
	if damagedBytes > 0 {
		lost = damagedBytes/minProducerIdsBytes(FormatLegacy) + 1
	}
	r.NextProducerID = pids.nextProducerID(img, lost)
	return nil
}

// findStrays lists the partition directories r.Image does not know and
// decides which Repair adopts: those pinned to a topic id the image does
// not have under a name it does not have (a new topic), or to a topic it
// has with fewer partitions (grown). Never adopted: directories without a
// topic id, of a removed topic, of a name now taken by another topic id,
// or of a name whose directories disagree on the id.
func (r *Report) findStrays(removed map[UUID]bool) error {
	entries, err := os.ReadDir(r.LogDirs)
	if err != nil {
		return err
	}
	img := r.Image
	for id := range img.RemovedTopicIDs() {
		removed[id] = true
	}
	byName := map[string][]int{} // candidate strays for adoption, by topic
	for _, e := range entries {
		topic, p, ok := ParsePartitionDir(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		s := StrayDir{Name: e.Name(), Topic: topic, Partition: p}
		id, err := ReadPartitionTopicID(filepath.Join(r.LogDirs, e.Name()))
		t, known := img.TopicsByName[topic]
		switch {
		case err == nil:
			s.TopicID = id
		case errors.Is(err, os.ErrNotExist) && known && int(p) < len(t.Partitions):
			continue // the broker pins it when it opens the partition
		default:
			s.Why = "no topic id: " + err.Error()
		}
		switch {
		case s.Why != "":
		case known && t.ID == id && int(p) < len(t.Partitions):
			continue // the image's own
		case removed[id]:
			s.Why = "its topic was deleted"
		case known && t.ID != id:
			s.Why = fmt.Sprintf("topic %q now has id %s; the broker moves this directory aside", topic, t.ID)
		default:
			if o, ok := img.TopicsByID[id]; ok && o.Name != topic {
				s.Why = fmt.Sprintf("its topic id belongs to topic %q", o.Name)
			}
		}
		if s.Why == "" {
			byName[topic] = append(byName[topic], len(r.Strays))
		}
		r.Strays = append(r.Strays, s)
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		idx := byName[name]
		a := Adoption{Topic: name, ID: r.Strays[idx[0]].TopicID}
		if t, ok := img.TopicsByName[name]; ok {
			a.Existing = int32(len(t.Partitions))
		} else if strings.HasPrefix(name, "__") {
			a.Configs = map[string]string{"cleanup.policy": "compact"}
		}
		have := map[int32]bool{}
		var ids []string
		for _, i := range idx {
			s := r.Strays[i]
			if s.TopicID != a.ID && !slices.Contains(ids, s.TopicID.String()) {
				ids = append(ids, s.TopicID.String())
			}
			have[s.Partition] = true
			a.Partitions = max(a.Partitions, s.Partition+1)
		}
		if len(ids) > 0 {
			why := fmt.Sprintf("directories of topic %q disagree on its id (%s, %s)", name, a.ID, strings.Join(ids, ", "))
			for _, i := range idx {
				r.Strays[i].Why = why
			}
			continue
		}
		for p := a.Existing; p < a.Partitions; p++ {
			if !have[p] {
				a.Missing = append(a.Missing, p)
			}
		}
		for _, i := range idx {
			r.Strays[i].Adopted = true
		}
		r.Adopt = append(r.Adopt, a)
	}
	return nil
}

// checkInterruptedRepair fails when dir, a metadata log directory, is
// missing but a repair's new log for it is there: Repair renames the old
// log aside before moving the new one in, and a crash in between must not
// make a broker start on an empty metadata log.
func checkInterruptedRepair(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	pending, err := pendingRepairs(dir)
	if err != nil || len(pending) == 0 {
		return err
	}
	return fmt.Errorf("metadata: %s is missing and %s holds the log an interrupted `sluice metadata repair` wrote; "+
		"run `sluice metadata repair --log-dirs %s` again to finish it", dir, pending[len(pending)-1], filepath.Dir(dir))
}

// repairSuffix and asideSuffix name, after the metadata log directory's
// name and a time, the new log Repair writes and the old log it keeps.
const (
	repairSuffix = ".repair-"
	asideSuffix  = ".corrupt-"
)

// pendingRepairs lists the repair directories next to dir, oldest first.
func pendingRepairs(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), filepath.Base(dir)+repairSuffix) {
			out = append(out, filepath.Join(filepath.Dir(dir), e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}
