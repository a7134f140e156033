package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// Issue 18's operability tests: brokers stopped the controlled way
// (broker.Close, the path SIGTERM takes: BrokerHeartbeat WantShutDown,
// leaderships moved away, then the close) under load, with the chaos
// checker of issue 17 and two stricter client-side checks:
//
//   - no client error that is not retriable: the idempotent acks=all
//     producers have every record acknowledged (a record whose delivery
//     failed is a client-visible error), and the group's consumer polls
//     no error other than the retriable ones;
//   - no consumer re-reads a committed record: once a commit of offset N
//     was acknowledged, the consumer is never handed a record of that
//     partition below N again.

const (
	rollTopic      = "roll"
	rollPartitions = 6
)

// TestSIGTERMEachLeaderInTurn stops, once each, a broker that leads a
// partition at that moment: each round picks a partition whose leader has
// not been stopped yet (waiting for the rebalance to give one back if
// none does), restarts it and waits until it is back in every ISR before
// the next. At the end every node has been stopped exactly once.
func TestSIGTERMEachLeaderInTurn(t *testing.T) {
	t.Parallel()
	stopped := map[int32]int{}
	runRolling(t, func(c *testcluster.Cluster, round int) int {
		if round >= c.N() {
			return -1
		}
		var pick int32
		c.WaitFor("a partition led by a broker not stopped yet", func() error {
			m, err := c.Metadata(0, rollTopic)
			if err != nil {
				return err
			}
			for _, mp := range m.Topics[0].Partitions {
				if mp.Leader >= 0 && stopped[mp.Leader] == 0 {
					pick = mp.Leader
					t.Logf("round %d: %s-%d is led by %d", round, rollTopic, mp.Partition, pick)
					return nil
				}
			}
			return fmt.Errorf("every partition led by a stopped broker (%v)", stopped)
		})
		stopped[pick]++
		return c.NodeByID(pick).Index()
	})
	for i := range 3 {
		if id := int32(i + 1); stopped[id] != 1 {
			t.Errorf("node %d stopped %d times, want once (stops: %v)", id, stopped[id], stopped)
		}
	}
}

// TestRollingRestartUnderLoad restarts node 1, then 2, then 3, each
// stopped the controlled way and waited for until it has caught up (back
// in every ISR), as an operator rolls a cluster. Both tests end with the
// leadership balanced again (auto.leader.rebalance.enable).
func TestRollingRestartUnderLoad(t *testing.T) {
	t.Parallel()
	runRolling(t, func(c *testcluster.Cluster, round int) int {
		if round >= c.N() {
			return -1
		}
		return round
	})
}

