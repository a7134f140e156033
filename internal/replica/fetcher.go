package replica

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/record"
)

// The follower fetcher (Kafka's ReplicaFetcherManager and
// ReplicaFetcherThread): for each leader this broker follows partitions
// of, num.replica.fetchers goroutines (a partition goes to one of them by
// hash) each send one Fetch at a time to the leader for all their
// partitions, as a replica (ReplicaState: this broker and its epoch), with
// topic IDs, CurrentLeaderEpoch and LastFetchedEpoch. For each partition
// answered: append the leader's batches as they are, fsync, then take the
// leader's HW and log start (follower.go). The next fetch names the
// follower's durable LEO, which is what the leader counts toward the HW.
//
// Role changes come from the Manager following the image (follow and
// unfollow). Lock order: Manager.mu, then fetchers.mu, then fetcher.mu,
// then the partition's locks; the fetch goroutine holds fetcher.mu only
// while applying a response (never across the network), so unfollow
// returns once no append to the partition is running, and none starts.

// FetcherConfig configures replication's follower side.
type FetcherConfig struct {
	NodeID int32
	// BrokerEpoch is this broker's current epoch (ReplicaState.Epoch; -1
	// when unknown).
	BrokerEpoch func() int64
	// Request sends a request to a broker (the inter-broker client).
	Request func(ctx context.Context, nodeID int32, req kmsg.Request) (kmsg.Response, error)
	// MaxBytes is replica.fetch.max.bytes (per partition, default 1 MiB).
	MaxBytes int32
	// ResponseMaxBytes is replica.fetch.response.max.bytes (10 MiB).
	ResponseMaxBytes int32
	// MaxWait is replica.fetch.wait.max.ms (500 ms).
	MaxWait time.Duration
	// Backoff is replica.fetch.backoff.ms (1 s): the pause after an error.
	Backoff time.Duration
	// Fetchers is num.replica.fetchers (1).
	Fetchers int
	// Throttle is the follower side's replication throttle (KIP-73);
	// nil: none.
	Throttle *quota.Replication
	Logger   *slog.Logger
}

func (c *FetcherConfig) setDefaults() {
	if c.MaxBytes <= 0 {
		c.MaxBytes = 1 << 20
	}
	if c.ResponseMaxBytes <= 0 {
		c.ResponseMaxBytes = 10 << 20
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 500 * time.Millisecond
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.Fetchers <= 0 {
		c.Fetchers = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.BrokerEpoch == nil {
		c.BrokerEpoch = func() int64 { return -1 }
	}
}

// fetcherKey names one fetch goroutine: a leader and its index among
// num.replica.fetchers.
type fetcherKey struct {
	leader int32
	n      int
}

// fetchers is every fetch goroutine of this broker.
type fetchers struct {
	cfg FetcherConfig
	ctx context.Context
	end context.CancelFunc
	wg  sync.WaitGroup

	mu    sync.Mutex
	byKey map[fetcherKey]*fetcher
	where map[*Partition]fetcherKey

	// afterCut runs after a truncation or reset of a partition's log
	// (the Manager lowers the HW checkpoint there); nil: nothing.
	afterCut func(p *Partition)
}

func newFetchers(cfg FetcherConfig) *fetchers {
	cfg.setDefaults()
	ctx, end := context.WithCancel(context.Background())
	return &fetchers{cfg: cfg, ctx: ctx, end: end, byKey: map[fetcherKey]*fetcher{}, where: map[*Partition]fetcherKey{}}
}

// follow makes p fetched from leader at leaderEpoch (moving it from
// another leader's fetcher; a new epoch clears an earlier failure).
func (fs *fetchers) follow(p *Partition, leader, leaderEpoch int32) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.ctx.Err() != nil {
		return
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(p.Topic))
	key := fetcherKey{leader, int((h.Sum32() + uint32(p.Index)) % uint32(fs.cfg.Fetchers))}
	if old, ok := fs.where[p]; ok && old != key {
		fs.removeLocked(p, old)
	}
	f := fs.byKey[key]
	if f == nil {
		f = &fetcher{fs: fs, leader: leader, parts: map[partKey]*followState{}, poke: make(chan struct{}, 1)}
		f.ctx, f.stop = context.WithCancel(fs.ctx)
		fs.byKey[key] = f
		fs.wg.Add(1)
		go func() { defer fs.wg.Done(); f.run() }()
	}
	fs.where[p] = key
	f.add(p, leaderEpoch)
}

// unfollow stops fetching p; once it returns no append to p runs.
func (fs *fetchers) unfollow(p *Partition) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if key, ok := fs.where[p]; ok {
		fs.removeLocked(p, key)
	}
}

