package replica

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metrics"
)

// ISR changes on the leader (issue #17), Kafka's way: the ISR component
// (isr.go) decides, the broker's AlterPartition client (ISRControl.Alter,
// broker.AlterISR) sends. Every follower fetch calls Fetched and may
// propose an expansion (UpdateFollower -> maybeExpand); a ticker every
// replica.lag.time.max.ms / 2 asks every led partition for members that
// fell out of sync and proposes a shrink (checkISR). A proposal goes out
// on its own goroutine: no partition lock is held across the network call.
//
// Outcomes: the controller's answer is installed at once (role.isr and the
// partition epoch, ISR.Committed), before the image shows it, as Kafka's
// leader does. FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION and
// UNKNOWN_TOPIC_ID mean this leader's view is stale: the proposal stays in
// flight, holding the HW over the maximal ISR, until the next image of the
// partition (setRole commits it). Any other failure (INELIGIBLE_REPLICA,
// no answer within the bound) calls Failed: the committed ISR stands and
// the next fetch or check may propose again. NOT_CONTROLLER and timeouts
// of one attempt are retried inside Alter.
//
// Metrics, as Kafka's leader marks its meters: a committed answer counts
// one shrink or expansion (countISRChange); every refusal, failure or
// answer for another epoch counts one failed ISR update. A proposal the
// image commits later (after a stale-view refusal) counts only as failed.
//
// INVARIANT: at most one proposal per partition is in flight (ISR's
// pending), and an answer acts only on the proposal it answers (isrGen):
// a late answer to a proposal an image already ended changes nothing.

// ISRChange is one proposed ISR for the controller (AlterPartition).
type ISRChange struct {
	TopicID        [16]byte
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []int32
	// BrokerEpochs are the members' broker epochs from their fetches
	// (Fetch ReplicaState, KIP-903); a member missing here is unknown (-1).
	BrokerEpochs map[int32]int64
}

// ISRCommit is the partition's state the controller answered.
type ISRCommit struct {
	ISR            []int32
	LeaderEpoch    int32
	PartitionEpoch int32
}

// ISRControl connects the leader's ISR decisions to the controller.
type ISRControl struct {
	// Alter sends an AlterPartition and returns the committed state; a
	// partition error is a *kerr.Error.
	Alter func(ctx context.Context, c ISRChange) (ISRCommit, error)
	// Eligible reports whether broker id may join an ISR: registered,
	// unfenced and not shutting down (the image's view).
	Eligible func(id int32) bool
	// BrokerEpoch is broker id's registered epoch in the image (-1 when
	// not registered). A follower whose last fetch named another epoch
	// (a previous incarnation, or one the image does not show yet) may
	// not join an ISR: Kafka's isBrokerEpochIsrEligible (KIP-903). Nil:
	// no check.
	BrokerEpoch func(id int32) int64
	Logger      *slog.Logger
}

// isrControl is the Manager's ISR wiring, shared by its partitions.
type isrControl struct {
	lagMax time.Duration // replica.lag.time.max.ms

	mu     sync.Mutex
	cfg    *ISRControl // nil until StartISR: decisions are recorded, nothing is sent
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	gen    atomic.Uint64
	live   atomic.Pointer[ISRControl] // cfg, for lock-free reads (eligible)
}

// eligible is ISRControl.Eligible, or true before StartISR; it takes no
// lock (the ISR component calls it under its own leaf mutex).
func (c *isrControl) eligible(id int32) bool {
	cfg := c.live.Load()
	return cfg == nil || cfg.Eligible == nil || cfg.Eligible(id)
}

// lagMax is replica.lag.time.max.ms for the partition's ISR component.
func (p *Partition) lagMax() time.Duration {
	if p.ctl == nil {
		return DefaultReplicaLagTimeMax
	}
	return p.ctl.lagMax
}