// runRolling runs the load, then for each round stops the node next picks
// (-1 ends), restarts it and waits for it to catch up; then checks.
func runRolling(t *testing.T, next func(c *testcluster.Cluster, round int) int) {
	// The automatic leader rebalance checks every half second, so the
	// leadership the stops moved away comes back during the run.
	c := testcluster.New(t, 3, testcluster.WithProp("leader.imbalance.check.interval.ms", "500"))
	adm := c.Admin(t)
	two := "2"
	if resp, err := adm.CreateTopic(ctx(t), rollPartitions, 3, map[string]*string{"min.insync.replicas": &two}, rollTopic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	for p := range int32(rollPartitions) {
		c.WaitPartitionLeader(rollTopic, p)
	}

	acks := &ackSet{acked: map[recKey]int32{}}
	l := newUnderLoad()
	defer l.stopAll()
	gl, strict, stopProducers, stopConsumer := l.gl, l.strict, l.stopProducers, l.stopConsumer
	runStrictConsumer(t, c, rollTopic, "roll-group", gl, strict, stopConsumer, &l.consumers)
	runOffsetSampler(t, c, "roll-group", gl, stopConsumer, &l.consumers)
	for id := range 2 {
		runProducer(t, c, rollTopic, id, rollPartitions, 10*time.Millisecond, acks, stopProducers, &l.producers)
	}
	// Let the group form and some records flow before the first stop.
	waitAcked(c, acks, 50)

	for round := 0; ; round++ {
		i := next(c, round)
		if i < 0 {
			break
		}
		before := ackedCount(acks)
		t.Logf("round %d: stopping %s the controlled way", round, c.Node(i))
		c.Stop(i)
		if !strings.Contains(c.Node(i).Logs(), "controlled shutdown complete") {
			t.Errorf("round %d: %s closed without a completed controlled shutdown:\n%s", round, c.Node(i), c.Node(i).Logs())
		}
		// The load goes on with two nodes (min.insync.replicas 2).
		waitAcked(c, acks, before+50)
		c.Restart(i)
		waitFullISR(c, rollTopic, "__consumer_offsets")
		t.Logf("round %d: %s back in every ISR", round, c.Node(i))
	}
	waitAcked(c, acks, ackedCount(acks)+50)
	// Leadership balanced after the restarts: every partition back on its
	// preferred replica (the first of its replicas).
	c.WaitForWithin(30*time.Second, "every partition led by its preferred replica", func() error {
		m, err := c.Metadata(0, rollTopic)
		if err != nil {
			return err
		}
		for _, mp := range m.Topics[0].Partitions {
			if len(mp.Replicas) == 0 || mp.Leader != mp.Replicas[0] {
				return fmt.Errorf("%s-%d: leader %d, replicas %v", rollTopic, mp.Partition, mp.Leader, mp.Replicas)
			}
		}
		return nil
	})

	close(stopProducers)
	l.producers.Wait()
	acks.mu.Lock()
	acked := maps.Clone(acks.acked)
	sent, failed := acks.sent, acks.failed
	acks.mu.Unlock()
	if failed > 0 {
		t.Errorf("%d of %d records failed delivery: a client-visible error; first: %v", failed, sent, acks.errs)
	}

	_, recs := checkAfterRun(t, c, rollTopic, acked, gl, stopConsumer, &l.consumers)
	strict.report(t)
	t.Logf("%d records sent, %d acknowledged, %d in the log, %d consumed, %d commits",
		sent, len(acked), len(recs), len(gl.records), gl.commits)
}

// underLoad is a test's producers and strict consumer under load: what
// they saw and one way to stop them all (tests stop the producers first
// themselves when they need the acknowledgements settled).
type underLoad struct {
	gl                   *groupLog
	strict               *strictLog
	stopProducers        chan struct{}
	stopConsumer         chan struct{}
	producers, consumers sync.WaitGroup
}

func newUnderLoad() *underLoad {
	return &underLoad{
		gl:            &groupLog{seen: map[string]bool{}, committed: map[int32]int64{}},
		strict:        &strictLog{},
		stopProducers: make(chan struct{}),
		stopConsumer:  make(chan struct{}),
	}
}

// stopAll stops whatever still runs and waits for it.
func (l *underLoad) stopAll() {
	for _, ch := range []chan struct{}{l.stopProducers, l.stopConsumer} {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	l.producers.Wait()
	l.consumers.Wait()
}

// strictLog holds what runStrictConsumer found wrong.
type strictLog struct {
	mu   sync.Mutex
	errs []string
}

// report fails t with every problem found.
func (s *strictLog) report(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errs {
		t.Error(e)
	}
}

func (s *strictLog) add(format string, args ...any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) < 20 {
		s.errs = append(s.errs, fmt.Sprintf(format, args...))
	}
}

// runStrictConsumer is a read_committed group member committing after
// each poll; with strict it also records every polled error that is not
// retriable, and every record handed out below an offset whose commit was
// acknowledged.
func runStrictConsumer(t *testing.T, c *testcluster.Cluster, topic, group string, gl *groupLog, strict *strictLog,
	stop <-chan struct{}, done *sync.WaitGroup) {
	cl := c.Client(t,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	ctx, cancel := context.WithCancel(context.Background())
	done.Add(1)
	go func() {
		<-stop
		cancel()
	}()
	go func() {
		defer done.Done()
		committed := map[int32]int64{} // acknowledged commit per partition
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			for _, fe := range fs.Errors() {
				if !retriableClientError(fe.Err) {
					strict.add("consumer: %s-%d: non-retriable error %v", fe.Topic, fe.Partition, fe.Err)
				}
			}
			polled := map[int32]int64{}
			gl.mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset < committed[r.Partition] {
					strict.add("consumer: %s-%d offset %d handed out again after a commit of %d was acknowledged",
						r.Topic, r.Partition, r.Offset, committed[r.Partition])
				}
				polled[r.Partition] = r.Offset + 1
				gl.records = append(gl.records, consumed{r.Partition, r.Offset, string(r.Value)})
				gl.seen[string(r.Value)] = true
			})
			gl.mu.Unlock()
			cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
			err := cl.CommitUncommittedOffsets(cctx)
			ccancel()
			// A commit that fails for a reason a client does not retry on
			// (not a timeout or a coordinator move) is a client-visible
			// error; the cancel of the run's end is not.
			if err != nil && ctx.Err() == nil && !retriableClientError(err) && !errors.Is(err, context.DeadlineExceeded) {
				strict.add("consumer: commit: non-retriable error %v", err)
			}
			if err == nil {
				gl.mu.Lock()
				gl.commits++
				gl.mu.Unlock()
				for p, o := range polled {
					committed[p] = max(committed[p], o)
				}
			}
		}
	}()
}

