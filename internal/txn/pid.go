package txn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// Producer id allocation (see the package doc, "Producer ids").
const (
	pidFile      = "producer-ids"
	pidFileHdr   = "sluice-producer-ids v1\n"
	pidBlockSize = 1000
)

// IDAllocator hands out producer ids that are never reused, across
// restarts: ids come from a block whose end is persisted before the first
// id of it is handed out.
//
// INVARIANT: next <= blockEnd, and the persisted block end is >= every id
// handed out + 1, so an id handed out before a crash is below the
// restarted allocator's first id.
type IDAllocator struct {
	dir string

	mu       sync.Mutex
	next     int64
	blockEnd int64
}

// OpenIDAllocator reads <dir>/producer-ids (absent: start at 0).
func OpenIDAllocator(dir string) (*IDAllocator, error) {
	a := &IDAllocator{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		v, ok := strings.CutPrefix(string(b), pidFileHdr)
		n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || perr != nil || n < 0 {
			return nil, fmt.Errorf("txn: corrupt %s", filepath.Join(dir, pidFile))
		}
		a.next, a.blockEnd = n, n
	}
	return a, nil
}

// Next returns a fresh producer id.
func (a *IDAllocator) Next() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.blockEnd {
		end := a.next + pidBlockSize
		if err := fsutil.WriteFileAtomic(a.dir, pidFile, []byte(pidFileHdr+strconv.FormatInt(end, 10)+"\n")); err != nil {
			return -1, fmt.Errorf("txn: persist producer id block: %w", err)
		}
		a.blockEnd = end
	}
	id := a.next
	a.next++
	return id, nil
}
