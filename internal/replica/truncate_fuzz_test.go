package replica

import (
	"path/filepath"
	"testing"
)

// FuzzTruncateReplay drives a partition through random appends (plain,
// idempotent and transactional batches of several records, markers),
// leader epoch bumps, truncations, resets and reopenings, and after each
// rewrite checks that the producer state equals a full replay of the log,
// the epoch cache equals a rebuild from the batch headers, HW <= LEO and
// LSO <= HW. Each pair of input bytes is one step (op, argument); the
// seeds below and testdata/fuzz/FuzzTruncateReplay run with go test.
func FuzzTruncateReplay(f *testing.F) {
	f.Add([]byte{0, 9, 0, 12, 1, 0, 0, 2, 3, 1, 0, 20, 4, 128, 0, 9, 2, 8})
	f.Add([]byte{0, 12, 0, 13, 3, 0, 0, 12, 2, 0, 0, 4, 5, 0, 4, 200, 4, 10, 0, 12, 2, 9})
	f.Add([]byte{0, 5, 0, 6, 0, 7, 3, 1, 0, 5, 6, 3, 0, 13, 4, 0, 0, 12, 5, 0})
	f.Add([]byte{0, 28, 0, 20, 2, 1, 3, 0, 0, 28, 0, 12, 4, 90, 0, 12, 2, 9, 5, 1, 4, 30})
	f.Fuzz(func(t *testing.T, steps []byte) {
		if len(steps) > 80 {
			steps = steps[:80] // keep each case fast
		}
		p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
		defer func() { p.log.Close() }()
		epoch := int32(0)
		seq := map[int64]int32{}
		check := func(stage string) {
			t.Helper()
			checkRebuilt(t, p, stage)
			hw, leo := p.HighWatermark(), p.log.EndOffset()
			if hw > leo || p.LastStableOffset() > hw {
				t.Fatalf("%s: LSO %d HW %d LEO %d", stage, p.LastStableOffset(), hw, leo)
			}
		}
		for i := 0; i+1 < len(steps); i += 2 {
			op, arg := steps[i]%7, steps[i+1]
			switch op {
			case 0, 1: // a data batch
				pid := int64(arg%4) - 1 // -1: not idempotent
				txn := pid >= 0 && arg&4 != 0
				n := 1 + int(arg>>3)%3
				if _, err := p.Append(multiBatch(t, pid, seq[pid], n, txn), int64(n)); err != nil {
					t.Fatal(err)
				}
				seq[pid] += int32(n)
			case 2: // a transaction marker
				if _, err := p.AppendMarker(int64(arg%3), 0, arg&8 != 0, 0); err != nil {
					t.Fatal(err)
				}
			case 3: // a new leader epoch
				epoch += 1 + int32(arg%2)
				p.setLeaderEpoch(epoch)
			case 4: // truncation anywhere in [0, LEO]
				to := int64(arg) * p.log.EndOffset() / 255
				if err := p.TruncateTo(to); err != nil {
					t.Fatal(err)
				}
				if end := p.log.EndOffset(); end > to {
					t.Fatalf("end %d after truncation to %d", end, to)
				}
				check("truncate")
			case 5: // a clean restart (snapshot at the LEO), HW = LEO
				if err := p.close(); err != nil {
					t.Fatal(err)
				}
				p = openTestPartition(t, p.Dir)
				check("reopen")
			case 6: // a reset near the end
				if err := p.ResetTo(p.log.EndOffset() + int64(arg%5)); err != nil {
					t.Fatal(err)
				}
				check("reset")
			}
		}
		check("end")
	})
}