// StartISR starts sending the leader's ISR changes through c and checks
// every led partition for members out of sync every
// replica.lag.time.max.ms / 2 until StopISR.
func (m *Manager) StartISR(c ISRControl) {
	ctl := m.isrc
	ctl.mu.Lock()
	if ctl.cfg != nil {
		ctl.mu.Unlock()
		return
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	ctl.cfg = &c
	ctl.live.Store(&c)
	ctl.ctx, ctl.cancel = context.WithCancel(context.Background())
	ctx := ctl.ctx
	ctl.wg.Add(1)
	ctl.mu.Unlock()
	go func() {
		defer ctl.wg.Done()
		t := time.NewTicker(max(ctl.lagMax/2, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				for _, p := range m.All() {
					p.maybeShrink(now)
				}
			}
		}
	}()
}

// StopISR stops the periodic check and waits for the AlterPartitions in
// flight to end (their context is cancelled).
func (m *Manager) StopISR() {
	ctl := m.isrc
	ctl.mu.Lock()
	if ctl.cfg == nil {
		ctl.mu.Unlock()
		return
	}
	ctl.cfg = nil
	ctl.live.Store(nil)
	ctl.cancel()
	ctl.mu.Unlock()
	ctl.wg.Wait()
}

// maybeExpand proposes adding follower id to the ISR after its fetch, when
// the ISR component says it may join (caught up to the HW and to this
// leader's epoch start) and its broker is eligible.
func (p *Partition) maybeExpand(t *ISR, id int32, hw int64) {
	if p.ctl == nil || !t.ShouldExpand(id, hw) {
		return
	}
	p.ctl.mu.Lock()
	cfg := p.ctl.cfg
	p.ctl.mu.Unlock()
	if cfg == nil || !p.ctl.eligible(id) || !p.fetchEpochCurrent(cfg, id) {
		return
	}
	if isr, ok := t.ProposeExpand(id, hw); ok {
		p.sendISR(t, isr)
	}
}

// fetchEpochCurrent reports whether follower id's last fetch carried its
// registered broker epoch, or none (-1 is not stored: UpdateFollower).
// Kafka serves a fetch with a stale epoch like any other (no
// STALE_BROKER_EPOCH on Fetch); it only keeps the sender out of the ISR.
func (p *Partition) fetchEpochCurrent(cfg *ISRControl, id int32) bool {
	if cfg.BrokerEpoch == nil {
		return true
	}
	p.mu.Lock()
	e, ok := p.brokerEpochs[id]
	p.mu.Unlock()
	return !ok || e == cfg.BrokerEpoch(id)
}

// maybeShrink proposes dropping the ISR members that fell out of sync
// (Kafka's maybeShrinkIsr), when this broker leads the partition.
func (p *Partition) maybeShrink(now time.Time) {
	p.mu.Lock()
	t := p.isr
	p.mu.Unlock()
	if t == nil {
		return
	}
	// A follower outside the ISR stops holding the HW once it is no
	// longer caught up or eligible; no fetch may come to notice that.
	p.advance(p.ownOffset())
	out := t.OutOfSync(p.log.EndOffset(), now)
	if len(out) == 0 {
		return
	}
	if isr, ok := t.ProposeShrink(out); ok {
		p.logger().Info("shrinking ISR: followers out of sync", "out", out, "isr", isr)
		p.sendISR(t, isr)
	}
}

// sendISR sends the proposal t holds in flight on its own goroutine.
func (p *Partition) sendISR(t *ISR, isr []int32) {
	ctl := p.ctl
	p.mu.Lock()
	if p.isr != t {
		p.mu.Unlock()
		return // the leadership changed meanwhile; t is gone
	}
	gen := ctl.gen.Add(1)
	p.isrGen = gen
	c := ISRChange{TopicID: p.TopicID, Partition: p.Index, LeaderEpoch: p.role.leaderEpoch,
		PartitionEpoch: p.role.partitionEpoch, ISR: isr, BrokerEpochs: maps.Clone(p.brokerEpochs)}
	old := slices.Clone(p.role.isr) // the committed ISR the proposal changes (metrics)
	p.mu.Unlock()

	ctl.mu.Lock()
	cfg, ctx := ctl.cfg, ctl.ctx
	if cfg == nil {
		ctl.mu.Unlock()
		t.Failed()
		return
	}
	ctl.wg.Add(1)
	ctl.mu.Unlock()
	go func() {
		defer ctl.wg.Done()
		// Bounded so a partition is not stuck in flight forever while
		// the quorum has no controller; Alter retries within the bound.
		actx, cancel := context.WithTimeout(ctx, max(2*ctl.lagMax, 10*time.Second))
		res, err := cfg.Alter(actx, c)
		cancel()
		p.isrAnswered(t, gen, c, old, res, err, cfg.Logger)
	}()
}

// isrAnswered applies the controller's answer to proposal gen of t.
// old is the committed ISR when the proposal went out.
func (p *Partition) isrAnswered(t *ISR, gen uint64, c ISRChange, old []int32, res ISRCommit, err error, lg *slog.Logger) {
	lg = lg.With("topic", p.Topic, "partition", p.Index, "proposed", c.ISR)
	p.mu.Lock()
	current := p.isr == t && p.isrGen == gen
	if !current {
		p.mu.Unlock()
		return
	}
	switch {
	case err == nil && res.LeaderEpoch == p.role.leaderEpoch && res.PartitionEpoch > p.role.partitionEpoch:
		countISRChange(old, res.ISR)
		p.role.isr = sortedSet(res.ISR)
		p.role.partitionEpoch = res.PartitionEpoch
		t.Committed(nil, res.ISR, p.now())
		ws := p.waiters
		p.waiters = nil
		p.mu.Unlock()
		lg.Info("ISR changed", "isr", res.ISR, "partition_epoch", res.PartitionEpoch)
		p.wake(ws)
		p.advance(p.ownOffset())
		return
	case err == nil && res.LeaderEpoch == p.role.leaderEpoch && res.PartitionEpoch == p.role.partitionEpoch &&
		slices.Equal(sortedSet(res.ISR), sortedSet(p.role.isr)):
		// The image installed this very answer first (the controller
		// shares the process, or the answer was slow): committed.
		p.mu.Unlock()
		countISRChange(old, res.ISR)
		lg.Info("ISR changed (the image came first)", "isr", res.ISR, "partition_epoch", res.PartitionEpoch)
		return
	case err == nil:
		// An answer for another epoch: the image holds the truth.
		p.mu.Unlock()
		metrics.ISRUpdateFailed()
		lg.Warn("AlterPartition answered another epoch; waiting for the image", "leader_epoch", res.LeaderEpoch, "partition_epoch", res.PartitionEpoch)
		return
	case errors.Is(err, kerr.FencedLeaderEpoch), errors.Is(err, kerr.InvalidUpdateVersion), errors.Is(err, kerr.UnknownTopicID):
		p.mu.Unlock()
		metrics.ISRUpdateFailed()
		lg.Info("AlterPartition refused for a stale view; waiting for the next image", "err", err)
		return
	}
	p.mu.Unlock()
	metrics.ISRUpdateFailed()
	lg.Warn("AlterPartition failed; the committed ISR stands", "err", err, "isr", slices.Clone(t.Current()))
	t.Failed()
}

// countISRChange counts a committed ISR change as Kafka's leader marks
// its meters: a shrink when a member left, an expansion when one joined
// (the leader proposes one or the other, never both at once).
func countISRChange(old, committed []int32) {
	if slices.ContainsFunc(old, func(id int32) bool { return !slices.Contains(committed, id) }) {
		metrics.ISRShrunk()
	}
	if slices.ContainsFunc(committed, func(id int32) bool { return !slices.Contains(old, id) }) {
		metrics.ISRExpanded()
	}
}

// eligible is the partition's KIP-841 check for its ISR component.
func (p *Partition) eligible(id int32) bool {
	return p.ctl == nil || p.ctl.eligible(id)
}
