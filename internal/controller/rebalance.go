package controller

import (
	"slices"
	"time"

	"github.com/sluice-io/sluice/internal/metadata"
)

// Automatic leader rebalancing (auto.leader.rebalance.enable), Kafka's
// rule (the controller's checkAndTriggerAutoLeaderRebalance): every
// leader.imbalance.check.interval.seconds the active controller counts,
// for each broker, the partitions whose preferred replica (the first of
// the replica list) it is, and how many of those another broker leads
// (or nobody). When that imbalance ratio is above
// leader.imbalance.per.broker.percentage / 100, each of those partitions
// whose preferred replica can lead now (registered, unfenced, not shutting
// down, in the ISR) gets it back as a preferred ElectLeaders would: the
// same partitionChange with electPreferred. Partitions being reassigned
// are left alone, as Kafka leaves them.
//
// Leadership moves away from a broker when it is fenced or shut down; the
// broker rejoins the ISR of its partitions once it caught up, and this
// check then hands its preferred partitions back, so leaders stay spread
// the way placement spread them.

// rebalanceState is when the check last ran. Guarded by c.mu.
type rebalanceState struct {
	last time.Time // zero: not yet on this controller
}

// maybeRebalanceLeaders runs the imbalance check when it is enabled and
// its interval has passed since the last one. Called from the lease tick,
// so the check runs at most a lease tick late.
func (c *Controller) maybeRebalanceLeaders() {
	cfg := c.cfg.LeaderRebalance()
	if !cfg.Enabled {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active() {
		// A new term starts the count again: Kafka schedules the first
		// check one interval after the controller becomes active.
		c.rebalance.last = time.Time{}
		return
	}
	now := c.clock.Now()
	if c.rebalance.last.IsZero() {
		c.rebalance.last = now
		return
	}
	if now.Sub(c.rebalance.last) < cfg.Interval {
		return
	}
	c.rebalance.last = now
	recs := imbalancedElections(c.store.Image(), cfg.PerBrokerPercentage)
	if len(recs) == 0 {
		return
	}
	if err := c.store.Append(recs...); err != nil {
		c.logger.Warn("automatic leader rebalance failed; the next check retries", "err", err)
		return
	}
	c.logger.Info("automatic leader rebalance: preferred replicas elected", "partitions", len(recs))
}

// imbalancedElections returns the PartitionChangeRecords electing the
// preferred replica of every partition of an imbalanced broker whose
// preferred replica can lead.
func imbalancedElections(im *metadata.Image, perBrokerPercentage int) []metadata.Record {
	type ref struct {
		t *metadata.TopicImage
		i int32
	}
	preferred := map[int32]int{} // broker -> partitions it is preferred for
	notLed := map[int32][]ref{}  // broker -> those another broker leads
	forEachPartition(im, func(t *metadata.TopicImage, i int32, p metadata.PartitionImage) {
		if len(p.Replicas) == 0 || len(p.AddingReplicas) > 0 || len(p.RemovingReplicas) > 0 {
			return
		}
		pr := p.Replicas[0]
		preferred[pr]++
		if p.Leader != pr {
			notLed[pr] = append(notLed[pr], ref{t, i})
		}
	})
	var recs []metadata.Record
	ids := make([]int32, 0, len(notLed))
	for id := range notLed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		parts := notLed[id]
		// ratio > pct/100, in integers.
		if len(parts)*100 <= perBrokerPercentage*preferred[id] || !acceptableLeader(im, id) {
			continue
		}
		for _, r := range parts {
			p := r.t.Partitions[r.i]
			if !slices.Contains(p.ISR, id) {
				continue
			}
			pc := newPartitionChange(im, r.t, r.i)
			pc.election = electPreferred
			if rec := pc.build(); rec != nil && rec.Leader == id {
				recs = append(recs, *rec)
			}
		}
	}
	return recs
}