// retriableClientError reports whether a polled error is one a client
// retries on its own: Kafka's retriable codes, or the poll's own end.
func retriableClientError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) || kerr.IsRetriable(err) ||
		rejoinedGroupSession(err)
}

// rejoinedGroupSession: franz-go reports a failed join or sync through a
// poll, then rejoins by itself. UNKNOWN_MEMBER_ID (a member id given out
// by the old coordinator in a rebalance it never completed, so never
// written to __consumer_offsets: Kafka's coordinator forgets it the same
// way), ILLEGAL_GENERATION and REBALANCE_IN_PROGRESS are how a coordinator
// move looks to a member mid-rebalance; Java's consumer resets and rejoins
// on them without telling the application.
func rejoinedGroupSession(err error) bool {
	var gs *kgo.ErrGroupSession
	if !errors.As(err, &gs) {
		return false
	}
	return errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.RebalanceInProgress)
}

func ackedCount(acks *ackSet) int {
	acks.mu.Lock()
	defer acks.mu.Unlock()
	return len(acks.acked)
}

// waitAcked waits until at least n records are acknowledged.
func waitAcked(c *testcluster.Cluster, acks *ackSet, n int) {
	c.WaitFor(fmt.Sprintf("%d records acknowledged", n), func() error {
		if got := ackedCount(acks); got < n {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	})
}

// waitFullISR waits until every partition of topics has all its replicas
// in the ISR, as every node's Metadata says: the restarted node has
// caught up everywhere.
func waitFullISR(c *testcluster.Cluster, topics ...string) {
	c.WaitForWithin(60*time.Second, fmt.Sprintf("full ISRs of %v", topics), func() error {
		for i := range c.N() {
			m, err := c.Metadata(i, topics...)
			if err != nil {
				return err
			}
			for _, mt := range m.Topics {
				if mt.ErrorCode != 0 {
					return fmt.Errorf("node %d: %s: error %d", i+1, *mt.Topic, mt.ErrorCode)
				}
				for _, mp := range mt.Partitions {
					for _, r := range mp.Replicas {
						if !slices.Contains(mp.ISR, r) {
							return fmt.Errorf("node %d: %s-%d ISR %v of replicas %v", i+1, *mt.Topic, mp.Partition, mp.ISR, mp.Replicas)
						}
					}
				}
			}
		}
		return nil
	})
}
