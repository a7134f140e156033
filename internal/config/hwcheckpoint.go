package config

import (
	"strconv"
	"time"
)

// Restart and leader-change safety of the high watermark and the
// coordinators (internal/replica/hwcheckpoint.go, replica.InternalLog).
// Read-only, as in Kafka.
var hwCheckpointDefs = []brokerDef{
	rawDef("replica.high.watermark.checkpoint.interval.ms", TypeLong, "5000", atLeast(1), "How often each partition's high watermark is saved to replication-offset-checkpoint in the log directory (and at clean shutdown). A restarted replica of a partition with more than one replica exposes nothing above it until its ISR confirms more."),
	rawDef("offsets.commit.timeout.ms", TypeInt, "5000", atLeast(1), "How long a coordinator's write to its internal topic (offset commits, group and share state) waits for the topic's ISR to hold it before the request fails with a retriable error."),
}

func (b *Broker) durationMs(name string) time.Duration {
	v, _ := b.valueSource(name)
	n, _ := strconv.ParseInt(v, 10, 64)
	return time.Duration(n) * time.Millisecond
}

// HWCheckpointInterval is replica.high.watermark.checkpoint.interval.ms.
func (b *Broker) HWCheckpointInterval() time.Duration {
	return b.durationMs("replica.high.watermark.checkpoint.interval.ms")
}

// OffsetsCommitTimeout is offsets.commit.timeout.ms.
func (b *Broker) OffsetsCommitTimeout() time.Duration {
	return b.durationMs("offsets.commit.timeout.ms")
}
