package metadata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/record"
)

// Report is what Inspect found in a data directory: the metadata log's
// batches and damage, the image the intact batches build, the partition
// directories that image does not know, and what Repair would do.
type Report struct {
	LogDirs string
	Dir     string // the metadata log directory
	// Batches lists the log in order: intact batches (Skipped set on
	// those left out of Image) and damaged stretches.
	Batches []LogBatch
	// Image is what every intact batch that applies builds, in log order,
	// with offsets renumbered from 0 as Repair writes them.
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

// Damaged reports whether the log has damaged bytes (a torn tail
// included) or intact batches left out of the image.
func (r *Report) Damaged() bool {
	for _, b := range r.Batches {
		if b.Damage != nil || b.Skipped != nil {
			return true
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

// minProducerIdsBatch is the smallest batch holding a ProducerIdsRecord:
// the batch header, 7 bytes of record framing and the 22-byte record.
const minProducerIdsBatch = record.HeaderSize + 7 + 22

// producerIDBlock is the smallest block assumed lost per damaged
// ProducerIdsRecord; a larger block seen in the log is used instead.
const producerIDBlock = 1000

// plan scans the metadata log and the partition directories of logDirs.
func plan(logDirs string) (*Report, error) {
	dir := Dir(logDirs)
	batches, err := scanLog(dir)
	if err != nil {
		return nil, err
	}
	r := &Report{LogDirs: logDirs, Dir: dir, Batches: batches}
	img := Empty()
	removed := map[UUID]bool{} // by RemoveTopicRecords, applied or not
	var damagedBytes, maxPID, block int64
	for i := range r.Batches {
		b := &r.Batches[i]
		if b.Damage != nil {
			damagedBytes += b.Size
			continue
		}
		for _, rec := range b.Records {
			switch rec := rec.(type) {
			case RemoveTopicRecord:
				removed[rec.TopicID] = true
			case ProducerIdsRecord:
				block = max(block, rec.NextProducerID-max(maxPID, img.NextProducerID))
				maxPID = max(maxPID, rec.NextProducerID)
			}
		}
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
	if damagedBytes > 0 {
		lost := damagedBytes/minProducerIdsBatch + 1
		r.NextProducerID = max(maxPID, img.NextProducerID) + lost*max(block, producerIDBlock)
	} else if maxPID > img.NextProducerID {
		r.NextProducerID = maxPID
	}
	if err := r.findStrays(removed); err != nil {
		return nil, err
	}
	return r, nil
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
