package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSIGTERMEachLeaderProcess is issue #18's "SIGTERM of each leader in
// turn under load" on real `sluice serve` processes: each round SIGTERMs a
// process that leads some partition and has not been stopped yet, while
// two idempotent acks=all producers write and a consumer group reads and
// commits. Each process must exit 0 within the controlled-shutdown bound
// (broker.session.timeout.ms, plus the close) with its controlled
// shutdown complete, the clients must see no error that is not retriable,
// and every acknowledged record must be in every replica's log once, in
// the order it was acknowledged.
func TestSIGTERMEachLeaderProcess(t *testing.T) {
	t.Parallel()
	const (
		topic   = "sigterm"
		session = 3 * time.Second
	)
	c := startClusterConfig(t, 3, electionTimeout,
		fmt.Sprintf("broker.session.timeout.ms=%d", session.Milliseconds()), "broker.heartbeat.interval.ms=200",
		"replica.lag.time.max.ms=1500", "group.initial.rebalance.delay.ms=0",
		"offsets.topic.num.partitions=3", "transaction.state.log.num.partitions=3",
		// Leadership the stops moved away comes back between rounds.
		"leader.imbalance.check.interval.ms=500")
	waitAllListed(t, c)
	createReplicated(t, c.nodes[0], topic, [][]int32{{1, 2, 3}, {2, 3, 1}, {3, 1, 2}}, map[string]string{"min.insync.replicas": "2"})
	waitReplicated(t, c, topic, nil)
	addrs := addrsOf(c.nodes)

	load := &processLoad{acked: map[int]map[int32][]string{}}
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	stopAll := sync.OnceFunc(func() { close(stopLoad); wg.Wait() })
	defer stopAll()
	for id := range 2 {
		load.produce(t, addrs, topic, id, stopLoad, &wg)
	}
	load.consume(t, addrs, topic, "sigterm-group", stopLoad, &wg)
	load.waitAcked(t, 50)

	stopped := map[int32]bool{}
	for round := range len(c.nodes) {
		var victim *node
		waitFor(t, 30*time.Second, "a partition led by a process not stopped yet", func() error {
			md, err := metadataOf(t, c.nodes[0], topic)
			if err != nil {
				return err
			}
			for _, p := range md.Topics[0].Partitions {
				if p.Leader > 0 && !stopped[p.Leader] {
					victim = c.nodes[p.Leader-1]
					return nil
				}
			}
			return fmt.Errorf("every partition led by a stopped process (%v)", stopped)
		})
		stopped[victim.id] = true
		before := load.count()
		t.Logf("round %d: SIGTERM to node %d", round, victim.id)
		start := time.Now()
		victim.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-victim.exited:
		case <-time.After(session + closeSlack):
			t.Fatalf("node %d did not exit within %v of SIGTERM:\n%s", victim.id, session+closeSlack, tail(victim.out.String(), 3000))
		}
		if code := victim.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("node %d exited %d after SIGTERM", victim.id, code)
		}
		victim.cmd = nil
		if !strings.Contains(victim.out.String(), "controlled shutdown complete") {
			t.Errorf("node %d exited without a completed controlled shutdown:\n%s", victim.id, tail(victim.out.String(), 3000))
		}
		t.Logf("round %d: node %d exited %v after SIGTERM", round, victim.id, time.Since(start).Round(time.Millisecond))
		// The load goes on with two processes (min.insync.replicas 2).
		load.waitAcked(t, before+50)
		victim.restart()
		waitReplicated(t, c, topic, nil)
	}
	for _, nd := range c.nodes {
		if !stopped[nd.id] {
			t.Errorf("node %d was never stopped", nd.id)
		}
	}
	load.waitAcked(t, load.count()+50)
	stopAll()

	load.mu.Lock()
	defer load.mu.Unlock()
	if load.failed > 0 || len(load.errs) > 0 {
		t.Errorf("%d records failed delivery; client errors: %v", load.failed, load.errs)
	}
	for p := range int32(3) {
		log := valuesOf(t, replicasAgree(t, c, topic, p))
		for id, parts := range load.acked {
			prefix := fmt.Sprintf("p%d-", id)
			checkOnceInOrder(t, fmt.Sprintf("%s-%d %s*", topic, p, prefix), filterPrefix(log, prefix), parts[p])
		}
	}
	t.Logf("%d records acknowledged, %d consumer commits", load.n, load.commits)
}

// processLoad is the producers' and the consumer's record of a run on the
// process fixture.
type processLoad struct {
	mu      sync.Mutex
	acked   map[int]map[int32][]string // producer -> partition -> values, in ack order
	n       int
	failed  int
	errs    []string // client errors that are not retriable
	commits int
}

func (l *processLoad) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *processLoad) waitAcked(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("%d records acknowledged", n), func() error {
		if got := l.count(); got < n {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	})
}

func (l *processLoad) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	}
}

// produce writes one record every 10 ms to the partitions in turn, with
// an idempotent acks=all client, until stop; then flushes.
func (l *processLoad) produce(t *testing.T, addrs []string, topic string, id int, stop <-chan struct{}, wg *sync.WaitGroup) {
	cl := newClient(t, addrs,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordDeliveryTimeout(30*time.Second))
	l.mu.Lock()
	l.acked[id] = map[int32][]string{}
	l.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-stop:
				fctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := cl.Flush(fctx); err != nil {
					l.fail("producer %d: flush: %v", id, err)
				}
				return
			case <-tick.C:
			}
			v := recKey{id, seq}.value()
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: int32(seq % 3), Value: []byte(v)},
				func(r *kgo.Record, err error) {
					l.mu.Lock()
					defer l.mu.Unlock()
					if err != nil {
						l.failed++
						if len(l.errs) < 10 {
							l.errs = append(l.errs, fmt.Sprintf("produce %s: %v", v, err))
						}
						return
					}
					l.n++
					l.acked[id][r.Partition] = append(l.acked[id][r.Partition], v)
				})
		}
	}()
}

// consume is a group member committing after each poll; every polled or
// commit error that is not retriable is recorded.
func (l *processLoad) consume(t *testing.T, addrs []string, topic, group string, stop <-chan struct{}, wg *sync.WaitGroup) {
	cl := newClient(t, addrs,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		<-stop
		cancel()
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			for _, fe := range fs.Errors() {
				if !retriableClientError(fe.Err) {
					l.fail("consumer: %s-%d: %v", fe.Topic, fe.Partition, fe.Err)
				}
			}
			cctx, ccancel := context.WithTimeout(ctx, 3*time.Second)
			err := cl.CommitUncommittedOffsets(cctx)
			ccancel()
			switch {
			case err == nil:
				l.mu.Lock()
				l.commits++
				l.mu.Unlock()
			case ctx.Err() == nil && !retriableClientError(err) && !errors.Is(err, context.DeadlineExceeded):
				l.fail("consumer: commit: %v", err)
			}
		}
	}()
}
