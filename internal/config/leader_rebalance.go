package config

import (
	"strconv"
	"strings"
	"time"
)

// Automatic preferred-leader rebalancing (internal/controller/rebalance.go):
// Kafka's keys and defaults, read-only as in Kafka.
//
// leader.imbalance.check.interval.ms is a Sluice extension: Kafka's interval
// is whole seconds, too coarse for tests that run a check every few hundred
// milliseconds. When set it wins over the seconds key, as log.retention.ms
// wins over log.retention.hours.
const (
	AutoLeaderRebalanceKey      = "auto.leader.rebalance.enable"
	LeaderImbalanceIntervalKey  = "leader.imbalance.check.interval.seconds"
	LeaderImbalanceIntervalMs   = "leader.imbalance.check.interval.ms"
	LeaderImbalancePerBrokerKey = "leader.imbalance.per.broker.percentage"
)

var leaderRebalanceDefs = []brokerDef{
	rawDef(AutoLeaderRebalanceKey, TypeBoolean, "true", nil, "Let the active controller move leadership back to each partition's preferred replica (the first in its replica list) when a broker's share of partitions not led by their preferred replica exceeds leader.imbalance.per.broker.percentage."),
	rawDef(LeaderImbalanceIntervalKey, TypeLong, "300", atLeast(1), "How often the active controller checks the leader imbalance."),
	rawDef(LeaderImbalanceIntervalMs, TypeLong, "", atLeast(1), "Sluice extension: the imbalance check interval in milliseconds; overrides leader.imbalance.check.interval.seconds when set (for tests)."),
	rawDef(LeaderImbalancePerBrokerKey, TypeInt, "10", between(0, 100), "The percentage of a broker's preferred partitions that may be led by another broker before the controller rebalances them."),
}

// LeaderRebalance are the automatic leader rebalance settings.
type LeaderRebalance struct {
	Enabled bool
	// Interval between two imbalance checks of the active controller.
	Interval time.Duration
	// PerBrokerPercentage: a broker's imbalance ratio (its preferred
	// partitions led elsewhere / its preferred partitions) above
	// PerBrokerPercentage/100 triggers preferred elections.
	PerBrokerPercentage int
}

// LeaderRebalance returns auto.leader.rebalance.enable and the
// leader.imbalance.* settings. Build validated them.
func (b *Broker) LeaderRebalance() LeaderRebalance {
	long := func(name string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(b.EffectiveValue(name)), 10, 64)
		return n
	}
	r := LeaderRebalance{
		Enabled:             strings.EqualFold(strings.TrimSpace(b.EffectiveValue(AutoLeaderRebalanceKey)), "true"),
		Interval:            time.Duration(long(LeaderImbalanceIntervalKey)) * time.Second,
		PerBrokerPercentage: int(long(LeaderImbalancePerBrokerKey)),
	}
	if ms := long(LeaderImbalanceIntervalMs); ms > 0 {
		r.Interval = time.Duration(ms) * time.Millisecond
	}
	return r
}
