package replica

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// Helpers shared by the datadriven tests of this package (testdata/*):
// argument parsing and the one way each piece of state is printed, so the
// expected outputs read alike across files.

// argInt64 is key's value, or def when the command does not name it.
func argInt64(t *testing.T, d *datadriven.TestData, key string, def int64) int64 {
	t.Helper()
	if !d.HasArg(key) {
		return def
	}
	var v int64
	d.ScanArgs(t, key, &v)
	return v
}

// mustInt64 is key's value; the command must name it.
func mustInt64(t *testing.T, d *datadriven.TestData, key string) int64 {
	t.Helper()
	var v int64
	d.ScanArgs(t, key, &v)
	return v
}

// argIDs is key's list of broker ids, key=(1,2,3) or key=1; nil when absent.
func argIDs(t *testing.T, d *datadriven.TestData, key string) []int32 {
	t.Helper()
	for _, a := range d.CmdArgs {
		if a.Key != key {
			continue
		}
		out := []int32{}
		for _, v := range a.Vals {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				d.Fatalf(t, "%s: %v", key, err)
			}
			out = append(out, int32(n))
		}
		return out
	}
	return nil
}

// parseEntries reads "epoch@offset" pairs separated by spaces.
func parseEntries(t *testing.T, d *datadriven.TestData, s string) []EpochEntry {
	t.Helper()
	var out []EpochEntry
	for _, f := range strings.Fields(s) {
		var e EpochEntry
		if _, err := fmt.Sscanf(f, "%d@%d", &e.Epoch, &e.StartOffset); err != nil {
			d.Fatalf(t, "entry %q: want epoch@offset", f)
		}
		out = append(out, e)
	}
	return out
}

// fmtEntries prints a cache as "epoch@startOffset ..." or "(empty)".
func fmtEntries(es []EpochEntry) string {
	if len(es) == 0 {
		return "(empty)"
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = fmt.Sprintf("%d@%d", e.Epoch, e.StartOffset)
	}
	return strings.Join(parts, " ")
}

// fmtIDs prints a broker id list as (1,2,3); nil prints as none.
func fmtIDs(ids []int32) string {
	if ids == nil {
		return "none"
	}
	s := make([]string, len(ids))
	for i, id := range slices.Sorted(slices.Values(ids)) {
		s[i] = strconv.Itoa(int(id))
	}
	return "(" + strings.Join(s, ",") + ")"
}
