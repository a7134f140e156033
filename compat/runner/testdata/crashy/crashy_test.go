// Package crashy is a fake client test suite for the runner's own test:
// passes, skips, a failure, a subtest that panics (taking the binary
// down) and one that hangs until -test.timeout, selected by CRASHY_MODE.
package crashy

import (
	"os"
	"testing"
	"time"
)

func TestA(t *testing.T) {}

func TestSkipped(t *testing.T) { t.Skip("feature not advertised") }

func TestFails(t *testing.T) { t.Error("broker said no") }

func TestParent(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("boom", func(t *testing.T) {
		if os.Getenv("CRASHY_MODE") == "panic" {
			var m map[string]int
			m["x"] = 1
		}
	})
	t.Run("hang", func(t *testing.T) {
		if os.Getenv("CRASHY_MODE") == "hang" {
			time.Sleep(time.Hour)
		}
	})
	t.Run("after", func(t *testing.T) {})
}

func TestZ(t *testing.T) {}
