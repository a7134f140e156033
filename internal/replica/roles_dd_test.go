package replica

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/record"
)

// TestRolesDatadriven drives one partition replicated on brokers 1, 2
// and 3, each a real log, through testdata/roles: images make brokers
// leaders or followers at an epoch (followImage), leaders append, and a
// follower's fetch goes through the leader's Partition calls in the order
// the replica fetch handler makes them (api/fetch_replica.go) and the
// follower's real fetcher.applyPartition. Commands:
//
//	image leader=L epoch=E isr=(..)   every broker takes the image
//	produce broker=B n=N              B appends N one-record batches at
//	                                  its leader epoch and fsyncs
//	fetch broker=B                    one fetch by B from the leader
//	state                             every broker
//
// A broker prints its role, LEO, HW, epoch cache and the epoch of each
// offset in its log (offset:epoch), so logs can be compared.
func TestRolesDatadriven(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_000_000, 0))
	brokers := map[int32]*Partition{}
	ids := []int32{1, 2, 3}
	for _, id := range ids {
		p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
		p.clock = clk.Now
		t.Cleanup(func() { p.log.Close() })
		brokers[id] = p
	}
	fs := newFetchers(FetcherConfig{})
	t.Cleanup(fs.close)
	states := map[int32]*followState{}
	show := func() string {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(brokerState(t, id, brokers[id]))
		}
		return b.String()
	}
	datadriven.RunTest(t, "testdata/roles", func(t *testing.T, d *datadriven.TestData) string {
		switch d.Cmd {
		case "image":
			pi := metadata.PartitionImage{Leader: int32(mustInt64(t, d, "leader")), Replicas: ids,
				ISR: argIDs(t, d, "isr"), LeaderEpoch: int32(mustInt64(t, d, "epoch")),
				PartitionEpoch: int32(mustInt64(t, d, "epoch"))}
			for _, id := range ids {
				brokers[id].followImage(pi, id)
				// The Manager's fetchers.follow: a fresh fetch state per epoch.
				states[id] = &followState{p: brokers[id], leaderEpoch: pi.LeaderEpoch}
			}
			return show()
		case "produce":
			p := brokers[int32(mustInt64(t, d, "broker"))]
			for range mustInt64(t, d, "n") {
				if _, err := p.Append(multiBatch(t, -1, 0, 1, false), 1); err != nil {
					// A follower refuses (appendLocked's invariant).
					if !errors.Is(err, ErrNotLeader) {
						d.Fatalf(t, "%v", err)
					}
					return "refused: " + err.Error() + "\n" + show()
				}
			}
			if err := p.Commit(p.log.EndOffset()); err != nil {
				d.Fatalf(t, "%v", err)
			}
			return show()
		case "fetch":
			id := int32(mustInt64(t, d, "broker"))
			out := fetchOnce(t, d, fs, states[id], id, brokers, clk.Now())
			return out + show()
		case "state":
			return show()
		}
		d.Fatalf(t, "unknown command %q", d.Cmd)
		return ""
	})
}

// fetchOnce is one replica fetch of follower id: its position
// (FetchPosition), the leader's answer (DivergingEpoch, else
// UpdateFollower and ReadReplica, as the handler), and the follower's
// handling of it (applyPartition). It says what the answer was.
func fetchOnce(t *testing.T, d *datadriven.TestData, fs *fetchers, st *followState, id int32, brokers map[int32]*Partition, now time.Time) string {
	p := st.p
	leaderID := p.role.leader
	if leaderID == id {
		d.Fatalf(t, "broker %d leads", id)
	}
	leader := brokers[leaderID]
	off, lastEpoch, _, err := p.FetchPosition()
	if err != nil {
		d.Fatalf(t, "%v", err)
	}
	out := fmt.Sprintf("fetch offset=%d last-epoch=%d from %d: ", off, lastEpoch, leaderID)
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.LogStartOffset = leader.LogStartOffset()
	if ep, end, ok := leader.DivergingEpoch(lastEpoch, off); ok {
		rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = ep, end
		rp.HighWatermark = leader.HighWatermark()
		out += fmt.Sprintf("diverging epoch=%d end=%d", ep, end)
	} else {
		switch {
		case off >= leader.LogStartOffset() && off <= leader.log.EndOffset():
			rp.HighWatermark = leader.UpdateFollower(id, -1, off, now)
			rr, err := leader.ReadReplica(off, 1<<20)
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			b, err := rr.ReadAll(nil)
			rr.Release()
			if err != nil {
				d.Fatalf(t, "%v", err)
			}
			rp.RecordBatches = b
			n := 0
			_ = record.Split(b, func(h record.Header, _ []byte) error { n += int(h.LastOffsetDelta) + 1; return nil })
			out += fmt.Sprintf("%d records, hw=%d", n, rp.HighWatermark)
		default:
			rp.HighWatermark = leader.HighWatermark()
			rp.ErrorCode = kerr.OffsetOutOfRange.Code
			out += fmt.Sprintf("OFFSET_OUT_OF_RANGE, hw=%d", rp.HighWatermark)
		}
	}
	f := &fetcher{fs: fs, leader: leaderID}
	if err := f.applyPartition(st, off, &rp); err != nil {
		out += fmt.Sprintf("; follower error: %v", err)
	}
	return out + "\n"
}

// brokerState prints one broker's view of the partition.
func brokerState(t *testing.T, id int32, p *Partition) string {
	p.mu.Lock()
	r, hw := p.role, p.hw
	p.mu.Unlock()
	what := fmt.Sprintf("follower of %d", r.leader)
	if r.leader == id {
		what = "leader"
	}
	var offs []string
	leo := p.log.EndOffset()
	if leo > p.log.StartOffset() {
		rr, err := p.log.Read(p.log.StartOffset(), 1<<20, leo)
		if err != nil {
			t.Fatal(err)
		}
		err = scanHeaders(rr, func(h record.Header, _ []byte) {
			for o := h.BaseOffset; o <= h.LastOffset(); o++ {
				offs = append(offs, fmt.Sprintf("%d:%d", o, h.PartitionLeaderEpoch))
			}
		})
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("%d: %s epoch=%d leo=%d hw=%d epochs=%s log=[%s]\n", id, what, p.LeaderEpoch(), leo, hw,
		fmtEntries(p.EpochEntries()), strings.Join(offs, " "))
}
