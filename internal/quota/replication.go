package quota

import (
	"math"
	"sync/atomic"
	"time"
)

// Replication is one side's replication throttle (Kafka's
// ReplicationQuotaManager, KIP-73): the leader's for bytes it sends to
// replica fetches, the follower's for bytes it fetches. Which partitions
// are throttled comes from the topic configs
// {leader,follower}.replication.throttled.replicas, the bound from the
// broker's {leader,follower}.replication.throttled.rate. A throttled
// partition's bytes are recorded in one sensor per side; while its rate
// is over the bound, throttled partitions that are not in sync get no
// data (the caller decides what in sync means on its side).
//
// Invariant: with nothing throttled, IsThrottled is one atomic load.
type Replication struct {
	bound     atomic.Uint64 // math.Float64bits of bytes/s
	throttled atomic.Pointer[map[string]Throttled]
	sensor    *Sensor
	now       func() time.Time
}

// Throttled is one topic's throttled partitions on this broker.
type Throttled struct {
	All   bool
	Parts map[int32]bool
}

// NewReplication returns a throttle with samples windows of window each,
// no bound and nothing throttled; now is the clock (time.Now when nil).
func NewReplication(samples int, window time.Duration, now func() time.Time) *Replication {
	if now == nil {
		now = time.Now
	}
	r := &Replication{sensor: NewSensor(samples, window), now: now}
	r.SetRate(math.MaxInt64)
	return r
}

// SetRate sets the bound in bytes/s (Long.MAX_VALUE: unbounded).
func (r *Replication) SetRate(bytesPerSec int64) {
	r.bound.Store(math.Float64bits(float64(bytesPerSec)))
}

// Rate is the bound in bytes/s.
func (r *Replication) Rate() float64 { return math.Float64frombits(r.bound.Load()) }

// SetThrottled replaces the throttled partitions by topic name (nil or
// empty: none). The map is not modified afterwards.
func (r *Replication) SetThrottled(m map[string]Throttled) {
	if len(m) == 0 {
		r.throttled.Store(nil)
		return
	}
	r.throttled.Store(&m)
}

// IsThrottled reports whether topic's partition is throttled here.
func (r *Replication) IsThrottled(topic string, partition int32) bool {
	m := r.throttled.Load()
	if m == nil {
		return false
	}
	t, ok := (*m)[topic]
	return ok && (t.All || t.Parts[partition])
}

// Exceeded reports whether the recorded rate is over the bound (Kafka's
// isQuotaExceeded: checked before a read, without recording).
func (r *Replication) Exceeded() bool { return r.Delay() > 0 }

// Delay is how long until the rate is back within the bound if nothing
// more is recorded (0 when it is within): a throttled fetch waits this
// long, not a whole backoff, before it asks again.
func (r *Replication) Delay() time.Duration {
	return r.sensor.Throttle(r.Rate(), r.now())
}

// Record adds the bytes sent or fetched for throttled partitions.
func (r *Replication) Record(bytes int) {
	if bytes > 0 {
		r.sensor.Record(float64(bytes), r.Rate(), r.now())
	}
}

// ByteRate is the measured rate of throttled bytes per second (Kafka's
// LeaderReplication / FollowerReplication byte-rate metric).
func (r *Replication) ByteRate() float64 { return r.sensor.Rate(r.now()) }