func (fs *fetchers) removeLocked(p *Partition, key fetcherKey) {
	delete(fs.where, p)
	f := fs.byKey[key]
	if f == nil {
		return
	}
	if f.remove(p) == 0 {
		f.stop()
		delete(fs.byKey, key)
	}
}

// close stops every fetch goroutine and waits for them.
func (fs *fetchers) close() {
	fs.mu.Lock()
	fs.end()
	fs.mu.Unlock()
	fs.wg.Wait()
}

type partKey struct {
	id  [16]byte
	idx int32
}

// followState is one followed partition on its fetcher.
type followState struct {
	p           *Partition
	leaderEpoch int32
	delayUntil  time.Time // after a retriable error: replica.fetch.backoff.ms
	lag         int64     // the leader's HW minus the log end, at the last answer
	answered    bool      // lag is known: an answer was applied since follow
	failed      error     // set: not fetched until the image gives a new epoch
}

// fetcher is one fetch goroutine.
type fetcher struct {
	fs     *fetchers
	leader int32
	ctx    context.Context
	stop   context.CancelFunc
	poke   chan struct{} // a partition was added: end an idle wait

	mu    sync.Mutex
	parts map[partKey]*followState
}

func (f *fetcher) add(p *Partition, leaderEpoch int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := partKey{p.TopicID, p.Index}
	if st := f.parts[k]; st != nil && st.p == p && st.leaderEpoch == leaderEpoch {
		return
	}
	f.parts[k] = &followState{p: p, leaderEpoch: leaderEpoch}
	// A fetch in flight is not cut short: its connection answers in
	// order, so a new fetch would wait behind the parked one anyway. The
	// partition joins the next fetch (within replica.fetch.wait.max.ms).
	select {
	case f.poke <- struct{}{}:
	default:
	}
}

func (f *fetcher) remove(p *Partition) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := partKey{p.TopicID, p.Index}
	if st := f.parts[k]; st != nil && st.p == p {
		delete(f.parts, k)
	}
	return len(f.parts)
}

func (f *fetcher) run() {
	lg := f.fs.cfg.Logger.With("leader", f.leader)
	for f.ctx.Err() == nil {
		req, sent, wait := f.build()
		if req == nil {
			f.sleep(wait)
			continue
		}
		resp, err := f.fs.cfg.Request(f.ctx, f.leader, req)
		if err != nil {
			if f.ctx.Err() != nil {
				continue
			}
			lg.Warn("replica fetch failed", "err", err)
			f.sleep(f.fs.cfg.Backoff)
			continue
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 {
			lg.Warn("replica fetch failed", "err", kerr.ErrorForCode(fr.ErrorCode))
			f.sleep(f.fs.cfg.Backoff)
			continue
		}
		f.apply(fr, sent, lg)
	}
}

// sleep waits d, or until a partition is added or the fetcher stops.
func (f *fetcher) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-f.poke:
	case <-f.ctx.Done():
	}
}

