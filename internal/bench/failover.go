package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The failover phase: while one producer writes acks=all records at
// Config.Rate round-robin over the partitions, SIGKILL the leader of a
// partition, time until every partition it led has acknowledged a record
// produced after the kill, restart it, wait until it is back in every
// ISR, and do it again, Config.Kills times. The time includes the
// client's rediscovery of the new leader (failoverProducerOpts).

// FailoverResult is the failover phase of one Cluster target.
type FailoverResult struct {
	Target     string
	Spec       ClusterSpec
	Partitions int32
	Rate       int
	Kills      []Kill
	// Errors counts records the producer failed (it retries without
	// limit, so any is a finding); FirstError is the first one.
	Errors     int64
	FirstError string
	Err        string
}

// Kill is one SIGKILL of a partition leader.
type Kill struct {
	Node int32
	// Controller: the victim was also the active controller (the
	// metadata quorum's leader), so a new one had to be elected first.
	Controller bool
	Led        int // partitions of the topic it led
	// Writable is SIGKILL to the first acknowledgement of a record sent
	// after it, on the last of the partitions it led.
	Writable time.Duration
	// Rejoined is the restart to the node back in every ISR of the topic.
	Rejoined time.Duration
}

// summary summarizes Writable over the kills keep accepts.
func (r FailoverResult) summary(keep func(Kill) bool) Summary {
	var h Hist
	for _, k := range r.Kills {
		if keep(k) {
			h.RecordDuration(k.Writable)
		}
	}
	return h.Summarize()
}

// failoverProducerOpts are the producer's settings: acks=all, no linger,
// one record per request as they come, and the quickest rediscovery kgo
// allows (its defaults: metadata at most every 5 s, retry backoff 250 ms
// to 5 s).
func failoverProducerOpts(seeds []string, topic string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableIdempotentWrite(), // as every bench phase
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.MetadataMinAge(10 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.ProduceRequestTimeout(30 * time.Second),
	}
}

func runFailover(ctx context.Context, c *Config, pr *progress, t Target, rt *running, topic string, res *FailoverResult) error {
	lc := rt.cluster
	res.Rate = c.Rate
	rf, configs := c.topicSpec(t)
	if err := createTopic(ctx, rt.seeds, topic, c.Partitions, rf, configs); err != nil {
		return err
	}
	// One admin client per node, each asking that node only: a node just
	// restarted may answer from an old image until it caught up, so the
	// cluster is steady only when every node says so.
	var views []*kgo.Client
	for _, nd := range lc.nodes {
		cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr), kgo.RequestRetries(0))
		if err != nil {
			return err
		}
		defer cl.Close()
		views = append(views, cl)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(rt.seeds...), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	if err != nil {
		return err
	}
	defer admCl.Close()
	prod, err := kgo.NewClient(failoverProducerOpts(rt.seeds, topic)...)
	if err != nil {
		return err
	}
	defer prod.Close()

	w := &ackWatch{lastAck: make([]time.Time, c.Partitions)}
	pctx, stopPacer := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); paceFailover(pctx, c, prod, w) }()
	defer func() {
		w.close()
		stopPacer()
		wg.Wait()
		res.Errors, res.FirstError = w.errorsSeen()
	}()

	// A kill waits at most this long for its partitions: far more than
	// fencing (the session timeout) and an election take.
	limit := 60 * time.Second
	if s := t.Cluster.SessionTimeout; s > 0 {
		limit += 2 * s
	} else {
		limit += 18 * time.Second
	}
	for k := 0; k < c.Kills; k++ {
		st, err := waitSteady(ctx, views, topic, c.Partitions, rf)
		if err != nil {
			return fmt.Errorf("kill %d: %w", k+1, err)
		}
		since := time.Now()
		if err := pollUntil(ctx, 30*time.Second, "an acknowledgement on every partition", func(context.Context) error {
			return w.ackedSince(since)
		}); err != nil {
			return fmt.Errorf("kill %d: %w", k+1, err)
		}
		victim := pickVictim(st, k)
		var led []int32
		for p, l := range st.leaders {
			if l == victim {
				led = append(led, int32(p))
			}
		}
		nd := lc.node(victim)
		if nd == nil {
			return fmt.Errorf("kill %d: leader %d is not a node of the cluster", k+1, victim)
		}
		kill := Kill{Node: victim, Controller: st.controller == victim, Led: len(led)}
		done := w.arm(led)
		nd.kill()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(limit):
		}
		var left int
		kill.Writable, left = w.disarm()
		if left > 0 {
			return fmt.Errorf("kill %d (node %d): %d of %d partitions not writable after %v", k+1, victim, left, len(led), limit)
		}
		restart := time.Now()
		if err := nd.start(); err != nil {
			return err
		}
		if _, err := waitSteady(ctx, views, topic, c.Partitions, rf); err != nil {
			return fmt.Errorf("kill %d: node %d back: %w", k+1, victim, err)
		}
		kill.Rejoined = time.Since(restart)
		res.Kills = append(res.Kills, kill)
		ctl := ""
		if kill.Controller {
			ctl = " (the active controller)"
		}
		pr.note("%s failover %d/%d: node %d%s led %d partition(s): writable after %s; restarted, back in every ISR after %s",
			t.Name, k+1, c.Kills, victim, ctl, len(led), fmtDur(kill.Writable), fmtDur(kill.Rejoined))
		// Kafka's auto.leader.rebalance.enable does this after a while;
		// here at once, so every kill starts from the same spread.
		electPreferred(ctx, kadm.NewClient(admCl), topic, c.Partitions)
	}
	return nil
}

