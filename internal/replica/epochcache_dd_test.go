package replica

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestEpochCacheDatadriven drives the leader epoch cache (epochcache.go)
// through testdata/epoch_cache. Commands:
//
//	assign epoch=E offset=O        Assign; prints the cache
//	truncate-from-end offset=O     TruncateFromEnd; prints the cache
//	truncate-from-start offset=O   TruncateFromStart; prints the cache
//	end-offset epoch=E leo=L       EndOffsetFor (OffsetForLeaderEpoch's answer)
//	file                           the leader-epoch-checkpoint file as written
//	write-file                     replaces the file with the input
//	reload                         loadEpochCache from the directory: the
//	                               cache a restart starts from
func TestEpochCacheDatadriven(t *testing.T) {
	dir := t.TempDir()
	c := &epochCache{dir: dir}
	show := func(err error) string {
		out := "cache: " + fmtEntries(c.Entries()) + "\n"
		if err != nil {
			out = "error: " + err.Error() + "\n" + out
		}
		return out
	}
	datadriven.RunTest(t, "testdata/epoch_cache", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "assign":
			return show(c.Assign(int32(mustInt64(t, d, "epoch")), mustInt64(t, d, "offset")))
		case "truncate-from-end":
			return show(c.TruncateFromEnd(mustInt64(t, d, "offset")))
		case "truncate-from-start":
			return show(c.TruncateFromStart(mustInt64(t, d, "offset")))
		case "end-offset":
			e, end := c.EndOffsetFor(int32(mustInt64(t, d, "epoch")), mustInt64(t, d, "leo"))
			return fmt.Sprintf("epoch=%d end=%d\n", e, end)
		case "file":
			b, err := os.ReadFile(filepath.Join(dir, EpochCheckpointFile))
			if errors.Is(err, os.ErrNotExist) {
				return "no file\n"
			} else if err != nil {
				d.Fatalf(t, "%v", err)
			}
			return string(b)
		case "write-file":
			if err := os.WriteFile(filepath.Join(dir, EpochCheckpointFile), []byte(d.Input+"\n"), 0o644); err != nil {
				d.Fatalf(t, "%v", err)
			}
			return "ok\n"
		case "reload":
			var ok bool
			c, ok = loadEpochCache(dir)
			if !ok {
				return "unreadable: the partition rebuilds the cache from its batches\n" + show(nil)
			}
			return "loaded\n" + show(nil)
		}
		d.Fatalf(t, "unknown command %q", d.Cmd)
		return ""
	})
}

// TestDivergenceDatadriven drives KIP-595's divergence rule (diverge.go)
// over a leader's and a follower's epoch caches, through
// testdata/divergence. Commands:
//
//	leader leo=L  / follower leo=L     the cache (input: epoch@offset ...)
//	                                   and log end of either side
//	diverging last-epoch=E fetch-offset=O
//	                                   the leader's check of a fetch
//	truncation epoch=E end=O           where the follower truncates on
//	                                   that DivergingEpoch answer
//	reconcile                          fetch rounds as the fetcher runs
//	                                   them: the follower's last epoch and
//	                                   log end, the leader's answer, the
//	                                   follower's cut, until not diverged
func TestDivergenceDatadriven(t *testing.T) {
	type side struct {
		c   *epochCache
		leo int64
	}
	var leader, follower side
	build := func(t *testing.T, d *datadriven.TestData) side {
		c := &epochCache{dir: t.TempDir()}
		if err := c.Reset(parseEntries(t, d, d.Input)); err != nil {
			d.Fatalf(t, "%v", err)
		}
		return side{c: c, leo: mustInt64(t, d, "leo")}
	}
	datadriven.RunTest(t, "testdata/divergence", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "leader":
			leader = build(t, d)
			return "ok\n"
		case "follower":
			follower = build(t, d)
			return "ok\n"
		case "diverging":
			e, end, div := divergingEpoch(leader.c, int32(mustInt64(t, d, "last-epoch")), mustInt64(t, d, "fetch-offset"), leader.leo)
			if !div {
				return "not diverged\n"
			}
			return fmt.Sprintf("diverged: epoch=%d end=%d\n", e, end)
		case "truncation":
			to := truncationOffset(follower.c, int32(mustInt64(t, d, "epoch")), mustInt64(t, d, "end"), follower.leo)
			return fmt.Sprintf("truncate to %d\n", to)
		case "reconcile":
			var out string
			for round := 1; ; round++ {
				if round > 10 {
					d.Fatalf(t, "no agreement after 10 rounds:\n%s", out)
				}
				last := follower.c.Latest()
				e, end, div := divergingEpoch(leader.c, last, follower.leo, leader.leo)
				out += fmt.Sprintf("round %d: fetch offset=%d last-epoch=%d -> ", round, follower.leo, last)
				if !div {
					out += "not diverged\n"
					break
				}
				to := truncationOffset(follower.c, e, end, follower.leo)
				// What Partition.TruncateTo does to the cache at the cut.
				if err := follower.c.TruncateFromEnd(to); err != nil {
					d.Fatalf(t, "%v", err)
				}
				follower.leo = to
				out += fmt.Sprintf("diverged epoch=%d end=%d, truncate to %d\n", e, end, to)
			}
			return out + fmt.Sprintf("follower: leo=%d cache: %s\n", follower.leo, fmtEntries(follower.c.Entries()))
		}
		d.Fatalf(t, "unknown command %q", d.Cmd)
		return ""
	})
}
