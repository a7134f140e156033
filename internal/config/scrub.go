package config

import (
	"strconv"
	"strings"
	"time"
)

// The scrubber's properties: Sluice extensions in Kafka's log.* namespace
// (Kafka has no scrubber). It verifies every closed segment in the
// background (docs/RELIABILITY.md, 5).
const (
	ScrubIntervalKey       = "log.scrub.interval.ms"
	ScrubBytesPerSecondKey = "log.scrub.bytes.per.second"
)

// Scrub returns the scrubber's pause between passes (negative: disabled)
// and its read rate limit. Build validated both.
func (b *Broker) Scrub() (interval time.Duration, bytesPerSecond int64) {
	ms := b.scrubLong(ScrubIntervalKey)
	if ms < 0 {
		return -1, b.scrubLong(ScrubBytesPerSecondKey)
	}
	return time.Duration(ms) * time.Millisecond, b.scrubLong(ScrubBytesPerSecondKey)
}

// scrubLong is an integer scrub property's effective value.
func (b *Broker) scrubLong(name string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(b.EffectiveValue(name)), 10, 64)
	return n
}
