package cluster

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkElectionAfterSIGKILL measures the time from SIGKILL of the
// metadata quorum's leader (one of three sluice processes) until both
// survivors name the same new leader, with Kafka's default election timeout
// (controller.quorum.election.timeout.ms=1000). Each iteration kills the
// current leader and restarts it once the new one is known. p50/p99 are
// reported beside ns/op.
func BenchmarkElectionAfterSIGKILL(b *testing.B) {
	c := startClusterWith(b, 3, time.Second)
	var lat []time.Duration
	for range b.N {
		old := agreedLeader(b, c.nodes, -1)
		var victim *node
		var live []*node
		for _, nd := range c.nodes {
			if nd.id == old {
				victim = nd
			} else {
				live = append(live, nd)
			}
		}
		start := time.Now()
		victim.kill()
		agreedLeader(b, live, old)
		lat = append(lat, time.Since(start))
		victim.start()
		victim.waitListening()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}

// agreedLeader polls until every node in live names the same leader, other
// than not, and returns it.
func agreedLeader(t testing.TB, live []*node, not int32) int32 {
	var lead int32
	deadline := time.Now().Add(30 * time.Second)
	for {
		lead = -1
		ok := true
		for _, nd := range live {
			q, err := quorumOf(t, nd)
			if err != nil || q.LeaderID < 0 || q.LeaderID == not || (lead != -1 && q.LeaderID != lead) {
				ok = false
				break
			}
			lead = q.LeaderID
		}
		if ok {
			return lead
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agreed leader among %d nodes (not %d)", len(live), not)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
