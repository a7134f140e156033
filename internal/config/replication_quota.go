package config

import (
	"strconv"
	"strings"
	"time"
)

// Replication throttles (KIP-73): a byte rate per broker for what a
// leader sends to throttled replica fetches and for what a follower
// fetches for throttled replicas, applied to the partitions the topic
// configs leader.replication.throttled.replicas and
// follower.replication.throttled.replicas name for this broker. The
// rates are dynamic (per broker or the cluster default), Kafka's
// DynamicConfig.Broker; the sensor windows need a restart.
var replicationQuotaDefs = []brokerDef{
	rawDef(LeaderThrottledRateKey, TypeLong, maxLong, atLeast(0), "Bytes/s this broker as a leader sends to replica fetches of its throttled replicas (leader.replication.throttled.replicas) that are not in the ISR."),
	rawDef(FollowerThrottledRateKey, TypeLong, maxLong, atLeast(0), "Bytes/s this broker as a follower fetches for its throttled replicas (follower.replication.throttled.replicas) while they are behind their leader."),
	rawDef("replication.quota.window.num", TypeInt, "11", atLeast(1), "Samples kept by the replication throttles' rate sensors."),
	rawDef("replication.quota.window.size.seconds", TypeInt, "1", atLeast(1), "Time span of one replication throttle sample."),
}

// The replication throttle keys, broker and topic side.
const (
	LeaderThrottledRateKey       = "leader.replication.throttled.rate"
	FollowerThrottledRateKey     = "follower.replication.throttled.rate"
	LeaderThrottledReplicasKey   = "leader.replication.throttled.replicas"
	FollowerThrottledReplicasKey = "follower.replication.throttled.replicas"
)

// ReplicationThrottledRates returns leader.replication.throttled.rate and
// follower.replication.throttled.rate after the dynamic layers.
func (b *Broker) ReplicationThrottledRates() (leader, follower int64) {
	get := func(name string) int64 {
		v, _ := b.valueSource(name)
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return 1<<63 - 1
		}
		return n
	}
	return get(LeaderThrottledRateKey), get(FollowerThrottledRateKey)
}

// ReplicationQuotaWindow returns replication.quota.window.num and
// replication.quota.window.size.seconds.
func (b *Broker) ReplicationQuotaWindow() (int, time.Duration) {
	n, _ := strconv.Atoi(b.EffectiveValue("replication.quota.window.num"))
	s, _ := strconv.Atoi(b.EffectiveValue("replication.quota.window.size.seconds"))
	return max(n, 1), time.Duration(max(s, 1)) * time.Second
}

// ThrottledPartitions parses a *.replication.throttled.replicas value
// for broker: all is true for "*", else parts lists the partitions
// paired with broker ("0:101,1:102" names partition 0 on broker 101), as
// Kafka's parseThrottledPartitions. An invalid value throttles nothing.
func ThrottledPartitions(value string, broker int32) (all bool, parts []int32) {
	value = strings.TrimSpace(value)
	if value == "*" {
		return true, nil
	}
	if throttledReplicas("", value) != nil {
		return false, nil
	}
	for _, it := range splitList(value) {
		p, b, _ := strings.Cut(it, ":")
		pn, _ := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
		bn, _ := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
		if int32(bn) == broker {
			parts = append(parts, int32(pn))
		}
	}
	return false, parts
}
