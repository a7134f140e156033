package txn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Producer id allocation (see the package doc, "Producer ids").
const (
	legacyPIDFile = "producer-ids" // before ProducerIdsRecord: the end of the last block
	legacyPIDHdr  = "sluice-producer-ids v1\n"
	pidBlockSize  = 1000
)

// ProducerIDBlockSize is how many producer ids one AllocateProducerIds
// hands a broker (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).
const ProducerIDBlockSize = pidBlockSize

// BlockSource hands out a block of producer ids starting at or above
// atLeast and returns its first id and size (n is the size asked for);
// the block must be durable before it returns
// (controller.AllocateProducerIDs: a ProducerIdsRecord).
type BlockSource func(n, atLeast int64) (start, size int64, err error)

// IDAllocator hands out producer ids that are never reused, across
// restarts: ids come from blocks the controller recorded in the metadata
// log before the first id of a block is handed out.
//
// INVARIANT: next <= blockEnd, and every id handed out lies in a block
// the metadata log holds, so a restarted allocator (which asks for a new
// block) never hands it out again.
type IDAllocator struct {
	src       BlockSource
	dir       string
	legacyEnd int64 // first id not covered by a legacy producer-ids file (0: none)

	mu       sync.Mutex
	next     int64
	blockEnd int64
}

// OpenIDAllocator returns an allocator taking blocks from src. A
// producer-ids file left in dir by an older Sluice (blocks kept in a file)
// is honoured once: the first block starts above it, then it is removed.
func OpenIDAllocator(dir string, src BlockSource) (*IDAllocator, error) {
	a := &IDAllocator{src: src, dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, legacyPIDFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		v, ok := strings.CutPrefix(string(b), legacyPIDHdr)
		n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || perr != nil || n < 0 {
			return nil, fmt.Errorf("txn: corrupt %s", filepath.Join(dir, legacyPIDFile))
		}
		a.legacyEnd = n
	}
	return a, nil
}

// Next returns a fresh producer id.
func (a *IDAllocator) Next() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.blockEnd {
		start, size, err := a.src(pidBlockSize, a.legacyEnd)
		if err == nil && (size <= 0 || start < a.legacyEnd) {
			err = fmt.Errorf("block [%d, %d) below the legacy producer-ids end %d", start, start+size, a.legacyEnd)
		}
		if err != nil {
			return -1, fmt.Errorf("txn: allocate producer id block: %w", err)
		}
		a.next, a.blockEnd = start, start+size
		if a.legacyEnd > 0 {
			// The metadata log now covers every id the file did.
			if err := os.Remove(filepath.Join(a.dir, legacyPIDFile)); err == nil || errors.Is(err, os.ErrNotExist) {
				a.legacyEnd = 0
			}
		}
	}
	id := a.next
	a.next++
	return id, nil
}