// pickVictim chooses kill k's victim among the partition leaders. A
// leader that is also the active controller takes longer to replace (a new
// controller is elected first, and gives every broker a fresh session), so
// kills alternate between such a leader and one that is not, each figure
// getting about half the samples; within a kind they rotate over the
// partitions, and so, with the preferred leaders restored after each
// kill, over the brokers.
func pickVictim(st steady, k int) int32 {
	n := len(st.leaders)
	wantController := k%2 == 1
	for i := range n {
		if l := st.leaders[(k+i)%n]; (l == st.controller) == wantController {
			return l
		}
	}
	return st.leaders[k%n]
}

// paceFailover sends c.Rate records/s round-robin over the partitions
// until ctx ends, each timed from just before its Produce call.
func paceFailover(ctx context.Context, c *Config, prod *kgo.Client, w *ackWatch) {
	value := payload(c.LatencySize, 7)
	interval := float64(time.Second) / float64(c.Rate)
	start := time.Now()
	for n := int64(0); ctx.Err() == nil; n++ {
		if d := time.Until(start.Add(time.Duration(float64(n) * interval))); d > 0 {
			time.Sleep(d)
		}
		p := int32(n % int64(c.Partitions))
		sent := time.Now()
		prod.Produce(ctx, &kgo.Record{Partition: p, Value: value}, func(_ *kgo.Record, err error) {
			w.acked(p, sent, err)
		})
	}
}

// ackWatch follows the producer's acknowledgements: the last one per
// partition, and, while a kill is armed, the first one per partition of
// a record sent after the kill.
type ackWatch struct {
	mu       sync.Mutex
	lastAck  []time.Time
	at       time.Time      // the armed kill
	pending  map[int32]bool // its partitions still without a post-kill ack
	worst    time.Duration  // the latest first post-kill ack so far
	done     chan struct{}  // closed when pending empties
	errs     int64
	firstErr error
	closing  bool // the phase is over: errors are the client closing
}

func (w *ackWatch) acked(p int32, sent time.Time, err error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if !w.closing {
			w.errs++
			if w.firstErr == nil {
				w.firstErr = fmt.Errorf("partition %d: %w", p, err)
			}
		}
		return
	}
	w.lastAck[p] = now
	// A record sent after the kill proves the partition writable again;
	// one sent before may have been appended before the leader died.
	if w.pending[p] && sent.After(w.at) {
		delete(w.pending, p)
		w.worst = max(w.worst, now.Sub(w.at))
		if len(w.pending) == 0 {
			close(w.done)
		}
	}
}

