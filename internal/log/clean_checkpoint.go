package log

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// cleanerCheckpointFile remembers, across restarts, where the last cleaning
// pass ended, so a restart does not treat the whole log as dirty again, and
// the earliest delete horizon it left behind, so the log is cleaned again
// when tombstones become removable even if no new data arrives. Format in
// doc.go.
const (
	cleanerCheckpointFile = "cleaner-offset-checkpoint"
	cleanerCheckpointHdr  = "sluice-cleaner-checkpoint v1\n"
)

// cleanCheckpoint is the cleaner's persisted progress for one log.
type cleanCheckpoint struct {
	firstDirty int64 // offsets below were cleaned by an earlier pass
	horizonMs  int64 // earliest delete horizon of a kept tombstone, -1 when none
}

func readCleanCheckpoint(dir string) (cleanCheckpoint, error) {
	ck := cleanCheckpoint{horizonMs: -1}
	b, err := os.ReadFile(filepath.Join(dir, cleanerCheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return ck, nil
	}
	if err != nil {
		return ck, err
	}
	rest, ok := strings.CutPrefix(string(b), cleanerCheckpointHdr)
	lines := strings.Split(strings.TrimSuffix(rest, "\n"), "\n")
	if !ok || len(lines) != 2 {
		return ck, fmt.Errorf("%s: malformed", cleanerCheckpointFile)
	}
	first, err1 := strconv.ParseInt(lines[0], 10, 64)
	horizon, err2 := strconv.ParseInt(lines[1], 10, 64)
	if err1 != nil || err2 != nil || first < 0 {
		return ck, fmt.Errorf("%s: malformed", cleanerCheckpointFile)
	}
	return cleanCheckpoint{firstDirty: first, horizonMs: horizon}, nil
}

// writeCleanCheckpoint replaces the file atomically (a crash leaves the old
// or the new one; an old one only means some data is cleaned again).
func writeCleanCheckpoint(dir string, ck cleanCheckpoint) error {
	body := cleanerCheckpointHdr + strconv.FormatInt(ck.firstDirty, 10) + "\n" +
		strconv.FormatInt(ck.horizonMs, 10) + "\n"
	return fsutil.WriteFileAtomic(dir, cleanerCheckpointFile, []byte(body))
}

// lowerCleanCheckpoint brings the cleaner's first dirty offset down to
// end after the log lost its tail (TruncateTo, a reset): the offsets from
// end on will hold new batches, which no pass has cleaned (Kafka's
// maybeTruncateCheckpoint). If the file cannot be rewritten it is removed,
// which only makes the whole log dirty again. Caller holds appendMu, which
// Clean also takes to write the checkpoint (Log.writeCleanCheckpointIf).
func (l *Log) lowerCleanCheckpoint(end int64) {
	ck, err := readCleanCheckpoint(l.dir)
	if err == nil && ck.firstDirty <= end {
		return
	}
	if err == nil {
		ck.firstDirty = end
		if err = writeCleanCheckpoint(l.dir, ck); err == nil {
			return
		}
	}
	if rerr := os.Remove(filepath.Join(l.dir, cleanerCheckpointFile)); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		l.logger.Warn("cannot lower the cleaner checkpoint after truncation", "dir", l.dir, "err", errors.Join(err, rerr))
	}
}

// writeCleanCheckpointIf writes a pass's checkpoint unless the log was
// truncated or reset since the pass began (gen is truncGen then): that
// lowered the checkpoint already, and the pass's end may lie beyond the
// new log end, so the range is left to be cleaned again.
func (l *Log) writeCleanCheckpointIf(gen uint64, ck cleanCheckpoint) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.truncGen != gen {
		return nil
	}
	return writeCleanCheckpoint(l.dir, ck)
}
