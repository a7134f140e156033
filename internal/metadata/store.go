package metadata

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/metrics"
)

// LogDirName is the metadata log's directory under log.dirs, as in KRaft.
// Partition log code must skip it when scanning log.dirs.
const LogDirName = "__cluster_metadata-0"

// Dir returns the metadata log directory under the data directory logDirs.
func Dir(logDirs string) string { return filepath.Join(logDirs, LogDirName) }

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("metadata: store closed")

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
	subs   []func(old, new *Image)
	closed bool

	img atomic.Pointer[Image]
}

// Open opens (creating if needed) the metadata log in dir, the metadata
// log directory itself (Dir(log.dirs), i.e. <log.dirs>/__cluster_metadata-0),
// and replays it into an image. A torn tail is truncated; a record that
// fails to decode or apply in an intact batch is an error (the metadata
// log is corrupt).
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.Default()
	}
	l, err := openBatchLog(dir, logger)
	if err != nil {
		return nil, fmt.Errorf("metadata: open log: %w", err)
	}
	s := &Store{logger: logger, log: l}
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
		return nil, fmt.Errorf("metadata: replay: %w", err)
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
	return s.log.Close()
}
