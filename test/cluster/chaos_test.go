package cluster

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestChaos is the seeded fault schedule of issue 17: three nodes, a
// topic with RF 3 and min.insync.replicas 2, idempotent acks=all
// producers, a transactional producer on a second topic, a
// read_committed consumer group committing, while a
// schedule drawn from a seed crashes, pauses, cuts, isolates and stops
// nodes (one fault at a time, each held 100 ms .. 2 s, so a majority of
// the quorum is always up; everything healed at the end). Then the
// checker (chaos_check_test.go):
//
//	(a) every acknowledged record is in the log exactly once, in its
//	    producer's order within its partition;
//	(b) every replica holds the same batches byte for byte below the HW;
//	(c) committed offsets never go backwards, the group consumed every
//	    acknowledged record, and everything it consumed is in the final
//	    log where it read it;
//	(d) HW <= LEO on every replica, offsets increasing and contiguous;
//	(e) of a transactional producer's transactions (chaos_txn_test.go),
//	    read_committed sees each all or not at all, every committed one
//	    exactly once and in order, none never committed; the replicas'
//	    control markers agree.
//
// acks=all produce errors during faults are expected (a paused ISR
// member holds acks=all until the request times out); only what was
// acknowledged must survive.
//
// CI runs ciSeeds in parallel clusters; `make chaos` runs many more
// (-chaos.seeds=N from -chaos.first=K). A seed replays with
// -chaos.seed=N or SLUICE_CHAOS_SEED=N (docs/CLUSTER.md).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos: a minute of faults")
	}
	seeds, chosen := chaosSeeds(t)
	if !chosen && *chaosCount == 0 && ciKnownBug != "" {
		t.Skipf("CI seeds %v: known bug: %s (run them by name: -chaos.seed=N, or make chaos)", ciSeeds, ciKnownBug)
	}
	// The clusters spend their time waiting out holds, not on the CPU:
	// run -chaos.parallel of them at once, whatever -parallel says (its
	// default is GOMAXPROCS, two on CI). Subtests started from their own
	// goroutines without t.Parallel do that.
	slots := make(chan struct{}, max(1, *chaosParallel))
	var wg sync.WaitGroup
	for _, seed := range seeds {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				if reason, ok := knownBadSeeds[seed]; ok && !chosen {
					t.Skipf("seed %d: known bug: %s", seed, reason)
				}
				runChaos(t, seed, *chaosFaults)
			})
		}()
	}
	wg.Wait()
}

var (
	chaosSeed     = flag.Int64("chaos.seed", 0, "replay this chaos seed only (also SLUICE_CHAOS_SEED)")
	chaosFirst    = flag.Int64("chaos.first", 1000, "with -chaos.seeds: the first seed")
	chaosCount    = flag.Int("chaos.seeds", 0, "run this many chaos seeds from -chaos.first instead of CI's")
	chaosFaults   = flag.Int("chaos.faults", 40, "faults per chaos seed")
	chaosParallel = flag.Int("chaos.parallel", 5, "chaos clusters running at once")
)

// ciSeeds run on every `go test`: 5 x 40 = 200 faults, in parallel.
var ciSeeds = []int64{1, 2, 3, 4, 5}

// knownBadSeeds are seeds that find a bug that is understood and
// reported but not fixed yet, with the reason. They are skipped in the
// CI set and run when named with -chaos.seed.
var knownBadSeeds = map[int64]string{}

// ciKnownBug, when not empty, skips the CI set while a bug that any seed
// can hit by timing (not by its schedule) is open. The first such bug
// (committed offsets going backwards across a __consumer_offsets leader
// change, seen on seeds 2, 3 and 4, because the group coordinator answered
// OffsetCommit after its own fsync rather than once the ISR had it) was
// fixed when coordinator writes began waiting for the HW.
const ciKnownBug = ""

// chaosSeeds is the seeds to run, and whether they were named (a named
// seed runs even when known bad).
func chaosSeeds(t *testing.T) ([]int64, bool) {
	if *chaosSeed != 0 {
		return []int64{*chaosSeed}, true
	}
	if env := os.Getenv("SLUICE_CHAOS_SEED"); env != "" {
		s, err := strconv.ParseInt(env, 10, 64)
		if err != nil {
			t.Fatalf("SLUICE_CHAOS_SEED=%q: %v", env, err)
		}
		return []int64{s}, true
	}
	if *chaosCount > 0 {
		var out []int64
		for i := range *chaosCount {
			out = append(out, *chaosFirst+int64(i))
		}
		return out, false
	}
	return ciSeeds, false
}