// arm starts watching partitions from now, the moment of the kill.
func (w *ackWatch) arm(partitions []int32) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = map[int32]bool{}
	for _, p := range partitions {
		w.pending[p] = true
	}
	w.worst, w.done = 0, make(chan struct{})
	w.at = time.Now()
	return w.done
}

// disarm ends the watch: the time to the last partition's first post-kill
// ack, and how many partitions had none.
func (w *ackWatch) disarm() (time.Duration, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	left := len(w.pending)
	w.pending = nil
	return w.worst, left
}

func (w *ackWatch) ackedSince(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstErr != nil {
		return errStop{w.firstErr}
	}
	for p, at := range w.lastAck {
		if !at.After(t) {
			return fmt.Errorf("partition %d: no acknowledgement yet", p)
		}
	}
	return nil
}

func (w *ackWatch) close() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
}

func (w *ackWatch) errorsSeen() (int64, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstErr == nil {
		return w.errs, ""
	}
	return w.errs, w.firstErr.Error()
}

// steady is the cluster's agreed view of the topic.
type steady struct {
	leaders    []int32 // by partition
	controller int32
}

// waitSteady polls every node's Metadata until all of them list every
// node as a broker (registered and unfenced), the active controller and
// every partition of topic with the same leader and a full ISR.
func waitSteady(ctx context.Context, views []*kgo.Client, topic string, partitions int32, rf int16) (steady, error) {
	var st steady
	err := pollUntil(ctx, 2*time.Minute, "every node in every ISR", func(ctx context.Context) error {
		var agreed *steady
		for i, cl := range views {
			s, err := nodeView(ctx, cl, topic, partitions, rf, len(views))
			if err != nil {
				return fmt.Errorf("node %d: %w", i+1, err)
			}
			if agreed != nil && (s.controller != agreed.controller || !slices.Equal(s.leaders, agreed.leaders)) {
				return fmt.Errorf("nodes disagree: %+v and %+v", *agreed, s)
			}
			agreed = &s
		}
		st = *agreed
		return nil
	})
	return st, err
}

// nodeView is one node's answer to Metadata for topic, or why it is not
// steady.
func nodeView(ctx context.Context, cl *kgo.Client, topic string, partitions int32, rf int16, nodes int) (steady, error) {
	resp, err := metadataFrom(ctx, cl, topic)
	if err != nil {
		return steady{}, err
	}
	if len(resp.Brokers) < nodes {
		return steady{}, fmt.Errorf("%d of %d brokers listed", len(resp.Brokers), nodes)
	}
	if len(resp.Topics) != 1 {
		return steady{}, fmt.Errorf("%d topics in the answer", len(resp.Topics))
	}
	rtp := resp.Topics[0]
	if err := kerr.ErrorForCode(rtp.ErrorCode); err != nil {
		return steady{}, err
	}
	if len(rtp.Partitions) != int(partitions) {
		return steady{}, fmt.Errorf("%d of %d partitions", len(rtp.Partitions), partitions)
	}
	st := steady{leaders: make([]int32, partitions), controller: resp.ControllerID}
	for _, p := range rtp.Partitions {
		if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
			return steady{}, fmt.Errorf("partition %d: %w", p.Partition, err)
		}
		if p.Partition < 0 || p.Partition >= partitions || p.Leader < 0 || len(p.ISR) < int(rf) {
			return steady{}, fmt.Errorf("partition %d: leader %d, ISR %v", p.Partition, p.Leader, p.ISR)
		}
		st.leaders[p.Partition] = p.Leader
	}
	return st, nil
}

// electPreferred asks for the preferred leaders of topic, best effort: a
// refusal leaves the leaders where they are, and the next kill picks
// whoever leads.
func electPreferred(ctx context.Context, adm *kadm.Client, topic string, partitions int32) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var s kadm.TopicsSet
	for p := range partitions {
		s.Add(topic, p)
	}
	_, _ = adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, s)
}
