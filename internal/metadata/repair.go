package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/raft"
)

// RepairOptions tunes Repair.
type RepairOptions struct {
	// NodeID is the replica, leader and ISR of adopted partitions; -1
	// takes node.id from meta.properties in log.dirs (or, without one, the
	// image's only registered broker).
	NodeID int32
	// DryRun plans and reports without changing anything.
	DryRun bool
	// Now stamps the directory names (zero: time.Now()).
	Now    time.Time
	Logger *slog.Logger // nil: discard
}

// RepairResult is what Repair did.
type RepairResult struct {
	*Report
	// Rewritten: a new log replaced the old one (false when the log
	// needed nothing, or with DryRun).
	Rewritten bool
	// Aside is where the old log was kept (renamed, never deleted).
	Aside string
	// Repaired is the image the new log holds (nil when there is nothing
	// to repair) and Records the number of records it is written as.
	Repaired *Image
	Records  int64
	// Finished names the new log of an interrupted repair that Repair
	// moved into place instead of planning a new one.
	Finished string
}

// ErrQuorumMember is returned by Repair for a member of a metadata quorum
// of more than one voter: its log is not its own to rewrite.
var ErrQuorumMember = errors.New("metadata: repair rewrites only the log of a one-voter metadata quorum")

// Repair rewrites the metadata log of the data directory logDirs from
// what Inspect finds, with the broker stopped (the log is locked:
// ErrLocked while a broker runs). The repaired image is, for a raft
// member of a one-voter quorum, the newest intact checkpoint and every
// intact entry after it that applies, in index order, skipping damaged
// bytes and entries that do not apply (for a single-node log from before
// the quorum: every intact batch that applies); plus one change per
// adopted topic (Report.Adopt: a TopicRecord with the id pinned in its
// directories, a PartitionRecord per partition, this node the only
// replica, and Adoption.Configs), so the data in stray partition
// directories comes back; plus, when bytes were skipped, a
// ProducerIdsRecord moving the next producer id past any block they may
// have handed out. A new log holding that image is written to
// <log.dirs>/__cluster_metadata-0.repair-<time> (a raft directory whose
// one checkpoint holds the image, with the old checkpoint's voters, at
// the old log's last index and term: raft.BootstrapAt; for a single-node
// log, one batch of the image's records, which the next start migrates) and read back as a broker would, then the old
// log is renamed to __cluster_metadata-0.corrupt-<time> (kept, never
// deleted) and the new one moved into place. Run again after a crash, it
// finishes what it had started (a broker refuses to start in between).
//
// A member of a quorum of several voters is refused (ErrQuorumMember):
// the quorum, not this node, holds its metadata (docs/RELIABILITY.md).
func Repair(logDirs string, opt RepairOptions) (*RepairResult, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	dir := Dir(logDirs)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return finishRepair(dir, opt)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	defer lock.Close()
	rep, err := plan(logDirs)
	if err != nil {
		return nil, err
	}
	res := &RepairResult{Report: rep}
	if !rep.NeedsRepair() {
		return res, nil
	}
	if err := rep.Repairable(); err != nil {
		return nil, err
	}
	if res.Repaired, err = rep.repaired(opt.NodeID); err != nil {
		return nil, err
	}
	recs := res.Repaired.Records()
	res.Records = int64(len(recs))
	if opt.DryRun {
		return res, nil
	}
	// The log exists, so repair directories next to it are leftovers of
	// a repair that stopped before its rename: its own output, unused.
	stale, err := pendingRepairs(dir)
	if err != nil {
		return nil, err
	}
	for _, d := range stale {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	stamp := opt.Now.UTC().Format("20060102T150405Z")
	tmp, aside := freeName(dir+repairSuffix+stamp), freeName(dir+asideSuffix+stamp)
	if rep.Format == FormatRaft {
		voters := make([]uint64, len(rep.Voters))
		for i, id := range rep.Voters {
			voters[i] = RaftID(id)
		}
		err = writeRaft(tmp, rep.LastIndex, rep.LastTerm, voters, recs, opt.Logger)
	} else {
		err = writeLegacy(tmp, recs, opt.Logger)
	}
	if err != nil {
		return nil, fmt.Errorf("write the new metadata log in %s: %w", tmp, err)
	}
	// INVARIANT: the old log is renamed aside only once the new one is
	// whole and durable, and nothing is ever deleted: a crash between the
	// renames leaves no log at dir and the new one at tmp, which makes the
	// broker refuse to start and the next Repair finish the move.
	if err := os.Rename(dir, aside); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	if err := syncDir(logDirs); err != nil {
		return nil, err
	}
	res.Rewritten, res.Aside = true, aside
	return res, nil
}

// Repairable says why Repair cannot rewrite r's log (nil: it can).
func (r *Report) Repairable() error {
	switch {
	case r.Format == FormatNone && hasSegments(r.Dir+LegacySuffix):
		return fmt.Errorf("%s holds no metadata log, and %s holds the single-node log a migration to the raft format "+
			"was converting when it stopped: start the broker to finish the migration; if the start reports that log "+
			"damaged, replace %s with %s and run repair again", r.Dir, r.Dir+LegacySuffix, r.Dir, r.Dir+LegacySuffix)
	case r.Format == FormatNone:
		return fmt.Errorf("%s holds no metadata log yet: start the broker once so that it creates one, stop it, "+
			"and run repair again to adopt the partition directories", r.Dir)
	case r.Format == FormatLegacy:
		return nil
	case len(r.Voters) > 1 && !r.Damaged():
		return fmt.Errorf("%w: %s belongs to a member of a quorum of %d voters (node ids %v), whose metadata is the "+
			"quorum's: repair cannot adopt partition directories into it. They stay where they are as strays (a broker "+
			"moves one aside when a topic takes its name); recreate their topics through the cluster to use the names "+
			"(docs/RELIABILITY.md)", ErrQuorumMember, r.Dir, len(r.Voters), r.Voters)
	case len(r.Voters) > 1:
		return fmt.Errorf("%w: %s belongs to a member of a quorum of %d voters (node ids %v). Its log is not its own to "+
			"rewrite: the other voters hold the same entries, and a member whose log disagrees with theirs breaks the "+
			"quorum. The way back is the quorum: with this broker stopped, move %s aside (keep it) and start the broker; "+
			"it starts with an empty log and catches up from the leader. Do this only while a majority of the voters "+
			"(%d of %d) is healthy and has a leader (docs/RELIABILITY.md)",
			ErrQuorumMember, r.Dir, len(r.Voters), r.Voters, r.Dir, len(r.Voters)/2+1, len(r.Voters))
	case r.Base == nil:
		return fmt.Errorf("no intact checkpoint in %s (%d damaged), and repair needs one to start from: restore "+
			"__cluster_metadata-0 from a copy taken with the broker stopped (docs/RELIABILITY.md)", r.Dir, len(r.Checkpoints))
	case r.ConfChanged:
		return fmt.Errorf("%s: an entry after checkpoint %s changes the quorum's configuration; repair rewrites only "+
			"the log of a one-voter quorum whose configuration never changed", r.Dir, r.Base.Name)
	}
	return nil
}

// finishRepair moves the new log of an interrupted repair into place.
func finishRepair(dir string, opt RepairOptions) (*RepairResult, error) {
	pending, err := pendingRepairs(dir)
	if err != nil {
		return nil, err
	}
	switch len(pending) {
	case 0:
		return nil, fmt.Errorf("no metadata log in %s", filepath.Dir(dir))
	case 1:
	default:
		return nil, fmt.Errorf("%s is missing and several repairs left a new log (%s): rename the one to keep to %s",
			dir, strings.Join(pending, ", "), filepath.Base(dir))
	}
	if opt.DryRun {
		return &RepairResult{Finished: pending[0]}, nil
	}
	if err := os.Rename(pending[0], dir); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, err
	}
	return &RepairResult{Finished: pending[0]}, nil
}

