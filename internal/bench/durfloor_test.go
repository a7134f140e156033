package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDurableFloor: every request is answered, in order (runNetFloor
// matches answers to requests first in, first out and fails otherwise),
// and only after its bytes are in its partition's file.
func TestDurableFloor(t *testing.T) {
	const partitions, size, rate = 3, 100, 2000
	parent := t.TempDir()
	rt, err := listenNetFloor(DurablePeer, parent, partitions)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := runNetFloor(ctx, rt.seeds[0], rate, size, 200*time.Millisecond, func(n int64) int { return int(n) }, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 400 || res.Ack.Count != 400 || res.Ack.P50 <= 0 {
		t.Fatalf("durable floor: %+v", res)
	}
	// Before close: the answers came after the writes, so the files hold
	// every request's record bytes, spread round-robin.
	files, err := filepath.Glob(filepath.Join(parent, "sluice-bench-durable-floor-*", "p*.log"))
	if err != nil || len(files) != partitions {
		t.Fatalf("files %v, %v", files, err)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() < (400/partitions)*size {
			t.Errorf("%s holds %d bytes, want at least %d", f, st.Size(), (400/partitions)*size)
		}
	}
	if err := rt.close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(parent, "sluice-bench-durable-floor-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestDurableFloorTailingReader: with a tailing reader beside the sender,
// every request is still answered in order, and the reader is answered
// as the floor's fdatasyncs advance (at least once; never with more bytes
// than the floor has made durable, which waitDurable guarantees).
func TestDurableFloorTailingReader(t *testing.T) {
	parent := t.TempDir()
	rt, err := listenNetFloor(DurablePeer, parent, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := runNetFloor(ctx, rt.seeds[0], 2000, 100, 200*time.Millisecond, func(n int64) int { return int(n) }, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 400 || res.TailReads < 1 || res.TailReads > 400 {
		t.Fatalf("durable floor with a tailing reader: %d records acknowledged, %d tail answers", res.Records, res.TailReads)
	}
}
