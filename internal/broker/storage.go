package broker

// Storage health wiring: the log directory's offline state, probed and
// healed from the maintenance loop (replica.LogDir), and the background
// scrubber of closed segments (replica.Scrubber). docs/RELIABILITY.md, 4
// and 5.

import (
	"time"

	"github.com/sluice-io/sluice/internal/replica"
)

// storageHealth is the broker's part of it.
type storageHealth struct {
	logDir *replica.LogDir
	scrub  *replica.Scrubber // nil when log.scrub.interval.ms is -1
}

// openLogDir starts tracking the log directory; call once the partition
// manager exists.
func (b *Broker) openLogDir() {
	b.health.logDir = replica.OpenLogDir(b.dir, b.parts, b.logger.With("component", "logdir"))
}

// startScrubber starts the scrubber per log.scrub.*.
func (b *Broker) startScrubber() {
	interval, rate := b.cfg.Scrub()
	b.health.scrub = b.parts.StartScrubber(replica.ScrubConfig{Interval: interval, BytesPerSecond: rate},
		b.logger.With("component", "scrubber"))
}

// maintainStorage probes an offline log directory when due and heals it.
func (b *Broker) maintainStorage(now time.Time) {
	if b.health.logDir != nil {
		b.health.logDir.Maintain(now)
	}
}

// stopStorage stops the scrubber and the directory tracking; call after
// the maintenance loop ended and before the partitions close.
func (b *Broker) stopStorage() {
	b.health.scrub.Close()
	if b.health.logDir != nil {
		b.health.logDir.Close()
	}
}
