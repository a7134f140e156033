package replica

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-io/sluice/internal/fsutil"
)

// The high-watermark checkpoint (Kafka's replication-offset-checkpoint):
// one file per log directory with the HW of every partition in it, so a
// restarted broker does not expose more than its replica set confirmed.
//
//	0                 version
//	2                 number of entries
//	orders 0 1234     "<topic> <partition> <hw>", one per partition
//	payments 3 17
//
// It is replaced atomically (fsutil.WriteFileAtomic) every
// replica.high.watermark.checkpoint.interval.ms by the broker's
// maintenance loop (Manager.CheckpointHW) and once more at clean shutdown
// (Manager.Close), and read at the first open.
//
// At open a partition with more than one replica starts with
// HW = min(checkpointed HW, LEO), bounded below by its log start (0 when
// the file has no entry): the records above it may exist on this replica
// alone, and the leader moves the HW again as its ISR fetches (hw.go). A
// partition whose replica set is this broker alone keeps HW = LEO: every
// record recovery kept was fsynced before it was acknowledged, so a single
// node behaves as it always did.
//
// INVARIANT: the file never holds a HW above what the partition's log
// ends at after a truncation or reset that the fetcher performed: the
// truncation hook (Manager.StartReplication) lowers the entry and rewrites
// the file before the next fetch appends anything. A stale entry left by
// another path is still bounded by the LEO at open, and can only be lower
// than the truth otherwise (the HW never goes back).
//
// A damaged file (bad version, count, line, or an offset that does not
// parse) is ignored with a log line: every replicated partition then opens
// at its log start and waits for its ISR, which is safe, only slower.

// HWCheckpointFile is the file's name in each log directory.
const HWCheckpointFile = "replication-offset-checkpoint"

const hwCheckpointVersion = 0

// encodeHWCheckpoint renders entries in Kafka's text format, sorted so
// the file is stable.
func encodeHWCheckpoint(hws map[TP]int64) []byte {
	tps := make([]TP, 0, len(hws))
	for tp := range hws {
		tps = append(tps, tp)
	}
	slices.SortFunc(tps, func(a, b TP) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", hwCheckpointVersion, len(tps))
	for _, tp := range tps {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, hws[tp])
	}
	return b.Bytes()
}

// decodeHWCheckpoint parses the file's bytes; any damage is an error and
// the caller ignores the whole file.
func decodeHWCheckpoint(data []byte) (map[TP]int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	v, ok := line()
	if !ok {
		return nil, errors.New("empty file")
	}
	if v != strconv.Itoa(hwCheckpointVersion) {
		return nil, fmt.Errorf("unknown version %q", v)
	}
	c, ok := line()
	n, err := strconv.Atoi(c)
	if !ok || err != nil || n < 0 {
		return nil, fmt.Errorf("bad entry count %q", c)
	}
	out := make(map[TP]int64, n)
	for i := range n {
		l, ok := line()
		if !ok {
			return nil, fmt.Errorf("%d entries, want %d", i, n)
		}
		f := strings.Fields(l)
		if len(f) != 3 {
			return nil, fmt.Errorf("bad entry %q", l)
		}
		part, err1 := strconv.ParseInt(f[1], 10, 32)
		hw, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || part < 0 || hw < 0 {
			return nil, fmt.Errorf("bad entry %q", l)
		}
		out[TP{f[0], int32(part)}] = hw
	}
	if rest, ok := line(); ok && rest != "" {
		return nil, fmt.Errorf("more than %d entries", n)
	}
	return out, sc.Err()
}

// hwCheckpoint is the Manager's side of the file: what was read at open
// and what was last written (the truncation hook lowers one entry of it
// without walking the partitions, so it needs no Manager lock).
type hwCheckpoint struct {
	dir string

	mu      sync.Mutex // a leaf lock: held across the file write only
	loaded  bool
	written map[TP]int64 // the file's content as last read or written
}

// load reads the file once; a missing file is empty, a damaged one is
// ignored with a log line.
func (c *hwCheckpoint) load(m *Manager) map[TP]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return c.written
	}
	c.loaded = true
	c.written = map[TP]int64{}
	data, err := os.ReadFile(filepath.Join(c.dir, HWCheckpointFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		m.logger.Error("read high-watermark checkpoint; replicated partitions open at their log start", "dir", c.dir, "err", err)
	default:
		hws, err := decodeHWCheckpoint(data)
		if err != nil {
			m.logger.Error("damaged high-watermark checkpoint ignored; replicated partitions open at their log start",
				"file", filepath.Join(c.dir, HWCheckpointFile), "err", err)
			break
		}
		c.written = hws
	}
	return c.written
}

// write replaces the file with hws.
func (c *hwCheckpoint) write(hws map[TP]int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(hws)
}

func (c *hwCheckpoint) writeLocked(hws map[TP]int64) error {
	if err := fsutil.WriteFileAtomic(c.dir, HWCheckpointFile, encodeHWCheckpoint(hws)); err != nil {
		return err
	}
	c.written, c.loaded = hws, true
	return nil
}

// lower brings tp's entry down to hw when the file holds more, and
// rewrites the file then.
func (c *hwCheckpoint) lower(tp TP, hw int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.written[tp]; !ok || old <= hw {
		return nil
	}
	next := make(map[TP]int64, len(c.written))
	for k, v := range c.written {
		next[k] = v
	}
	next[tp] = hw
	return c.writeLocked(next)
}

// openHW is the HW a partition opens with: its LEO when this broker is
// its only replica, else the checkpointed HW (0 when absent) within
// [log start, LEO].
func openHW(replicas int, ckpt int64, ok bool, start, end int64) int64 {
	if replicas <= 1 {
		return end
	}
	if !ok {
		ckpt = 0
	}
	return max(start, min(ckpt, end))
}

// CheckpointHW writes every hosted partition's HW to the checkpoint file
// (the maintenance loop, every replica.high.watermark.checkpoint.interval.ms).
// Nothing is written before the first Apply opened the partitions, so an
// early call cannot drop the entries of partitions not yet opened.
func (m *Manager) CheckpointHW() error {
	m.mu.RLock()
	if !m.swept {
		m.mu.RUnlock()
		return nil
	}
	hws := make(map[TP]int64, len(m.parts))
	for tp, p := range m.parts {
		hws[tp] = min(p.HighWatermark(), p.log.EndOffset())
	}
	m.mu.RUnlock()
	return m.hwc.write(hws)
}

// afterTruncate keeps the checkpoint at or below p's new HW after the
// fetcher cut its log. It takes no Manager lock: the fetcher calls it
// while holding its own (lock order, doc.go).
func (m *Manager) afterTruncate(p *Partition) {
	hw := min(p.HighWatermark(), p.log.EndOffset())
	if err := m.hwc.lower(TP{p.Topic, p.Index}, hw); err != nil {
		p.logger().Error("write high-watermark checkpoint after truncation", "err", err)
	}
}