// build makes the next fetch of every partition that is due. Without
// one it returns how long until the next is.
func (f *fetcher) build() (*kmsg.FetchRequest, map[partKey]sentState, time.Duration) {
	cfg := &f.fs.cfg
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	wait := cfg.Backoff
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = cfg.NodeID
	req.ReplicaState.ID, req.ReplicaState.Epoch = cfg.NodeID, cfg.BrokerEpoch()
	req.MaxWaitMillis = int32(cfg.MaxWait.Milliseconds())
	req.MinBytes = 1
	req.MaxBytes = cfg.ResponseMaxBytes
	req.SessionEpoch = -1
	sent := map[partKey]sentState{}
	topics := map[[16]byte]int{}
	for k, st := range f.parts {
		if st.failed != nil {
			continue
		}
		if st.delayUntil.After(now) {
			wait = min(wait, st.delayUntil.Sub(now))
			continue
		}
		if d := f.throttled(st); d > 0 {
			wait = min(wait, d)
			continue
		}
		off, lastEpoch, start, err := st.p.FetchPosition()
		if err != nil {
			st.delayUntil = now.Add(cfg.Backoff)
			continue
		}
		i, ok := topics[k.id]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic, t.TopicID = st.p.Topic, k.id
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			topics[k.id] = i
		}
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = k.idx
		rp.CurrentLeaderEpoch = st.leaderEpoch
		rp.FetchOffset = off
		rp.LastFetchedEpoch = lastEpoch
		rp.LogStartOffset = start
		rp.PartitionMaxBytes = cfg.MaxBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		sent[k] = sentState{st, off}
	}
	if len(sent) == 0 {
		return nil, nil, wait
	}
	return req, sent, 0
}

// throttled is Kafka's shouldFollowerThrottle: a partition this broker
// throttles as a follower (follower.replication.throttled.replicas names
// it with this broker) is left out of the fetch while it is behind its
// leader's HW (or not answered yet) and the throttled bytes fetched are
// over follower.replication.throttled.rate. A caught-up replica is never
// held back. It returns how long until the throttle lifts (0: fetch it
// now). With every partition left out the fetcher waits that long,
// where Kafka's empty fetch waits replica.fetch.backoff.ms: the copy
// then runs at the rate rather than below it.
func (f *fetcher) throttled(st *followState) time.Duration {
	q := f.fs.cfg.Throttle
	if q == nil || !q.IsThrottled(st.p.Topic, st.p.Index) || (st.answered && st.lag <= 0) {
		return 0
	}
	return q.Delay()
}

// sentState is what one fetch asked for a partition.
type sentState struct {
	st     *followState
	offset int64
}

// apply handles every partition of a response whose fetch state is still
// the one the request was built from (an unfollow or a new epoch since
// makes the answer stale).
func (f *fetcher) apply(resp *kmsg.FetchResponse, sent map[partKey]sentState, lg *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			k := partKey{rt.TopicID, rp.Partition}
			if rt.TopicID == ([16]byte{}) {
				k = f.byName(rt.Topic, rp.Partition)
			}
			s, ok := sent[k]
			if !ok || f.parts[k] != s.st {
				continue
			}
			err := f.applyPartition(s.st, s.offset, rp)
			switch {
			case err == nil:
			case errors.Is(err, errNotFollowing):
				// The image moved the partition between this fetch and its
				// answer; the manager's follow or unfollow comes next.
				s.st.failed = err
			case errors.Is(err, ErrOffline) || errors.Is(err, log.ErrFailed):
				// The log directory heals in place (logdir.go): retry.
				lg.Warn("replica fetch: log offline", "topic", s.st.p.Topic, "partition", s.st.p.Index, "err", err)
				s.st.delayUntil = time.Now().Add(f.fs.cfg.Backoff)
			default:
				lg.Error("replication of partition stopped until its next leader epoch", "topic", s.st.p.Topic, "partition", s.st.p.Index, "err", err)
				s.st.failed = err
			}
		}
	}
}

func (f *fetcher) byName(topic string, idx int32) partKey {
	for k, st := range f.parts {
		if st.p.Topic == topic && k.idx == idx {
			return k
		}
	}
	return partKey{}
}

