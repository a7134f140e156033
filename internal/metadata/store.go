package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metrics"
)

// LogDirName is the metadata log's directory under log.dirs, as in KRaft.
// Partition log code must skip it when scanning log.dirs.
const LogDirName = "__cluster_metadata-0"

// Dir returns the metadata log directory under the data directory logDirs.
func Dir(logDirs string) string { return filepath.Join(logDirs, LogDirName) }

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("metadata: store closed")

// ErrLocked is returned by Open and Repair while another process (a
// broker, a repair) has the metadata log open.
var ErrLocked = errors.New("metadata: the metadata log is in use by another process (a broker or a repair running on this data directory)")

// ErrDamaged is wrapped by Open's error when the metadata log is damaged
// other than by a torn tail (see Open).
var ErrDamaged = errors.New("metadata log is damaged")

// Store persists metadata records and publishes the Image they build.
//
// Today Append writes records straight to the local metadata log; with
// KRaft-style replication it will propose them to the Raft quorum and
// apply them when committed. Readers are unaffected: Image is lock-free
// and Subscribe sees every published image in order.
type Store struct {
	logger *slog.Logger

	mu     sync.Mutex // serializes Append, Subscribe and Close
	log    metaLog
	lock   *os.File // holds the lock on the log directory until Close
	subs   []func(old, new *Image)
	closed bool

	img atomic.Pointer[Image]
}

// Open opens (creating if needed) the metadata log in dir, the metadata
// log directory itself (Dir(log.dirs), i.e. <log.dirs>/__cluster_metadata-0),
// locks it against other processes (ErrLocked) and replays it into an
// image. A torn tail (damage at the very end of the last segment, which a
// crash can leave) is truncated. Any other damage fails Open with an error
// wrapping ErrDamaged that names the file and position and points to
// `sluice metadata inspect` and `sluice metadata repair` (Repair): damage
// in the middle of the log, a record that fails to decode or apply in an
// intact batch, offsets out of sequence. Truncating there would silently
// forget every change after it (topics holding acknowledged data among
// them).
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := checkInterruptedRepair(dir); err != nil {
		return nil, err
	}
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	l, err := openBatchLog(dir, logger)
	if err != nil {
		lock.Close()
		var ce *log.CorruptError
		if errors.As(err, &ce) {
			return nil, damaged(dir, err)
		}
		return nil, fmt.Errorf("metadata: open log: %w", err)
	}
	s := &Store{logger: logger, log: l, lock: lock}
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
		l.Close()
		lock.Close()
		return nil, damaged(dir, fmt.Errorf("replay of %s: %w", dir, err))
	}
	s.img.Store(img)
	logger.Info("metadata log replayed", "dir", dir, "offset", img.Offset,
		"topics", len(img.TopicsByName), "brokers", len(img.Brokers))
	return s, nil
}

// Image returns the current image. It never blocks and never returns nil.
func (s *Store) Image() *Image { return s.img.Load() }

// Append validates recs against the current image, writes them as one
// atomic batch to the metadata log, fsyncs it, publishes the new image and
// then calls the subscribers (in the caller's goroutine, before
// returning). If the records do not apply, nothing is written. Appending
// no records does nothing.
func (s *Store) Append(recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	began := time.Now()
	cur := s.img.Load()
	next, err := cur.Apply(recs)
	if err != nil {
		return err
	}
	raw := make([][]byte, len(recs))
	for i, r := range recs {
		raw[i] = Encode(r)
	}
	base, err := s.log.Append(raw)
	if err != nil {
		return fmt.Errorf("metadata: append: %w", err)
	}
	if base != cur.Offset+1 {
		// Cannot happen while Store is the only writer of its log.
		return fmt.Errorf("metadata: log appended at offset %d, image at %d", base, cur.Offset)
	}
	s.img.Store(next)
	metrics.MetadataCommit(time.Since(began))
	for _, fn := range s.subs {
		fn(cur, next)
	}
	return nil
}

// Subscribe registers fn to be called with the previous and the new image
// after every later Append, in order, from the appending goroutine. fn
// must not call Append, Subscribe or Close (they would deadlock) and
// should be quick; it may read anything from the images.
func (s *Store) Subscribe(fn func(old, new *Image)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
}

// Close closes the metadata log. Image keeps working.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.log.Close()
	// The lock goes last: nothing may open the log while it is still
	// being closed.
	s.lock.Close()
	return err
}

// damaged is Open's error for a damaged log in dir: what and where, and
// the way out.
func damaged(dir string, cause error) error {
	logDirs := filepath.Dir(dir)
	return fmt.Errorf("metadata: %w: %w. The broker does not start: going on would forget every change after the damage. "+
		"List the log with `sluice metadata inspect --log-dirs %s`, then run `sluice metadata repair --log-dirs %s`, "+
		"which rewrites it without the damaged bytes and keeps the old one aside (docs/RELIABILITY.md)",
		ErrDamaged, cause, logDirs, logDirs)
}

// mkdirDurable creates dir if it is missing, durably (the parent
// directory is fsynced).
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
