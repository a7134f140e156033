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

	"github.com/sluice-io/sluice/internal/log"
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
	// Records is the number of records (offsets) in the new log.
	Records int64
	// Finished names the new log of an interrupted repair that Repair
	// moved into place instead of planning a new one.
	Finished string
}

// Repair rewrites the metadata log of the data directory logDirs from
// what Inspect finds, with the broker stopped (the log is locked:
// ErrLocked while a broker runs). The new log holds, renumbered from
// offset 0, every intact batch that still applies, in order, skipping
// damaged bytes; then one batch per adopted topic (Report.Adopt: a
// TopicRecord with the id pinned in its directories, a PartitionRecord
// per partition, this node the only replica, and Adoption.Configs), so the
// data in stray partition directories comes back; then, when bytes were
// skipped, a ProducerIdsRecord moving the next producer id past any block
// they may have handed out. It is written to
// <log.dirs>/__cluster_metadata-0.repair-<time>, fsynced and replayed as
// the broker would, then the old log is renamed to
// __cluster_metadata-0.corrupt-<time> (kept, never deleted) and the new
// one moved into place. Run again after a crash, it finishes what it had
// started (a broker refuses to start in between).
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
	recs, err := rep.adoptionRecords(opt.NodeID)
	if err != nil {
		return nil, err
	}
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
	if res.Records, err = rep.writeLog(tmp, recs, opt.Logger); err != nil {
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

// adoptionRecords returns the batches Repair appends after the kept ones:
// one per adopted topic, then the producer id move.
func (r *Report) adoptionRecords(nodeID int32) ([][]Record, error) {
	var out [][]Record
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
		out = append(out, recs)
	}
	if r.NextProducerID > 0 {
		out = append(out, []Record{ProducerIdsRecord{BrokerID: max(nodeID, -1), BrokerEpoch: -1, NextProducerID: r.NextProducerID}})
	}
	img := r.Image
	for _, recs := range out {
		next, err := img.Apply(recs)
		if err != nil {
			return nil, fmt.Errorf("adopting stray partition directories: %w", err)
		}
		img = next
	}
	return out, nil
}

// writeLog writes the new log to dir: the intact batches that apply, as
// they were (timestamps and leader epochs kept, offsets renumbered), then
// extra. It replays the result as Open does before reporting success, and
// returns its record count.
func (r *Report) writeLog(dir string, extra [][]Record, logger *slog.Logger) (int64, error) {
	if err := mkdirDurable(dir); err != nil {
		return 0, err
	}
	l, err := log.Open(dir, logConfig(), logger)
	if err != nil {
		return 0, err
	}
	bl := &batchLog{l: l}
	for _, b := range r.Batches {
		if b.Damage != nil || b.Skipped != nil {
			continue
		}
		if _, err := l.Append(bytes.Clone(b.raw), b.epoch); err != nil {
			l.Close()
			return 0, err
		}
	}
	for _, recs := range extra {
		raw := make([][]byte, len(recs))
		for i, rec := range recs {
			raw[i] = Encode(rec)
		}
		if _, err := bl.Append(raw); err != nil { // fsyncs everything before it too
			l.Close()
			return 0, err
		}
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		l.Close()
		return 0, err
	}
	n := l.EndOffset()
	if err := l.Close(); err != nil {
		return 0, err
	}
	s, err := Open(dir, logger)
	if err != nil {
		return 0, fmt.Errorf("the new log does not replay: %w", err)
	}
	defer s.Close()
	topics := len(r.Image.TopicsByName) + newTopics(r.Adopt)
	if got := s.Image(); got.Offset+1 != n || len(got.TopicsByName) != topics {
		return 0, fmt.Errorf("the new log replays to %d records and %d topics, want %d and %d", got.Offset+1, len(got.TopicsByName), n, topics)
	}
	return n, nil
}

func ptr(s string) *string { return &s }

func newTopics(as []Adoption) int {
	n := 0
	for _, a := range as {
		if a.Existing == 0 {
			n++
		}
	}
	return n
}

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
