package log

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestResetFailureFailsTheLog: a reset that cannot delete every old
// segment leaves the log failed (appends refused until a heal or reopen),
// rather than accepting writes on top of segments whose files are half
// gone, which a restart would silently lose.
func TestResetFailureFailsTheLog(t *testing.T) {
	for _, name := range []string{"ResetTo", "TruncateTo below the start"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.SegmentBytes = 1000
			l, _ := mustOpen(t, dir, cfg)
			defer l.Close()
			fillLog(t, l, 40, 0)
			if l.NumSegments() < 2 {
				t.Fatalf("setup: %d segments", l.NumSegments())
			}
			if name != "ResetTo" {
				if err := l.DeleteRecordsBefore(l.SealedSegments()[1]); err != nil {
					t.Fatal(err)
				}
			}
			// The first segment's time index becomes a directory that
			// cannot be removed.
			ti := segmentPath(dir, l.SealedSegments()[0], timeIndexSuffix)
			if err := os.Remove(ti); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(ti, "x"), 0o755); err != nil {
				t.Fatal(err)
			}
			var err error
			if name == "ResetTo" {
				err = l.ResetTo(1000)
			} else {
				err = l.TruncateTo(0)
			}
			if !errors.Is(err, ErrFailed) {
				t.Fatalf("error %v, want ErrFailed", err)
			}
			if _, err := l.Append(simpleBatch(0, 1, 1), 0); !errors.Is(err, ErrFailed) {
				t.Fatalf("append after a failed reset: %v, want ErrFailed", err)
			}
		})
	}
}
