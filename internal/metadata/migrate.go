package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluice-io/sluice/internal/fsutil"
	"github.com/sluice-io/sluice/internal/raft"
)

// LegacySuffix names where migration keeps a metadata log written before
// the quorum existed: <log.dirs>/__cluster_metadata-0.pre-raft. It is never
// deleted by Sluice; remove it once the migrated broker has run well.
const LegacySuffix = ".pre-raft"

// migrateLegacy turns a metadata log of the single-node format (one record
// batch per change, one offset per metadata record, no quorum state) into
// the raft format: the old log is replayed into an image, moved aside to
// dir+LegacySuffix, and dir is bootstrapped with a checkpoint holding that
// image. A dir that already has raft state, or no metadata at all, is left
// alone. A crash at any point is safe: before the rename nothing changed;
// after it, the next open finds the old log aside and no checkpoint, and
// migrates from there again.
func migrateLegacy(dir string, voters []uint64, logger *slog.Logger) error {
	if raft.HasState(dir) {
		return nil
	}
	aside := dir + LegacySuffix
	src := dir
	if !hasSegments(dir) {
		if !hasSegments(aside) {
			return nil // a new node: raft bootstraps it
		}
		src = aside
	}
	img, err := replayLegacy(src, logger)
	if err != nil {
		return fmt.Errorf("metadata: migrate %s to the raft format: %w", src, err)
	}
	if img.Offset < 0 && src == dir {
		return nil // an empty old log: nothing to carry over
	}
	if src == dir {
		if _, err := os.Stat(aside); err == nil {
			return fmt.Errorf("metadata: cannot migrate %s: %s already exists (move it away first)", dir, aside)
		}
		if err := os.Rename(dir, aside); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := raft.Bootstrap(dir, voters, EncodeRecords(img.Records()), logger); err != nil {
		return err
	}
	logger.Info("metadata log migrated to the raft format", "dir", dir, "old_log_kept_at", aside,
		"records", img.Offset+1, "topics", len(img.TopicsByName), "brokers", len(img.Brokers))
	return nil
}

func hasSegments(dir string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			if info, err := e.Info(); err == nil && info.Size() > 0 {
				return true
			}
		}
	}
	return false
}

func syncDir(dir string) error { return fsutil.SyncDir(dir) }

// replayLegacy reads a single-node-format metadata log into an image. A
// torn tail is truncated as before; any other damage fails.
func replayLegacy(dir string, logger *slog.Logger) (*Image, error) {
	l, err := openBatchLog(dir, logger)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	img := Empty()
	err = l.Replay(func(base int64, raw [][]byte) error {
		if base != img.Offset+1 {
			return fmt.Errorf("batch at offset %d follows offset %d", base, img.Offset)
		}
		recs := make([]Record, len(raw))
		for i, b := range raw {
			r, err := Decode(b)
			if err != nil {
				return fmt.Errorf("offset %d: %w", base+int64(i), err)
			}
			recs[i] = r
		}
		next, err := img.Apply(recs)
		if err != nil {
			return err
		}
		img = next
		return nil
	})
	if err != nil {
		return nil, errors.Join(errors.New("replay"), err)
	}
	return img, nil
}
