package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The failover phase: while one producer writes acks=all records at
// Config.Rate round-robin over the partitions, SIGKILL the leader of a
// partition, time until every partition it led has acknowledged a record
// produced after the kill, restart it, wait until it is back in every
// ISR, and do it again, Config.Kills times; then the same with SIGTERM (a
// controlled shutdown), Config.Shutdowns times. The times include the
// client's rediscovery of the new leader (failoverProducerOpts).

// FailoverResult is the failover phase of one Cluster target.
type FailoverResult struct {
	Target     string
	Spec       ClusterSpec
	Partitions int32
	Rate       int
	Kills      []Kill
	Shutdowns  []Kill // the SIGTERMs
	// Errors counts records the producer failed (it retries without
	// limit, so any is a finding); FirstError is the first one.
	Errors     int64
	FirstError string
	Err        string
}

// Kill is one SIGKILL (or SIGTERM) of a partition leader.
type Kill struct {
	Node   int32
	Signal string // SIGKILL or SIGTERM
	// Controller: the victim was also the active controller (the
	// metadata quorum's leader), so a new one had to be elected first.
	Controller bool
	Led        int // partitions of the topic it led
	// Writable is the signal to the first acknowledgement of a record
	// sent after it, on the last of the partitions it led.
	Writable time.Duration
	// MaxGap is the longest time between consecutive acknowledgements on
	// one of those partitions, from the last before the signal until a
	// record sent after the process exited was acknowledged on each.
	MaxGap time.Duration
	// Exited is the signal to the process's exit: a controlled shutdown's
	// length; next to nothing for SIGKILL.
	Exited time.Duration
	// Errors counts records the producer failed in that window.
	Errors int64
	// Rejoined is the restart to the node back in every ISR of the topic.
	Rejoined time.Duration
}

// summary summarizes f (Writable, MaxGap) over the disruptions in ds
// keep accepts.
func summary(ds []Kill, keep func(Kill) bool, f func(Kill) time.Duration) (Summary, time.Duration) {
	var h Hist
	for _, k := range ds {
		if keep(k) {
			h.RecordDuration(f(k))
		}
	}
	return h.Summarize(), time.Duration(h.Quantile(0.9))
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
	res.Rate = c.Rate
	rf, configs := c.topicSpec(t)
	if err := createTopic(ctx, rt.seeds, topic, c.Partitions, rf, configs); err != nil {
		return err
	}
	e := &disruptor{c: c, pr: pr, t: t, lc: rt.cluster, topic: topic, rf: rf}
	// One admin client per node, each asking that node only: a node just
	// restarted may answer from an old image until it caught up, so the
	// cluster is steady only when every node says so.
	for _, nd := range e.lc.nodes {
		cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr), kgo.RequestRetries(0))
		if err != nil {
			return err
		}
		defer cl.Close()
		e.views = append(e.views, cl)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(rt.seeds...), kgo.RetryBackoffFn(func(int) time.Duration { return 20 * time.Millisecond }))
	if err != nil {
		return err
	}
	defer admCl.Close()
	e.adm = kadm.NewClient(admCl)
	prod, err := kgo.NewClient(failoverProducerOpts(rt.seeds, topic)...)
	if err != nil {
		return err
	}
	defer prod.Close()

	e.w = &ackWatch{lastAck: make([]time.Time, c.Partitions)}
	pctx, stopPacer := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); paceFailover(pctx, c, prod, e.w) }()
	defer func() {
		e.w.close()
		stopPacer()
		wg.Wait()
		res.Errors, res.FirstError = e.w.errorsSeen()
	}()

	// A disruption waits at most this long for its partitions: far more
	// than fencing (the session timeout) and an election take.
	e.limit = 60 * time.Second
	if s := t.Cluster.SessionTimeout; s > 0 {
		e.limit += 2 * s
	} else {
		e.limit += 18 * time.Second
	}
	for k := range c.Kills {
		kill, err := e.once(ctx, k, c.Kills, syscall.SIGKILL)
		if err != nil {
			return err
		}
		res.Kills = append(res.Kills, kill)
	}
	for k := range c.Shutdowns {
		sd, err := e.once(ctx, k, c.Shutdowns, syscall.SIGTERM)
		if err != nil {
			return err
		}
		res.Shutdowns = append(res.Shutdowns, sd)
	}
	return nil
}

