package config

import (
	"strconv"
	"time"
)

// Replication's follower side (internal/replica/fetcher.go): how a
// follower fetches from its leaders. Read-only, as in Kafka; the
// throttles that follow are dynamic (replication_quota.go).
var replicationDefs = append([]brokerDef{
	rawDef("num.replica.fetchers", TypeInt, "1", atLeast(1), "Fetch goroutines per source broker; a followed partition goes to one of them by hash."),
	rawDef("replica.fetch.max.bytes", TypeInt, "1048576", atLeast(0), "Bytes a follower asks for per partition in one replica fetch (a larger first batch still comes whole)."),
	rawDef("replica.fetch.response.max.bytes", TypeInt, "10485760", atLeast(0), "Bytes a follower asks for in one replica fetch response."),
	rawDef("replica.fetch.wait.max.ms", TypeInt, "500", atLeast(0), "How long the leader parks a replica fetch with nothing new."),
	rawDef("replica.fetch.backoff.ms", TypeInt, "1000", atLeast(0), "How long a follower waits after a failed replica fetch of a partition."),
	rawDef("replica.lag.time.max.ms", TypeLong, "30000", atLeast(1), "How long a follower may go without catching up to the leader's log end before the leader drops it from the ISR; the leader checks every half of it."),
}, replicationQuotaDefs...)

// ReplicaLagTimeMax is replica.lag.time.max.ms: the leader's ISR shrink
// and expand rule (internal/replica/isr.go).
func (b *Broker) ReplicaLagTimeMax() time.Duration {
	v, _ := b.valueSource("replica.lag.time.max.ms")
	n, _ := strconv.ParseInt(v, 10, 64)
	return time.Duration(n) * time.Millisecond
}

// ReplicaFetchSettings are the follower fetcher's settings.
type ReplicaFetchSettings struct {
	Fetchers         int
	MaxBytes         int32
	ResponseMaxBytes int32
	MaxWait          time.Duration
	Backoff          time.Duration
}

// ReplicaFetch returns the replica.fetch.* settings.
func (b *Broker) ReplicaFetch() ReplicaFetchSettings {
	get := func(name string) int64 {
		v, _ := b.valueSource(name)
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return ReplicaFetchSettings{
		Fetchers:         int(get("num.replica.fetchers")),
		MaxBytes:         int32(get("replica.fetch.max.bytes")),
		ResponseMaxBytes: int32(get("replica.fetch.response.max.bytes")),
		MaxWait:          time.Duration(get("replica.fetch.wait.max.ms")) * time.Millisecond,
		Backoff:          time.Duration(get("replica.fetch.backoff.ms")) * time.Millisecond,
	}
}
