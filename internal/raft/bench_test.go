package raft

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/clock"
)

// benchQuorum starts n members over real TCP on loopback, real disks and
// the wall clock (a 300 ms election timeout, which commit latency does not
// depend on) and returns the ready leader.
func benchQuorum(b *testing.B, n int) (*Node, func()) {
	ids := make([]uint64, n)
	addrs := map[uint64]string{}
	lns := map[uint64]net.Listener{}
	for i := range ids {
		ids[i] = uint64(i + 1)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		lns[ids[i]], addrs[ids[i]] = ln, ln.Addr().String()
	}
	var nodes []*Node
	var trs []Transport
	for _, id := range ids {
		nd, err := New(Config{ID: id, Dir: b.TempDir(), Voters: ids, TickInterval: 30 * time.Millisecond,
			Clock: clock.Real, StateMachine: &listSM{}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		tr := NewTCP(id, "bench", lns[id], addrs, nd, slog.New(slog.DiscardHandler))
		nd.Run(tr)
		nodes, trs = append(nodes, nd), append(trs, tr)
	}
	stop := func() {
		for i, nd := range nodes {
			trs[i].Close()
			nd.Stop()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, nd := range nodes {
			if st := nd.Status(); st.IsLeader && st.Ready {
				return nd, stop
			}
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	b.Fatal("no leader")
	return nil, nil
}

// BenchmarkCommit measures one metadata proposal's commit latency (propose
// to applied on the leader: WAL append and fdatasync on a majority, over
// loopback TCP for three voters), one proposal at a time as the controller
// makes them. p50/p99 are reported beside ns/op.
func BenchmarkCommit(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("voters=%d", n), func(b *testing.B) {
			lead, stop := benchQuorum(b, n)
			defer stop()
			payload := make([]byte, 200) // about a CreateTopics' records
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := lead.Propose(context.Background(), payload); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
