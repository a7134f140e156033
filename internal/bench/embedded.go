package bench

import (
	"io"
	"log/slog"
	"math"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

// startSluice runs a Sluice broker in this process on dir, listening on an
// ephemeral loopback port. With noSync the broker leaves flushing to the
// OS, as Kafka does by default; otherwise it keeps Sluice's default of
// fsyncing before it acknowledges.
func startSluice(dir string, noSync bool, logTo io.Writer) (seeds []string, stop func() error, err error) {
	cfg := config.Default()
	cfg.Listeners = "PLAINTEXT://127.0.0.1:0"
	cfg.LogDirs = dir
	if noSync {
		cfg.LogFlushIntervalMessages = math.MaxInt64
	}
	if logTo == nil {
		logTo = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b := broker.New(cfg, logger)
	if err := b.Start(); err != nil {
		return nil, nil, err
	}
	return []string{b.Addr()}, b.Close, nil
}