// repaired returns r.Image with the adopted topics and the producer id
// move applied: what the new log holds.
func (r *Report) repaired(nodeID int32) (*Image, error) {
	var changes [][]Record
	if len(r.Adopt) > 0 && nodeID < 0 {
		var err error
		if nodeID, err = localNodeID(r.LogDirs, r.Image); err != nil {
			return nil, err
		}
	}
	for _, a := range r.Adopt {
		var recs []Record
		if a.Existing == 0 {
			recs = append(recs, TopicRecord{Name: a.Topic, ID: a.ID})
		}
		for p := a.Existing; p < a.Partitions; p++ {
			recs = append(recs, PartitionRecord{TopicID: a.ID, Partition: p,
				Replicas: []int32{nodeID}, ISR: []int32{nodeID}, Leader: nodeID})
		}
		for _, k := range slices.Sorted(maps.Keys(a.Configs)) {
			recs = append(recs, ConfigRecord{ResourceType: ResourceTopic, ResourceName: a.Topic, Name: k, Value: ptr(a.Configs[k])})
		}
		changes = append(changes, recs)
	}
	if r.NextProducerID > 0 {
		changes = append(changes, []Record{ProducerIdsRecord{BrokerID: max(nodeID, -1), BrokerEpoch: -1, NextProducerID: r.NextProducerID}})
	}
	img := r.Image
	for _, recs := range changes {
		next, err := img.Apply(recs)
		if err != nil {
			return nil, fmt.Errorf("adopting stray partition directories: %w", err)
		}
		img = next
	}
	return img, nil
}