// applyPartition applies one partition's answer. A returned error stops
// fetching the partition until the image gives it a new leader epoch.
func (f *fetcher) applyPartition(st *followState, offset int64, rp *kmsg.FetchResponseTopicPartition) error {
	p := st.p
	cut := func(err error) error {
		if f.fs.afterCut != nil && !errors.Is(err, errNotFollowing) {
			f.fs.afterCut(p)
		}
		return err
	}
	switch rp.ErrorCode {
	case 0:
	case kerr.OffsetOutOfRange.Code:
		if offset < rp.LogStartOffset {
			// The leader deleted what we miss (retention, DeleteRecords):
			// start over at its log start.
			return cut(p.resetIn(st.leaderEpoch, rp.LogStartOffset))
		}
		// Ahead of the leader with no epoch to compare (an empty epoch
		// cache): keep only what the leader's HW covers, as Kafka's
		// follower without epochs falls back to.
		if rp.HighWatermark >= 0 && rp.HighWatermark < offset {
			return cut(p.truncateIn(st.leaderEpoch, rp.HighWatermark))
		}
		st.delayUntil = time.Now().Add(f.fs.cfg.Backoff)
		return nil
	default:
		// NOT_LEADER_OR_FOLLOWER, FENCED/UNKNOWN_LEADER_EPOCH, unknown
		// topic, storage errors: the image or the leader changes soon.
		st.delayUntil = time.Now().Add(f.fs.cfg.Backoff)
		return nil
	}
	if rp.DivergingEpoch.EndOffset >= 0 {
		// Truncate (diverge.go's rule, truncate.go's cut), then fetch
		// again from the new end: the leader checks the new last epoch,
		// until the logs agree.
		to := p.TruncationOffset(rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset)
		p.logger().Info("log diverges from the leader's", "fetch_offset", offset, "last_fetched_epoch", p.epochs.Latest(),
			"leader_epoch", rp.DivergingEpoch.Epoch, "leader_epoch_end", rp.DivergingEpoch.EndOffset, "truncate_to", to)
		if err := cut(p.truncateIn(st.leaderEpoch, to)); err != nil {
			return fmt.Errorf("truncate at the leader's epoch %d end %d: %w", rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset, err)
		}
		return nil
	}
	if b := wholeBatches(rp.RecordBatches); len(b) > 0 {
		if _, err := p.appendReplicaIn(st.leaderEpoch, b); err != nil {
			return err
		}
		// INVARIANT: the next fetch offset (this LEO) is durable before
		// the leader can see it: the fsync comes before the next fetch.
		if err := p.SyncReplica(); err != nil {
			return err
		}
		if q := f.fs.cfg.Throttle; q != nil && q.IsThrottled(p.Topic, p.Index) {
			q.Record(len(b))
		}
	}
	st.lag, st.answered = max(0, rp.HighWatermark-p.log.EndOffset()), true
	return p.FollowLeader(rp.HighWatermark, rp.LogStartOffset)
}

// maxLag is the largest lag of a followed partition behind its leader's
// HW (Kafka's ReplicaFetcherManager MaxLag), as of the last answers.
func (fs *fetchers) maxLag() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var lag int64
	for _, f := range fs.byKey {
		f.mu.Lock()
		for _, st := range f.parts {
			lag = max(lag, st.lag)
		}
		f.mu.Unlock()
	}
	return lag
}

// wholeBatches drops a trailing partial batch (a leader may cut the last
// batch at the byte limit, as Kafka does).
func wholeBatches(b []byte) []byte {
	n := 0
	for n+record.HeaderSize <= len(b) {
		h, err := record.ParseHeader(b[n:])
		if err != nil || h.Size() > len(b)-n || h.Size() < record.HeaderSize {
			break
		}
		n += h.Size()
	}
	return b[:n]
}