// disruptor signals partition leaders of a running cluster one at a time
// while the producer writes, and times what the partitions they led see.
type disruptor struct {
	c     *Config
	pr    *progress
	t     Target
	lc    *localCluster
	topic string
	rf    int16
	views []*kgo.Client // one per node, asking that node only
	adm   *kadm.Client
	w     *ackWatch
	limit time.Duration
}

// once sends sig to the leader of a partition (the k-th of n of its kind,
// pickVictim's choice) and waits until the process has exited and every
// partition it led has acknowledged a record sent after the exit; then
// restarts it, waits until it is back in every ISR and elects the
// preferred leaders again, so every disruption starts from the same spread.
func (e *disruptor) once(ctx context.Context, k, n int, sig syscall.Signal) (Kill, error) {
	what := "kill"
	if sig == syscall.SIGTERM {
		what = "shutdown"
	}
	fail := func(err error) (Kill, error) { return Kill{}, fmt.Errorf("%s %d: %w", what, k+1, err) }
	st, err := waitSteady(ctx, e.views, e.topic, e.c.Partitions, e.rf)
	if err != nil {
		return fail(err)
	}
	since := time.Now()
	if err := pollUntil(ctx, 30*time.Second, "an acknowledgement on every partition", func(context.Context) error {
		return e.w.ackedSince(since)
	}); err != nil {
		return fail(err)
	}
	victim := pickVictim(st, k)
	var led []int32
	for p, l := range st.leaders {
		if l == victim {
			led = append(led, int32(p))
		}
	}
	nd := e.lc.node(victim)
	if nd == nil {
		return fail(fmt.Errorf("leader %d is not a node of the cluster", victim))
	}
	d := Kill{Node: victim, Signal: sigName(sig), Controller: st.controller == victim, Led: len(led)}
	first := e.w.arm(led)
	at := time.Now()
	timeout := time.After(e.limit)
	exited := nd.signal(sig)
	select {
	case <-exited:
	case <-ctx.Done():
		return fail(ctx.Err())
	case <-timeout:
		return fail(fmt.Errorf("node %d still running %v after %s", victim, e.limit, sig))
	}
	d.Exited = time.Since(at)
	// A controlled shutdown may leave a partition writable before the
	// process exits, and its client only then finds the new leader: the
	// window lasts until a record sent after the exit is acknowledged.
	after := e.w.await(time.Now())
	for _, ch := range []<-chan struct{}{first, after} {
		select {
		case <-ch:
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-timeout:
		}
	}
	var left int
	d.Writable, d.MaxGap, d.Errors, left = e.w.disarm()
	if left > 0 {
		return fail(fmt.Errorf("node %d: %d of %d partitions not writable after %v", victim, left, len(led), e.limit))
	}
	restart := time.Now()
	if err := nd.start(); err != nil {
		return Kill{}, err
	}
	if _, err := waitSteady(ctx, e.views, e.topic, e.c.Partitions, e.rf); err != nil {
		return fail(fmt.Errorf("node %d back: %w", victim, err))
	}
	d.Rejoined = time.Since(restart)
	ctl := ""
	if d.Controller {
		ctl = " (the active controller)"
	}
	e.pr.note("%s %s %d/%d: node %d%s led %d partition(s), exited after %s: first ack after %s, longest gap %s, %d errors; restarted, back in every ISR after %s",
		e.t.Name, what, k+1, n, victim, ctl, len(led), fmtDur(d.Exited), fmtDur(d.Writable), fmtDur(d.MaxGap), d.Errors, fmtDur(d.Rejoined))
	// Kafka's auto.leader.rebalance.enable does this after a while;
	// here at once.
	electPreferred(ctx, e.adm, e.topic, e.c.Partitions)
	return d, nil
}

func sigName(sig syscall.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGKILL"
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