// writeRaft writes a raft member's directory holding recs as its only
// state (a checkpoint at index and term, with voters as the
// configuration, and an empty WAL), then loads it as a node would and
// checks it holds exactly that.
func writeRaft(dir string, index, term uint64, voters []uint64, recs []Record, logger *slog.Logger) error {
	if err := mkdirDurable(dir); err != nil {
		return err
	}
	data := EncodeRecords(recs)
	if err := raft.BootstrapAt(dir, index, term, voters, data, logger); err != nil {
		return err
	}
	st, err := raft.LoadState(dir, logger)
	if err != nil {
		return fmt.Errorf("the new log does not open: %w", err)
	}
	img, err := ImageFromRecords(st.Data)
	switch {
	case err != nil:
		return fmt.Errorf("the new log's checkpoint does not build an image: %w", err)
	case st.Index != index || st.Term != term || len(st.Entries) != 0 || !slices.Equal(st.Voters, voters):
		return fmt.Errorf("the new log opens at checkpoint %d (term %d) with %d entries and voters %v, want %d (term %d), 0 and %v",
			st.Index, st.Term, len(st.Entries), st.Voters, index, term, voters)
	case !bytes.Equal(EncodeRecords(img.Records()), data):
		return errors.New("the new log's checkpoint builds another image than the repaired one")
	}
	return nil
}

// writeLegacy writes a single-node log holding recs as one batch, then
// replays it as the migration at the next start does and checks it
// builds the same image.
func writeLegacy(dir string, recs []Record, logger *slog.Logger) error {
	if err := mkdirDurable(dir); err != nil {
		return err
	}
	l, err := openBatchLog(dir, logger)
	if err != nil {
		return err
	}
	raw := make([][]byte, len(recs))
	for i, rec := range recs {
		raw[i] = Encode(rec)
	}
	if len(raw) > 0 {
		if _, err := l.Append(raw); err != nil { // fsynced
			l.Close()
			return err
		}
	}
	if err := l.Close(); err != nil {
		return err
	}
	img, err := replayLegacy(dir, logger)
	if err != nil {
		return fmt.Errorf("the new log does not replay: %w", err)
	}
	if !bytes.Equal(EncodeRecords(img.Records()), EncodeRecords(recs)) {
		return errors.New("the new log replays to another image than the repaired one")
	}
	return nil
}

func ptr(s string) *string { return &s }

// localNodeID is node.id from meta.properties in logDirs, or the image's
// only registered broker.
func localNodeID(logDirs string, img *Image) (int32, error) {
	b, err := os.ReadFile(filepath.Join(logDirs, "meta.properties"))
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "node.id" {
				id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
				if err != nil || id < 0 {
					return 0, fmt.Errorf("bad node.id %q in %s", v, filepath.Join(logDirs, "meta.properties"))
				}
				return int32(id), nil
			}
		}
	}
	if ids := img.BrokerIDs(); len(ids) == 1 {
		return ids[0], nil
	}
	return 0, fmt.Errorf("cannot tell this node's id (no node.id in %s): give it with --node-id", filepath.Join(logDirs, "meta.properties"))
}

// freeName returns path, or path with ".N" added if path exists.
func freeName(path string) string {
	p := path
	for n := 2; ; n++ {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
		p = fmt.Sprintf("%s.%d", path, n)
	}
}