const (
	chaosTopic      = "chaos"
	chaosPartitions = 3
	chaosProducers  = 2
	// Each producer sends a record per interval: a modest rate, so that
	// two cores running several clusters keep up.
	chaosInterval = 10 * time.Millisecond
)

func runChaos(t *testing.T, seed int64, faults int) {
	schedule := drawSchedule(seed, faults, 3)
	replay := fmt.Sprintf("go test ./test/cluster/ -count=1 -run 'TestChaos' -chaos.seed=%d -chaos.faults=%d -v", seed, faults)
	t.Logf("chaos seed %d: %d faults; replay: %s", seed, faults, replay)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chaos seed %d FAILED; replay: %s\nschedule:\n%s", seed, replay, scheduleString(schedule))
		}
	})
	start := time.Now()

	// Transactions their producer left open (a client replaced after
	// an error) are aborted within a second of their timeout.
	c := testcluster.New(t, 3, testcluster.WithProp("transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000"))
	adm := c.Admin(t)
	two := "2"
	for topic, parts := range map[string]int32{chaosTopic: chaosPartitions, txnTopic: txnPartitions} {
		if resp, err := adm.CreateTopic(ctx(t), parts, 3, map[string]*string{"min.insync.replicas": &two}, topic); err != nil || resp.Err != nil {
			t.Fatalf("create %s: %v %v", topic, err, resp.Err)
		}
		for p := range parts {
			c.WaitPartitionLeader(topic, p)
		}
	}

	acks := &ackSet{acked: map[recKey]int32{}}
	txns := &txnLog{}
	gl := &groupLog{seen: map[string]bool{}, committed: map[int32]int64{}}
	stopProducers, stopConsumer := make(chan struct{}), make(chan struct{})
	var producers, consumers sync.WaitGroup
	defer func() {
		// On a failed check: stop the workload before the cluster's
		// cleanup closes the clients under it.
		select {
		case <-stopProducers:
		default:
			close(stopProducers)
		}
		select {
		case <-stopConsumer:
		default:
			close(stopConsumer)
		}
		producers.Wait()
		consumers.Wait()
	}()
	runConsumer(t, c, chaosTopic, "chaos-group", gl, stopConsumer, &consumers)
	runOffsetSampler(t, c, "chaos-group", gl, stopConsumer, &consumers)
	for id := range chaosProducers {
		runProducer(t, c, chaosTopic, id, chaosPartitions, chaosInterval, acks, stopProducers, &producers)
	}
	runTxnProducer(t, c, fmt.Sprintf("chaos-txn-%d", seed), txns, stopProducers, &producers)

	for i, f := range schedule {
		t.Logf("fault %d: %s", i, f)
		f.apply(c, nil)
	}

	// The final heal: every link, every pause, every node up and
	// unfenced.
	c.HealAll()
	for i := range c.N() {
		c.Resume(i)
		if !c.Node(i).Running() {
			c.Restart(i)
		}
	}
	for i := range c.N() {
		c.WaitUnfenced(i)
	}
	close(stopProducers)
	producers.Wait()
	acks.mu.Lock()
	acked := maps.Clone(acks.acked) // late callbacks may still add
	sent, failed := acks.sent, acks.failed
	acks.mu.Unlock()
	if len(acked) == 0 {
		t.Fatalf("no record acknowledged of %d sent", sent)
	}

	logs, recs := checkAfterRun(t, c, chaosTopic, acked, gl, stopConsumer, &consumers)
	txnSummary := checkTxnsAfterRun(t, c, txns)
	gl.mu.Lock()
	t.Logf("chaos seed %d: %d faults in %s; %d records sent, %d acknowledged, %d failed, %d in the log, %d consumed, %d commits",
		seed, faults, time.Since(start).Round(time.Millisecond), sent, len(acked), failed, len(recs), len(gl.records), gl.commits)
	gl.mu.Unlock()
	t.Logf("chaos seed %d: transactions: %s", seed, txnSummary)
	for p, l := range logs {
		t.Logf("%s-%d at the end: %s", chaosTopic, p, l.state)
	}
}
