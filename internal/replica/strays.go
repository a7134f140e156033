package replica

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/fsutil"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Partition directories the metadata image does not account for.
//
// INVARIANT: a partition directory is deleted only when its topic id
// (partition.metadata) is one the metadata log removed (Image.Removed):
// the topic was deleted and the directory is what is left of it; or when
// its topic id is the image's id for that topic and the image no longer
// places the partition on this broker: it was reassigned away (deleted
// while running by releaseLocked, at start by sweepDirs, as Kafka's
// stray-replica cleanup). Any
// other directory the image does not know (an unknown topic, a topic id
// that differs from the image's, no topic id but data) is a stray: it is
// never deleted, emptied or reused. A stray under a name the image does
// not use is left where it is, with a warning at every start (`sluice
// metadata repair` adopts it back); one under the name of a partition
// the image has is moved aside to "<name>.<32 hex>-stray", as Kafka does,
// so that the partition starts in a fresh directory.
//
// Deleting renames first, to "<name>.<32 hex>-delete" (durably), then
// removes: a crash in between leaves a name the next start finishes
// deleting, never a half-deleted directory under the partition's name.

// sweepDirs looks once, at the first Apply, at every directory under
// m.dir that the image has no partition for: it finishes interrupted
// deletes, deletes what is left of removed topics and warns about
// strays. Partitions the image has are left to open (claimDir).
func (m *Manager) sweepDirs(img *metadata.Image) {
	entries, err := os.ReadDir(m.dir)
	if err != nil {
		m.logger.Error("list partition directories", "dir", m.dir, "err", err)
		return
	}
	var removed map[metadata.UUID]bool
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(m.dir, e.Name())
		if _, suffix, ok := metadata.ParseAsideDir(e.Name()); ok {
			if suffix == metadata.DeleteSuffix {
				m.logger.Info("removing the rest of a deleted partition directory", "dir", path)
				if err := os.RemoveAll(path); err != nil {
					m.logger.Error("remove deleted partition directory", "dir", path, "err", err)
				}
			} else {
				m.logger.Info("stray partition directory kept aside; delete it once its data is not needed", "dir", path)
			}
			continue
		}
		topic, p, ok := metadata.ParsePartitionDir(e.Name())
		if !ok {
			continue
		}
		if t, ok := img.TopicsByName[topic]; ok && int(p) < len(t.Partitions) {
			if !slices.Contains(t.Partitions[p].Replicas, m.broker.NodeID) {
				if id, err := metadata.ReadPartitionTopicID(path); err == nil && id == t.ID {
					m.logger.Info("removing the log of a partition reassigned away from this broker", "dir", path)
					if err := deleteDir(path); err != nil {
						m.logger.Error("remove partition directory", "dir", path, "err", err)
					}
				}
			}
			continue
		}
		id, err := metadata.ReadPartitionTopicID(path)
		if err == nil {
			if removed == nil {
				removed = img.RemovedTopicIDs()
			}
			if removed[id] {
				m.logger.Info("removing the partition directory of a deleted topic", "dir", path, "topic_id", id)
				if err := deleteDir(path); err != nil {
					m.logger.Error("remove partition directory", "dir", path, "err", err)
				}
				continue
			}
		}
		m.logger.Warn("stray partition directory: the metadata does not know it, so it is left as it is, never deleted or reused; "+
			"with the broker stopped, `sluice metadata repair` adopts it back as a topic, or move it away",
			"dir", path, "topic_id", idOrErr(id, err))
	}
}

// claimDir makes dir, which may exist, the directory of a partition of
// topic id: a directory pinned to id, or with no pin and no records
// (open was cut short before pinning it), is used as it is; one pinned to
// a removed topic is deleted; anything else is moved aside as a stray.
func (m *Manager) claimDir(dir string, id metadata.UUID, img *metadata.Image) error {
	old, err := metadata.ReadPartitionTopicID(dir)
	switch {
	case err == nil && old == id:
		return nil
	case err == nil && img.RemovedTopicIDs()[old]:
		m.logger.Info("removing the partition directory of a deleted topic before its name is reused", "dir", dir, "topic_id", old)
		return deleteDir(dir)
	case errors.Is(err, fs.ErrNotExist):
		if empty, serr := holdsNoRecords(dir); serr != nil || empty {
			return nil // missing (log.Open creates it), or nothing to lose
		}
	}
	aside, rerr := moveAside(dir)
	if rerr != nil {
		return rerr
	}
	m.logger.Warn("stray partition directory moved aside, not deleted: it belongs to a topic the metadata does not know, "+
		"and the partition now named like it starts in a fresh directory",
		"dir", dir, "moved_to", aside, "topic_id", idOrErr(old, err), "new_topic_id", id)
	return nil
}

func idOrErr(id metadata.UUID, err error) string {
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return id.String()
}

// holdsNoRecords reports whether dir has no non-empty segment file; a
// missing dir is an error satisfying errors.Is(err, fs.ErrNotExist).
func holdsNoRecords(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if info, err := e.Info(); err != nil || info.Size() > 0 {
			return false, err
		}
	}
	return true, nil
}

// moveAside renames dir to its stray name, durably, and returns it.
func moveAside(dir string) (string, error) {
	aside := filepath.Join(filepath.Dir(dir), metadata.AsideDirName(filepath.Base(dir), metadata.StraySuffix))
	if err := os.Rename(dir, aside); err != nil {
		return "", err
	}
	return aside, syncDir(filepath.Dir(dir))
}

// deleteDir removes a partition directory: renamed to its -delete name
// (durably), then removed.
func deleteDir(dir string) error {
	trash := filepath.Join(filepath.Dir(dir), metadata.AsideDirName(filepath.Base(dir), metadata.DeleteSuffix))
	if err := os.Rename(dir, trash); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

func syncDir(dir string) error { return fsutil.SyncDir(dir) }
